// The elementwise parts of vHeat's fused heat path (HeatConduction.Cuda.cs) on dense (B, H, W, C) blocks whose
// images are `plane` = H·W·C values apart.

// y[b] = x[b] ⊙ f, one rounding as on the CPU.
template <typename T>
__device__ void heat_multiply(const T* x, const T* f, T* y, i64 count, i64 plane)
{
    GRID_STRIDE_LOOP(i, count) y[i] = x[i] * f[i % plane];
}

// gf = Σ_b g[b] ⊙ u[b]: one thread per element, the images added in order in double and rounded once, so the
// decay's gradient has the same bits on every run (no atomics).
template <typename T>
__device__ void heat_batch_dot(const T* g, const T* u, T* gf, i64 batch, i64 plane)
{
    GRID_STRIDE_LOOP(i, plane)
    {
        double sum = 0;
        for (i64 b = 0; b < batch; ++b) sum += (double)g[b * plane + i] * (double)u[b * plane + i];
        gf[i] = (T)sum;
    }
}

#define DEFINE_HEAT_CONDUCTION(T, S)                                                                          \
extern "C" __global__ void heat_multiply_##S(const T* x, const T* f, T* y, i64 count, i64 plane)           \
{ heat_multiply<T>(x, f, y, count, plane); }                                                                \
extern "C" __global__ void heat_batch_dot_##S(const T* g, const T* u, T* gf, i64 batch, i64 plane)         \
{ heat_batch_dot<T>(g, u, gf, batch, plane); }

DEFINE_HEAT_CONDUCTION(float, f32)
DEFINE_HEAT_CONDUCTION(double, f64)
