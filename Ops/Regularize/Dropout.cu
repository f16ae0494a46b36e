// Dropout masks, in place over contiguous uniform samples u from the Philox stream (the CPU's bits): u becomes
// scale where u < keep and 0 elsewhere, compared in the tensor's own type as the CPU compares them, so the mask
// is the CPU's bit for bit.
template <typename T>
__device__ void dropout_mask(T* u, i64 n, T keep, T scale)
{
    GRID_STRIDE_LOOP(i, n) u[i] = u[i] < keep ? scale : (T)0;
}

extern "C" __global__ void dropout_mask_f32(float* u, i64 n, float keep, float scale) { dropout_mask<float>(u, n, keep, scale); }
extern "C" __global__ void dropout_mask_f64(double* u, i64 n, double keep, double scale) { dropout_mask<double>(u, n, keep, scale); }
