// Deterministic sum in two passes, with no atomics: pass 1 writes one partial per block, pass 2 (one block)
// sums the partials. Each thread accumulates a fixed set of elements (a grid-stride walk) in a fixed order,
// and the block combines its threads in a fixed tree, so the result depends only on n and the grid, which
// the host derives from n alone (never from the device), and the same input always gives the same bits.
// Blocks must have REDUCE_BLOCK threads.

#define REDUCE_BLOCK 256

template <typename T>
__device__ __forceinline__ T block_sum(T value)
{
    __shared__ T shared[REDUCE_BLOCK];
    shared[threadIdx.x] = value;
    __syncthreads();
    for (unsigned width = REDUCE_BLOCK / 2; width > 0; width >>= 1)
    {
        if (threadIdx.x < width) shared[threadIdx.x] += shared[threadIdx.x + width];
        __syncthreads();
    }
    return shared[0];
}

#define DEFINE_SUM(T, SUFFIX)                                                                        \
extern "C" __global__ void sum_partials_##SUFFIX(const T* in, i64 n, T* partials)                    \
{                                                                                                    \
    T acc = 0;                                                                                       \
    GRID_STRIDE_LOOP(i, n) acc += in[i];                                                             \
    T total = block_sum<T>(acc);                                                                     \
    if (threadIdx.x == 0) partials[blockIdx.x] = total;                                              \
}                                                                                                    \
extern "C" __global__ void sum_final_##SUFFIX(const T* partials, i64 count, T* out)                  \
{                                                                                                    \
    T acc = 0;                                                                                       \
    for (i64 i = threadIdx.x; i < count; i += blockDim.x) acc += partials[i];                        \
    T total = block_sum<T>(acc);                                                                     \
    if (threadIdx.x == 0) out[0] = total;                                                            \
}

DEFINE_SUM(float, f32)
DEFINE_SUM(double, f64)
