// The kernels around cuFFT for rfft2 and irfft2 (Rfft.Cuda.cs). Half spectra are (planes, H, K, 2) with
// K = W/2 + 1, real and imaginary parts interleaved; the edge columns are k = 0 and, for even W, k = W/2,
// whose C2R weight c_k is 1 (2 for the interior columns). Scales are applied in double and rounded once.

__device__ __forceinline__ bool rfft_edge(int k, int w) { return k == 0 || (w % 2 == 0 && k == w / 2); }

// Y[.., k] *= α · (c_k when weighted): the norm's scale, and the column weights of irfft2's adjoint.
template <typename T>
__device__ void rfft_scale_columns(T* spectrum, i64 pairs, int k, int w, double alpha, int weighted)
{
    GRID_STRIDE_LOOP(i, pairs)
    {
        double s = weighted && !rfft_edge((int)(i % k), w) ? 2.0 * alpha : alpha;
        spectrum[2 * i] = (T)((double)spectrum[2 * i] * s);
        spectrum[2 * i + 1] = (T)((double)spectrum[2 * i + 1] * s);
    }
}

// The input of a C2R: the edge columns symmetrised along H, B[u] = (Y[u] + conj(Y[(H - u) mod H])) / 2, so that
// the spectrum is Hermitian and the real part of the sum is unchanged; the interior columns copied, or halved
// (weight 1 instead of the C2R's 2, for rfft2's adjoint).
template <typename T>
__device__ void rfft_hermitian_columns(const T* spectrum, T* out, i64 planes, int h, int k, int w, int halve)
{
    GRID_STRIDE_LOOP(i, planes * h * k)
    {
        int c = (int)(i % k);
        i64 row = i / k;
        double re = (double)spectrum[2 * i], im = (double)spectrum[2 * i + 1];
        if (rfft_edge(c, w))
        {
            int u = (int)(row % h);
            i64 mirror = (row - u + (h - u) % h) * k + c;
            re = 0.5 * (re + (double)spectrum[2 * mirror]);
            im = 0.5 * (im - (double)spectrum[2 * mirror + 1]);
        }
        else if (halve)
        {
            re *= 0.5;
            im *= 0.5;
        }
        out[2 * i] = (T)re;
        out[2 * i + 1] = (T)im;
    }
}

// One column (W = 1): the real values as complex numbers, for a complex DFT along H.
template <typename T>
__device__ void rfft_complexify(const T* x, T* z, i64 n)
{
    GRID_STRIDE_LOOP(i, n) { z[2 * i] = x[i]; z[2 * i + 1] = (T)0; }
}

// One column (W = 1): y = α · Re z.
template <typename T>
__device__ void rfft_real_part(const T* z, T* y, i64 n, double alpha)
{
    GRID_STRIDE_LOOP(i, n) y[i] = (T)((double)z[2 * i] * alpha);
}

// y *= α after a C2R.
template <typename T>
__device__ void rfft_scale(T* y, i64 n, double alpha)
{
    GRID_STRIDE_LOOP(i, n) y[i] = (T)((double)y[i] * alpha);
}

#define DEFINE_RFFT(T, S)                                                                                       \
extern "C" __global__ void rfft_scale_columns_##S(T* spectrum, i64 pairs, int k, int w, double alpha,       \
                                                  int weighted)                                              \
{ rfft_scale_columns<T>(spectrum, pairs, k, w, alpha, weighted); }                                           \
extern "C" __global__ void rfft_hermitian_columns_##S(const T* spectrum, T* out, i64 planes, int h, int k,   \
                                                      int w, int halve)                                      \
{ rfft_hermitian_columns<T>(spectrum, out, planes, h, k, w, halve); }                                        \
extern "C" __global__ void rfft_complexify_##S(const T* x, T* z, i64 n) { rfft_complexify<T>(x, z, n); }     \
extern "C" __global__ void rfft_real_part_##S(const T* z, T* y, i64 n, double alpha)                        \
{ rfft_real_part<T>(z, y, n, alpha); }                                                                       \
extern "C" __global__ void rfft_scale_##S(T* y, i64 n, double alpha) { rfft_scale<T>(y, n, alpha); }

DEFINE_RFFT(float, f32)
DEFINE_RFFT(double, f64)
