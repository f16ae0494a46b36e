// The emulator's options (CUDA_EMU_* environment variables, read once; cuEmuSetOption changes them at run
// time), its counters, and the cuEmu* exports.
#include "emu_internal.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

#define CUDA_EMU_VERSION 1

namespace emu {
namespace {

struct OptionValues
{
    std::atomic<std::uint64_t> memory{4ull << 30};
    std::atomic<int> cc{90}, devices{1}, driver{13000}, quarantine{1024};
    std::atomic<std::size_t> stack{64 << 10};
    std::atomic<bool> strict{true}, verbose{false}, sticky{false}, debug{false};
    std::atomic<int> schedule{(int)Schedule::Forward};
    std::atomic<std::uint64_t> seed{0};
    std::atomic<double> timeout{120.0};
    std::mutex strings;
    std::string opt = "-O1", cxx = "g++", cache;   // cache: "" = the default folder, "off" = none
};

OptionValues& values()
{
    static OptionValues v;
    return v;
}

// "4G", "64MiB", "512k", "1048576".
bool parse_bytes(const char* text, std::uint64_t* out)
{
    char* end = nullptr;
    double v = std::strtod(text, &end);
    if (end == text || v <= 0) return false;
    std::string unit(end);
    while (!unit.empty() && unit.back() == ' ') unit.pop_back();
    double scale = 1;
    if (unit.empty() || unit == "B") scale = 1;
    else if (unit == "K" || unit == "k" || unit == "KiB" || unit == "KB") scale = 1024.0;
    else if (unit == "M" || unit == "m" || unit == "MiB" || unit == "MB") scale = 1024.0 * 1024;
    else if (unit == "G" || unit == "g" || unit == "GiB" || unit == "GB") scale = 1024.0 * 1024 * 1024;
    else return false;
    *out = (std::uint64_t)(v * scale);
    return *out > 0;
}

bool parse_int(const char* text, long lo, long hi, long* out)
{
    char* end = nullptr;
    long v = std::strtol(text, &end, 10);
    if (end == text || *end != '\0' || v < lo || v > hi) return false;
    *out = v;
    return true;
}

bool parse_bool(const char* text, bool* out)
{
    if (!std::strcmp(text, "1") || !std::strcmp(text, "true") || !std::strcmp(text, "on")) { *out = true; return true; }
    if (!std::strcmp(text, "0") || !std::strcmp(text, "false") || !std::strcmp(text, "off")) { *out = false; return true; }
    return false;
}

// Each option: its variable's name, and how to apply a value (null: back to the default).
struct OptionDef { const char* name; bool (*apply)(const char* value); };

bool set_bool(std::atomic<bool>& target, const char* value, bool fallback)
{
    bool b = fallback;
    if (value && !parse_bool(value, &b)) return false;
    target = b;
    return true;
}

const OptionDef kOptions[] = {
    {"CUDA_EMU_MEMORY", [](const char* v) { std::uint64_t b = 4ull << 30; if (v && !parse_bytes(v, &b)) return false; values().memory = b; return true; }},
    {"CUDA_EMU_CC", [](const char* v) {
        long cc = 90;
        if (v)
        {
            std::string s(v);
            if (s.size() == 3 && s[1] == '.') s.erase(1, 1);
            if (!parse_int(s.c_str(), 50, 129, &cc)) return false;
        }
        values().cc = (int)cc; return true; }},
    {"CUDA_EMU_DEVICES", [](const char* v) { long n = 1; if (v && !parse_int(v, 0, 16, &n)) return false; values().devices = (int)n; return true; }},
    {"CUDA_EMU_STACK", [](const char* v) {
        std::uint64_t b = 64 << 10; if (v && (!parse_bytes(v, &b) || b < (16 << 10) || b > (64u << 20))) return false;
        values().stack = (std::size_t)((b + 4095) & ~4095ull); return true; }},
    {"CUDA_EMU_OPT", [](const char* v) {
        std::string o = v ? v : "-O1";
        if (o != "-O0" && o != "-O1" && o != "-O2" && o != "-O3" && o != "-Os" && o != "-Og") return false;
        std::lock_guard<std::mutex> lock(values().strings); values().opt = o; return true; }},
    {"CUDA_EMU_STRICT", [](const char* v) { return set_bool(values().strict, v, true); }},
    {"CUDA_EMU_VERBOSE", [](const char* v) { return set_bool(values().verbose, v, false); }},
    {"CUDA_EMU_STICKY", [](const char* v) { return set_bool(values().sticky, v, false); }},
    {"CUDA_EMU_DEBUG_INFO", [](const char* v) { return set_bool(values().debug, v, false); }},
    {"CUDA_EMU_SCHEDULE", [](const char* v) {
        std::string s = v ? v : "forward";
        if (s == "forward") { values().schedule = (int)Schedule::Forward; return true; }
        if (s == "reverse") { values().schedule = (int)Schedule::Reverse; return true; }
        if (s.rfind("random:", 0) == 0)
        {
            char* end = nullptr;
            unsigned long long seed = std::strtoull(s.c_str() + 7, &end, 10);
            if (end == s.c_str() + 7 || *end != '\0') return false;
            values().seed = seed; values().schedule = (int)Schedule::Random; return true;
        }
        return false; }},
    {"CUDA_EMU_TIMEOUT", [](const char* v) {
        double t = 120.0;
        if (v) { char* end = nullptr; t = std::strtod(v, &end); if (end == v || *end != '\0' || t < 0) return false; }
        values().timeout = t; return true; }},
    {"CUDA_EMU_DRIVER", [](const char* v) { long d = 13000; if (v && !parse_int(v, 11000, 99999, &d)) return false; values().driver = (int)d; return true; }},
    {"CUDA_EMU_QUARANTINE", [](const char* v) { long q = 1024; if (v && !parse_int(v, 0, 1 << 20, &q)) return false; values().quarantine = (int)q; return true; }},
    {"CUDA_EMU_CACHE", [](const char* v) { std::lock_guard<std::mutex> lock(values().strings); values().cache = v ? v : ""; return true; }},
    {"CUDA_EMU_CXX", [](const char* v) {
        if (v && !*v) return false;
        std::lock_guard<std::mutex> lock(values().strings); values().cxx = v ? v : "g++"; return true; }},
};

const OptionDef* find_option(const char* name)
{
    for (const auto& o : kOptions)
        if (!std::strcmp(o.name, name)) return &o;
    return nullptr;
}

void read_environment()
{
    static std::once_flag once;
    std::call_once(once, [] {
        for (const auto& o : kOptions)
        {
            const char* v = std::getenv(o.name);
            if (v && *v && !o.apply(v)) std::fprintf(stderr, "[cuda-emu] ignoring %s=%s: not a valid value\n", o.name, v);
        }
    });
}

OptionValues& options()
{
    read_environment();
    return values();
}

} // namespace

std::uint64_t memory_capacity() { return options().memory; }
int compute_capability() { return options().cc; }
int device_count() { return options().devices; }
std::size_t fiber_stack_bytes() { return options().stack; }
bool strict() { return options().strict; }
bool verbose() { return options().verbose; }
bool sticky_errors() { return options().sticky; }
bool debug_info() { return options().debug; }
double launch_timeout_seconds() { return options().timeout; }
int driver_version() { return options().driver; }
int quarantine_limit() { return options().quarantine; }

Schedule schedule(std::uint64_t* seed)
{
    auto& o = options();
    if (seed) *seed = o.seed;
    return (Schedule)o.schedule.load();
}

std::string cxx_optimization() { auto& o = options(); std::lock_guard<std::mutex> lock(o.strings); return o.opt; }
std::string cxx_program() { auto& o = options(); std::lock_guard<std::mutex> lock(o.strings); return o.cxx; }

std::string module_cache_dir()
{
    auto& o = options();
    std::string dir;
    {
        std::lock_guard<std::mutex> lock(o.strings);
        dir = o.cache;
    }
    if (dir == "off") return "";
    if (!dir.empty()) return dir;
    if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) return std::string(xdg) + "/cuda-emu";
    if (const char* home = std::getenv("HOME"); home && *home) return std::string(home) + "/.cache/cuda-emu";
    return "";
}

