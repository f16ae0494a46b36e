// The row kernels of attention with saved probabilities (ScaledDotProductAttention.Cuda.cs; the products are
// cuBLAS GEMMs), F32 and F64: the softmax of each logit row in place, and its backward. One warp per row of a
// contiguous (rows, n) matrix; each lane walks the row with a stride of 32 in a fixed order and the warp combines
// its lanes in a fixed butterfly, so the same input gives the same bits. Sums are accumulated in double.

__device__ __forceinline__ float attention_exp(float x) { return expf(x); }
__device__ __forceinline__ double attention_exp(double x) { return exp(x); }

// The larger of a and b, NaN when either is: the CPU's row maximum (TensorPrimitives.Max) propagates NaN.
template <typename T>
__device__ __forceinline__ T attention_max(T a, T b) { return (b > a || b != b) ? b : a; }

template <typename T>
__device__ __forceinline__ T attention_warp_max(T v)
{
    for (int offset = 16; offset > 0; offset >>= 1) v = attention_max(v, __shfl_xor_sync(FULL_WARP, v, offset));
    return v;
}

// p[r, :] = softmax(p[r, :]) as the CPU computes it: e = exp(x - max), then e / sum(e). A row of -inf or with a
// NaN gives NaN, as there.
template <typename T>
__device__ void attention_softmax_rows(T* p, i64 rows, int n)
{
    int lane = threadIdx.x % 32;
    WARP_ROW_LOOP(r, rows)
    {
        T* row = p + r * n;
        T m = row[0];
        for (int i = lane; i < n; i += 32) m = attention_max(m, row[i]);
        m = attention_warp_max(m);
        double sum = 0;
        for (int i = lane; i < n; i += 32)
        {
            T e = attention_exp(row[i] - m);
            row[i] = e;
            sum += (double)e;
        }
        T total = (T)warp_sum(sum);
        for (int i = lane; i < n; i += 32) row[i] = row[i] / total;
    }
}

// The softmax backward in place on the probability gradients: d[r, :] = p ∘ (d - <d, p>), the CPU's formula.
template <typename T>
__device__ void attention_softmax_backward_rows(const T* p, T* d, i64 rows, int n)
{
    int lane = threadIdx.x % 32;
    WARP_ROW_LOOP(r, rows)
    {
        const T* pr = p + r * n;
        T* dr = d + r * n;
        double dot = 0;
        for (int i = lane; i < n; i += 32) dot += (double)dr[i] * (double)pr[i];
        T total = (T)warp_sum(dot);
        for (int i = lane; i < n; i += 32) dr[i] = (dr[i] - total) * pr[i];
    }
}

#define DEFINE_ATTENTION_ROWS(T, S)                                                                       \
extern "C" __global__ void attention_softmax_rows_##S(T* p, i64 rows, int n)                             \
{ attention_softmax_rows<T>(p, rows, n); }                                                               \
extern "C" __global__ void attention_softmax_backward_rows_##S(const T* p, T* d, i64 rows, int n)        \
{ attention_softmax_backward_rows<T>(p, d, rows, n); }

DEFINE_ATTENTION_ROWS(float, f32)
DEFINE_ATTENTION_ROWS(double, f64)
