// Indexing with int64 indices: index_select, index_add, gather, scatter_add. Every output element is
// written by exactly one thread, in a fixed order (no atomics), so repeated indices add deterministically.
// Operands are contiguous; x is seen as [outer, size, inner] around the indexed dimension. Indices are
// validated first by check_index, which records the position of the first bad one (the host reads it and
// throws, as the CPU does), and the kernels clamp nothing: they run only after a clean check.

// bad[0] starts at n; a thread holding a bad index lowers it to its position (integer atomics: exact).
extern "C" __global__ void check_index(const i64* index, i64 n, i64 size, i64* bad)
{
    GRID_STRIDE_LOOP(i, n)
    {
        i64 v = index[i];
        if (v < -size || v >= size) atomicMin((long long*)bad, (long long)i);
    }
}

__device__ __forceinline__ i64 wrap(i64 v, i64 size) { return v < 0 ? v + size : v; }

// y[o, j, i] = x[o, index[j], i]
#define DEFINE_INDEX_SELECT(T, S)                                                                        \
extern "C" __global__ void index_select_##S(const T* x, const i64* index, T* y, i64 outer, i64 size, i64 count, i64 inner) \
{                                                                                                        \
    GRID_STRIDE_LOOP(e, outer * count * inner)                                                           \
    {                                                                                                    \
        i64 i = e % inner, j = (e / inner) % count, o = e / (inner * count);                             \
        y[e] = x[(o * size + wrap(index[j], size)) * inner + i];                                         \
    }                                                                                                    \
}

// dst[o, index[j], i] += src[o, j, i] for j in order: one thread per (o, i) column owns every dst
// element of that column, so colliding indices add in index order, as on the CPU.
#define DEFINE_INDEX_ADD(T, S)                                                                           \
extern "C" __global__ void index_add_##S(T* dst, const i64* index, const T* src, i64 outer, i64 size, i64 count, i64 inner) \
{                                                                                                        \
    GRID_STRIDE_LOOP(e, outer * inner)                                                                   \
    {                                                                                                    \
        i64 i = e % inner, o = e / inner;                                                                \
        for (i64 j = 0; j < count; ++j)                                                                  \
            dst[(o * size + wrap(index[j], size)) * inner + i] += src[(o * count + j) * inner + i];      \
    }                                                                                                    \
}

// y[p] = x[p with coordinate dim replaced by index[p]]; `layout` has the index's sizes and x's strides.
#define DEFINE_GATHER(T, S)                                                                              \
extern "C" __global__ void gather_##S(const T* x, Strided layout, int dim, i64 size, const i64* index, T* y, i64 n) \
{                                                                                                        \
    GRID_STRIDE_LOOP(p, n)                                                                               \
    {                                                                                                    \
        i64 rest = p, offset = 0;                                                                        \
        for (int d = layout.ndim - 1; d >= 0; --d)                                                       \
        {                                                                                                \
            i64 c = rest % layout.sizes[d];                                                              \
            rest /= layout.sizes[d];                                                                     \
            offset += (d == dim ? wrap(index[p], size) : c) * layout.strides[d];                         \
        }                                                                                                \
        y[p] = x[offset];                                                                                \
    }                                                                                                    \
}

// dst[p with dim → index[p]] += src[p]. Positions that can collide differ only along dim, so one thread
// per line along dim walks it in order: lines write disjoint elements, and collisions add in order.
// `layout` has the index's sizes and dst's strides; the line count is n / sizes[dim].
#define DEFINE_SCATTER_ADD(T, S)                                                                         \
extern "C" __global__ void scatter_add_##S(T* dst, Strided layout, int dim, i64 size, const i64* index, const T* src, i64 n) \
{                                                                                                        \
    i64 along = layout.sizes[dim];                                                                       \
    i64 stride = 1;                                                                                      \
    for (int d = layout.ndim - 1; d > dim; --d) stride *= layout.sizes[d];                               \
    GRID_STRIDE_LOOP(line, n / along)                                                                    \
    {                                                                                                    \
        i64 below = line % stride, above = line / stride;                                                \
        for (i64 k = 0; k < along; ++k)                                                                  \
        {                                                                                                \
            i64 p = (above * along + k) * stride + below;                                                \
            i64 rest = p, offset = 0;                                                                    \
            for (int d = layout.ndim - 1; d >= 0; --d)                                                   \
            {                                                                                            \
                i64 c = rest % layout.sizes[d];                                                          \
                rest /= layout.sizes[d];                                                                 \
                offset += (d == dim ? wrap(index[p], size) : c) * layout.strides[d];                     \
            }                                                                                            \
            dst[offset] += src[p];                                                                       \
        }                                                                                                \
    }                                                                                                    \
}

DEFINE_INDEX_SELECT(float, f32)
DEFINE_INDEX_SELECT(double, f64)
DEFINE_INDEX_SELECT(i64, i64)
DEFINE_INDEX_SELECT(u8, bool)
DEFINE_INDEX_ADD(float, f32)
DEFINE_INDEX_ADD(double, f64)
DEFINE_GATHER(float, f32)
DEFINE_GATHER(double, f64)
DEFINE_GATHER(i64, i64)
DEFINE_GATHER(u8, bool)
DEFINE_SCATTER_ADD(float, f32)
DEFINE_SCATTER_ADD(double, f64)
