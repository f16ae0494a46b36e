// The FFT path of the orthonormal 2-D DCT (Dct.Cuda.cs), one axis per pass: the rows of length n of a
// (planes, r, n) block go through Makhoul's reordering, a real FFT of length n (cuFFT, between the kernels
// below) and a twiddle, and the result is written transposed as (planes, n, r). The twiddles are the CPU's
// (DctBases.Twiddles, in double): cos(πk/2n), sin(πk/2n) and α_k, three rows of n. The arithmetic around the
// FFT is done in double, as on the CPU (DctFft.Cpu.cs); the FFT runs in the tensor's dtype.

#define DCT_TILE 32

// DCT-II, step 1: v = [x0, x2, x4, ..., x5, x3, x1] (evens up, odds back down) in every row.
template <typename T>
__device__ void dct_reorder(const T* x, T* v, i64 rows, int n)
{
    int half = (n + 1) / 2;
    GRID_STRIDE_LOOP(e, rows * n)
    {
        i64 row = e / n;
        int j = (int)(e - row * n);
        int source = j < half ? 2 * j : 2 * (n - 1 - j) + 1;
        v[e] = x[row * n + source];
    }
}

// DCT-II, step 3: y[p, k, r] = α_k · Re(e^{-iπk/2n} · V[p·R + r, k]) = α_k (Re V cos + Im V sin), with
// V[k] = conj(V[n - k]) above the half spectrum that the real FFT keeps. A block takes a 32×32 tile of
// (k, r): it reads along k (the spectrum's rows) and writes along r (the output's rows) through shared memory.
template <typename T>
__device__ void dct_twiddle_transpose(const T* spectrum, const double* twiddles, T* y, i64 planes, int r, int n)
{
    __shared__ double tile[DCT_TILE][DCT_TILE + 1];
    const double* cosk = twiddles;
    const double* sink = twiddles + n;
    const double* alpha = twiddles + 2 * n;
    int half = n / 2 + 1;
    int lane = threadIdx.x % DCT_TILE, step = blockDim.x / DCT_TILE;
    i64 tilesK = (n + DCT_TILE - 1) / DCT_TILE, tilesR = (r + DCT_TILE - 1) / DCT_TILE;
    for (i64 t = blockIdx.x; t < planes * tilesK * tilesR; t += gridDim.x)
    {
        i64 p = t / (tilesK * tilesR);
        int k0 = (int)(t / tilesR % tilesK) * DCT_TILE, r0 = (int)(t % tilesR) * DCT_TILE;
        for (int i = threadIdx.x / DCT_TILE; i < DCT_TILE; i += step)
        {
            int row = r0 + i, k = k0 + lane;
            if (row >= r || k >= n) continue;
            bool mirrored = k >= half;
            const T* s = spectrum + ((p * r + row) * half + (mirrored ? n - k : k)) * 2;
            double re = (double)s[0], im = mirrored ? -(double)s[1] : (double)s[1];
            tile[i][lane] = alpha[k] * (re * cosk[k] + im * sink[k]);
        }
        __syncthreads();
        for (int i = threadIdx.x / DCT_TILE; i < DCT_TILE; i += step)
        {
            int k = k0 + i, row = r0 + lane;
            if (k < n && row < r) y[(p * n + k) * r + row] = (T)tile[lane][i];
        }
        __syncthreads();
    }
}

// DCT-III (the inverse), step 1: the half spectrum W[k] = e^{iπk/2n} (Z[k] - i Z[n-k]), k <= n/2, with
// Z = X / α and Z[n] = 0; it is Hermitian by construction, so a C2R of it is exact.
template <typename T>
__device__ void idct_prepare(const T* x, const double* twiddles, T* spectrum, i64 rows, int n)
{
    const double* cosk = twiddles;
    const double* sink = twiddles + n;
    const double* alpha = twiddles + 2 * n;
    int half = n / 2 + 1;
    GRID_STRIDE_LOOP(e, rows * half)
    {
        i64 row = e / half;
        int k = (int)(e - row * half);
        const T* xr = x + row * n;
        double zk = (double)xr[k] / alpha[k];
        double zr = k == 0 ? 0.0 : (double)xr[n - k] / alpha[n - k];
        spectrum[2 * e] = (T)(cosk[k] * zk + sink[k] * zr);
        spectrum[2 * e + 1] = (T)(sink[k] * zk - cosk[k] * zr);
    }
}

// DCT-III, step 3: v = C2R(W) / n, then the evens and odds back in place, written transposed:
// y[p, i, r] = v[p·R + r, j] / n with i = 2j for j < ceil(n/2) and i = 2(n-1-j) + 1 above. A block takes a
// 32×32 tile of (j, r): it reads along j and writes along r.
template <typename T>
__device__ void idct_unorder_transpose(const T* v, T* y, i64 planes, int r, int n)
{
    __shared__ double tile[DCT_TILE][DCT_TILE + 1];
    int half = (n + 1) / 2;
    int lane = threadIdx.x % DCT_TILE, step = blockDim.x / DCT_TILE;
    i64 tilesJ = (n + DCT_TILE - 1) / DCT_TILE, tilesR = (r + DCT_TILE - 1) / DCT_TILE;
    for (i64 t = blockIdx.x; t < planes * tilesJ * tilesR; t += gridDim.x)
    {
        i64 p = t / (tilesJ * tilesR);
        int j0 = (int)(t / tilesR % tilesJ) * DCT_TILE, r0 = (int)(t % tilesR) * DCT_TILE;
        for (int i = threadIdx.x / DCT_TILE; i < DCT_TILE; i += step)
        {
            int row = r0 + i, j = j0 + lane;
            if (row < r && j < n) tile[i][lane] = (double)v[(p * r + row) * n + j] / n;
        }
        __syncthreads();
        for (int i = threadIdx.x / DCT_TILE; i < DCT_TILE; i += step)
        {
            int j = j0 + i, row = r0 + lane;
            if (j >= n || row >= r) continue;
            int position = j < half ? 2 * j : 2 * (n - 1 - j) + 1;
            y[(p * n + position) * r + row] = (T)tile[lane][i];
        }
        __syncthreads();
    }
}

#define DEFINE_DCT(T, S)                                                                                         \
extern "C" __global__ void dct_reorder_##S(const T* x, T* v, i64 rows, int n) { dct_reorder<T>(x, v, rows, n); } \
extern "C" __global__ void dct_twiddle_transpose_##S(const T* spectrum, const double* twiddles, T* y,             \
                                                     i64 planes, int r, int n)                                  \
{ dct_twiddle_transpose<T>(spectrum, twiddles, y, planes, r, n); }                                              \
extern "C" __global__ void idct_prepare_##S(const T* x, const double* twiddles, T* spectrum, i64 rows, int n)    \
{ idct_prepare<T>(x, twiddles, spectrum, rows, n); }                                                           \
extern "C" __global__ void idct_unorder_transpose_##S(const T* v, T* y, i64 planes, int r, int n)               \
{ idct_unorder_transpose<T>(v, y, planes, r, n); }

DEFINE_DCT(float, f32)
DEFINE_DCT(double, f64)
