// Compiled by NVRTC, which has no libc headers: the fixed-width types are spelled out here.
typedef unsigned char u8;   // Bool tensors: one byte, 0 or 1
typedef unsigned int u32;
typedef unsigned long long u64;
typedef long long i64;

#define ENGINE_MAX_DIMS 8
#define ENGINE_HD __host__ __device__ __forceinline__

// The layout of a strided operand, passed by value: sizes and strides in elements, outermost first.
// The C# side must build the same struct (ndim, then the two arrays of ENGINE_MAX_DIMS longs).
struct Strided
{
    int ndim;
    i64 sizes[ENGINE_MAX_DIMS];
    i64 strides[ENGINE_MAX_DIMS];
};

// Element offset of the i-th element in row-major order of the sizes.
__device__ __forceinline__ i64 strided_offset(const Strided& s, i64 i)
{
    i64 offset = 0;
    for (int d = s.ndim - 1; d >= 0; --d)
    {
        i64 size = s.sizes[d];
        offset += (i % size) * s.strides[d];
        i /= size;
    }
    return offset;
}

#define GRID_STRIDE_LOOP(i, n) \
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (i64)blockDim.x * gridDim.x)

#define FULL_WARP 0xffffffffu

// The sum over the 32 lanes of a warp by an xor butterfly. Every lane ends with the same bits (each level adds
// a pair in both orders, and addition commutes), and the order is fixed, so a reduction built on it is
// deterministic. All 32 lanes must call it.
__device__ __forceinline__ double warp_sum(double v)
{
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(FULL_WARP, v, offset);
    return v;
}

// Rows handled one per warp: the warp's row for this block and grid-stride step, and the row step.
#define WARP_ROW_LOOP(row, rows)                                                                  \
    for (i64 row = ((i64)blockIdx.x * blockDim.x + threadIdx.x) / 32; row < (rows);              \
         row += (i64)gridDim.x * blockDim.x / 32)
