// A kernel embedded in the test assembly, not in the engine: it shows that KernelUnit.Discover finds a .cu
// in any assembly it is given, named by the cuda/ convention, and that it compiles with the engine's prelude.
#define DEFINE_PROBE_AXPY(T, SUFFIX) \
extern "C" __global__ void probe_axpy_##SUFFIX(T alpha, const T* x, T* y, i64 n) \
{ \
    GRID_STRIDE_LOOP(i, n) y[i] = alpha * x[i] + y[i]; \
}

DEFINE_PROBE_AXPY(float, f32)
DEFINE_PROBE_AXPY(double, f64)
