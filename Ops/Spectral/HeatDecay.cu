// vHeat's frequency decay, elementwise over a contiguous (*, H, W) tensor: Ω[n, m] = (nπ/H)² + (mπ/W)² (float64,
// the CPU's values) repeats every H·W elements. The same operations as HeatDecay.Cpu.cs: the exponential in
// double, rounded once; the backward's three factors in the tensor's dtype, in the CPU's order.

// f = exp(-k ⊙ Ω)
template <typename T>
__device__ void heat_decay_forward(const T* k, const double* omega, T* f, i64 count, i64 plane)
{
    GRID_STRIDE_LOOP(i, count) f[i] = (T)exp(-(double)k[i] * omega[i % plane]);
}

// gk = (-Ω) ⊙ f ⊙ g, exactly 0 where Ω is (the DC term).
template <typename T>
__device__ void heat_decay_backward(const T* g, const T* f, const double* omega, T* gk, i64 count, i64 plane)
{
    GRID_STRIDE_LOOP(i, count) gk[i] = (T)(-omega[i % plane]) * f[i] * g[i];
}

#define DEFINE_HEAT_DECAY(T, S)                                                                                 \
extern "C" __global__ void heat_decay_forward_##S(const T* k, const double* omega, T* f, i64 count, i64 plane) \
{ heat_decay_forward<T>(k, omega, f, count, plane); }                                                         \
extern "C" __global__ void heat_decay_backward_##S(const T* g, const T* f, const double* omega, T* gk,         \
                                                  i64 count, i64 plane)                                       \
{ heat_decay_backward<T>(g, f, omega, gk, count, plane); }

DEFINE_HEAT_DECAY(float, f32)
DEFINE_HEAT_DECAY(double, f64)
