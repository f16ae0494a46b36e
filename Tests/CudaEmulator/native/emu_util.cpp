// Small self-contained helpers for the NVRTC emulation: SHA-256 (the module cache's keys, FIPS 180-4) and
// base64 (the text image that stands in for PTX).
#include "emu_internal.h"

namespace emu {

const char kImageMagic[] = "//CUDA-EMU-IMAGE v1\n";

namespace {

const std::uint32_t kRound[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01,
    0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc,
    0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
    0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08,
    0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
    0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

inline std::uint32_t rotr(std::uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

void compress(std::uint32_t h[8], const unsigned char* block)
{
    std::uint32_t w[64];
    for (int i = 0; i < 16; ++i)
        w[i] = (std::uint32_t)block[4 * i] << 24 | (std::uint32_t)block[4 * i + 1] << 16 | (std::uint32_t)block[4 * i + 2] << 8 | block[4 * i + 3];
    for (int i = 16; i < 64; ++i)
    {
        std::uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
        std::uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    std::uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
    for (int i = 0; i < 64; ++i)
    {
        std::uint32_t t1 = k + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + kRound[i] + w[i];
        std::uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        k = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += k;
}

const char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

} // namespace

std::string sha256_hex(const std::string& data)
{
    std::uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    std::size_t n = data.size(), full = n / 64 * 64;
    for (std::size_t i = 0; i < full; i += 64) compress(h, (const unsigned char*)data.data() + i);
    unsigned char tail[128] = {};
    std::size_t rest = n - full;
    for (std::size_t i = 0; i < rest; ++i) tail[i] = (unsigned char)data[full + i];
    tail[rest] = 0x80;
    std::size_t blocks = rest + 9 > 64 ? 2 : 1;
    std::uint64_t bits = (std::uint64_t)n * 8;
    for (int i = 0; i < 8; ++i) tail[blocks * 64 - 1 - i] = (unsigned char)(bits >> (8 * i));
    for (std::size_t b = 0; b < blocks; ++b) compress(h, tail + 64 * b);
    static const char hex[] = "0123456789abcdef";
    std::string out;
    for (std::uint32_t v : h)
        for (int s = 28; s >= 0; s -= 4) out += hex[(v >> s) & 15];
    return out;
}

std::string base64_encode(const std::string& bytes)
{
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 3 <= bytes.size(); i += 3)
    {
        std::uint32_t v = (unsigned char)bytes[i] << 16 | (unsigned char)bytes[i + 1] << 8 | (unsigned char)bytes[i + 2];
        out += kBase64[v >> 18]; out += kBase64[(v >> 12) & 63]; out += kBase64[(v >> 6) & 63]; out += kBase64[v & 63];
    }
    if (i < bytes.size())
    {
        std::uint32_t v = (unsigned char)bytes[i] << 16 | (i + 1 < bytes.size() ? (unsigned char)bytes[i + 1] << 8 : 0);
        out += kBase64[v >> 18]; out += kBase64[(v >> 12) & 63];
        out += i + 1 < bytes.size() ? kBase64[(v >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

bool base64_decode(const char* text, std::size_t length, std::string* bytes)
{
    signed char value[256];
    for (auto& v : value) v = -1;
    for (int i = 0; i < 64; ++i) value[(unsigned char)kBase64[i]] = (signed char)i;
    if (length % 4 != 0) return false;
    bytes->clear();
    bytes->reserve(length / 4 * 3);
    for (std::size_t i = 0; i < length; i += 4)
    {
        int pad = (text[i + 3] == '=') + (text[i + 2] == '=');
        if (pad && i + 4 != length) return false;
        int a = value[(unsigned char)text[i]], b = value[(unsigned char)text[i + 1]];
        int c = text[i + 2] == '=' ? 0 : value[(unsigned char)text[i + 2]];
        int d = text[i + 3] == '=' ? 0 : value[(unsigned char)text[i + 3]];
        if (a < 0 || b < 0 || c < 0 || d < 0) return false;
        std::uint32_t v = (std::uint32_t)a << 18 | (std::uint32_t)b << 12 | (std::uint32_t)c << 6 | (std::uint32_t)d;
        *bytes += (char)(v >> 16);
        if (pad < 2) *bytes += (char)(v >> 8);
        if (pad < 1) *bytes += (char)v;
    }
    return true;
}

} // namespace emu