Counters& counters()
{
    static Counters c;
    return c;
}

void count_library_call() { counters().library_calls++; }

} // namespace emu

using namespace emu;

/// The emulator's interface version; its presence is how the engine tells the emulator from a real driver.
EMU_EXPORT CUresult cuEmuGetVersion(int* version)
{
    if (version == nullptr) return driver_fail(kInvalidValue, "cuEmuGetVersion", "version is null");
    *version = CUDA_EMU_VERSION;
    return kSuccess;
}

// The counters, in this order, as 64-bit values; `bytes` says how many the caller's buffer holds.
struct cuEmuStats
{
    unsigned long long launches, blocks, threads, switches, fibers, barriers, warp_rounds;
    unsigned long long compiles, compile_cache_hits, modules_loaded, library_calls, errors;
};

EMU_EXPORT CUresult cuEmuGetStats(void* stats, std::size_t bytes)
{
    if (stats == nullptr) return driver_fail(kInvalidValue, "cuEmuGetStats", "stats is null");
    const Counters& c = counters();
    cuEmuStats s = {c.launches, c.blocks, c.threads, c.switches, c.fibers, c.barriers, c.warp_rounds,
                    c.compiles, c.compile_cache_hits, c.modules_loaded, c.library_calls, c.errors};
    std::memcpy(stats, &s, bytes < sizeof s ? bytes : sizeof s);
    return kSuccess;
}

// Sets an option by its variable's name (CUDA_EMU_MEMORY, CUDA_EMU_SCHEDULE, ...); a null value restores the
// default. Process-wide: tests that change one run alone.
EMU_EXPORT CUresult cuEmuSetOption(const char* name, const char* value)
{
    if (name == nullptr) return driver_fail(kInvalidValue, "cuEmuSetOption", "name is null");
    read_environment();
    const OptionDef* o = find_option(name);
    if (o == nullptr) return driver_fail(kInvalidValue, "cuEmuSetOption", format("unknown option '%s'", name));
    if (!o->apply(value)) return driver_fail(kInvalidValue, "cuEmuSetOption", format("'%s' is not a valid value for %s", value, name));
    return kSuccess;
}
