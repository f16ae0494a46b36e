// Reductions over any set of axes: sum, max, min (NaN propagates), argmax and argmin (the first extreme
// index wins; a NaN counts as the extreme, as on the CPU). The host describes the input as two strided
// views, the kept dimensions (one output each) and the reduced ones. Work item (o, c) is output o's
// chunk c of the reduced elements: a block of REDUCE_THREADS threads walks the chunk, each thread in a
// fixed order, and combines its threads in a fixed tree, so the same shapes always give the same bits
// (no atomics). With several chunks the block writes a partial (in double), and a second launch combines
// the partials of each output the same way. F32 accumulates in double.

#define REDUCE_THREADS 256

__device__ __forceinline__ double neg_inf() { return __longlong_as_double(0xfff0000000000000LL); }
__device__ __forceinline__ double pos_inf() { return __longlong_as_double(0x7ff0000000000000LL); }

struct SumReduce
{
    static __device__ __forceinline__ double init() { return 0.0; }
    static __device__ __forceinline__ double combine(double a, double b) { return a + b; }
};
struct MaxReduce
{
    static __device__ __forceinline__ double init() { return neg_inf(); }
    static __device__ __forceinline__ double combine(double a, double b) { return a != a ? a : b != b ? b : (b > a ? b : a); }
};
struct MinReduce
{
    static __device__ __forceinline__ double init() { return pos_inf(); }
    static __device__ __forceinline__ double combine(double a, double b) { return a != a ? a : b != b ? b : (b < a ? b : a); }
};

// One block: thread partials into shared memory, then a fixed halving tree.
template <typename Op>
__device__ __forceinline__ double block_reduce(double value, double* shared)
{
    shared[threadIdx.x] = value;
    __syncthreads();
    for (unsigned width = REDUCE_THREADS / 2; width > 0; width >>= 1)
    {
        if (threadIdx.x < width) shared[threadIdx.x] = Op::combine(shared[threadIdx.x], shared[threadIdx.x + width]);
        __syncthreads();
    }
    double result = shared[0];
    __syncthreads();   // the next work item of this block overwrites shared[]
    return result;
}

// Work items (output, chunk) over `items` = outputs * splits; out is y (splits == 1) or the partials.
template <typename T, typename Op, typename Out>
__device__ void reduce_items(const T* x, const Strided& kept, const Strided& red, Out* out, i64 items, i64 splits, i64 count)
{
    __shared__ double shared[REDUCE_THREADS];
    i64 chunk = (count + splits - 1) / splits;
    for (i64 item = blockIdx.x; item < items; item += gridDim.x)
    {
        i64 o = item / splits, c = item % splits;
        i64 begin = c * chunk, end = begin + chunk < count ? begin + chunk : count;
        const T* base = x + strided_offset(kept, o);
        double acc = Op::init();
        for (i64 j = begin + threadIdx.x; j < end; j += REDUCE_THREADS) acc = Op::combine(acc, (double)base[strided_offset(red, j)]);
        double total = block_reduce<Op>(acc, shared);
        if (threadIdx.x == 0) out[item] = (Out)total;
    }
}

#define DEFINE_REDUCE(NAME, OP, T, S)                                                                    \
extern "C" __global__ void __launch_bounds__(REDUCE_THREADS)                                             \
reduce_##NAME##_##S(const T* x, Strided kept, Strided red, T* y, i64 outputs, i64 count)                \
{ reduce_items<T, OP, T>(x, kept, red, y, outputs, 1, count); }                                         \
extern "C" __global__ void __launch_bounds__(REDUCE_THREADS)                                             \
reduce_##NAME##_partials_##S(const T* x, Strided kept, Strided red, double* partials, i64 items, i64 splits, i64 count) \
{ reduce_items<T, OP, double>(x, kept, red, partials, items, splits, count); }                          \
extern "C" __global__ void __launch_bounds__(REDUCE_THREADS)                                             \
reduce_##NAME##_final_##S(const double* partials, Strided kept, Strided red, T* y, i64 outputs, i64 splits) \
{ reduce_items<double, OP, T>(partials, kept, red, y, outputs, 1, splits); }

DEFINE_REDUCE(sum, SumReduce, float, f32)
DEFINE_REDUCE(sum, SumReduce, double, f64)
DEFINE_REDUCE(max, MaxReduce, float, f32)
DEFINE_REDUCE(max, MaxReduce, double, f64)
DEFINE_REDUCE(min, MinReduce, float, f32)
DEFINE_REDUCE(min, MinReduce, double, f64)

// Argmax/argmin: (value, index) pairs; the pair combine is associative and commutative (NaN first, then
// the extreme, then the lower index), so the tree finds the first extreme whatever the order.
template <bool Max>
__device__ __forceinline__ void arg_combine(double& v, i64& i, double w, i64 j)
{
    bool vn = v != v, wn = w != w;
    bool take;
    if (vn || wn) take = wn && (!vn || j < i);
    else if (w == v) take = j < i;
    else take = Max ? w > v : w < v;
    if (take) { v = w; i = j; }
}

template <typename T, bool Max>
__device__ void arg_reduce_items(const T* x, const Strided& kept, const Strided& red, i64* y, i64 outputs, i64 count)
{
    __shared__ double values[REDUCE_THREADS];
    __shared__ i64 indices[REDUCE_THREADS];
    for (i64 o = blockIdx.x; o < outputs; o += gridDim.x)
    {
        const T* base = x + strided_offset(kept, o);
        double v = Max ? neg_inf() : pos_inf();
        i64 best = count;   // past the end: loses every tie against a real element
        for (i64 j = threadIdx.x; j < count; j += REDUCE_THREADS) arg_combine<Max>(v, best, (double)base[strided_offset(red, j)], j);
        values[threadIdx.x] = v;
        indices[threadIdx.x] = best;
        __syncthreads();
        for (unsigned width = REDUCE_THREADS / 2; width > 0; width >>= 1)
        {
            if (threadIdx.x < width)
            {
                double a = values[threadIdx.x];
                i64 ia = indices[threadIdx.x];
                arg_combine<Max>(a, ia, values[threadIdx.x + width], indices[threadIdx.x + width]);
                values[threadIdx.x] = a;
                indices[threadIdx.x] = ia;
            }
            __syncthreads();
        }
        if (threadIdx.x == 0) y[o] = indices[0] < count ? indices[0] : 0;
        __syncthreads();
    }
}

#define DEFINE_ARG(NAME, MAX, T, S)                                                                      \
extern "C" __global__ void __launch_bounds__(REDUCE_THREADS)                                             \
reduce_##NAME##_##S(const T* x, Strided kept, Strided red, i64* y, i64 outputs, i64 count)              \
{ arg_reduce_items<T, MAX>(x, kept, red, y, outputs, count); }

DEFINE_ARG(argmax, true, float, f32)
DEFINE_ARG(argmax, true, double, f64)
DEFINE_ARG(argmin, false, float, f32)
DEFINE_ARG(argmin, false, double, f64)
