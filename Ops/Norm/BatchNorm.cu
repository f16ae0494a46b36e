// Batch norm of a contiguous (N, C, S) tensor, statistics per channel over its N·S values, forward (training with
// the batch's statistics and the running update on the device, or evaluation with the running ones) and backward,
// F32 and F64. Statistics are summed in double, two passes (mean, then squared deviations), as on the CPU
// (BatchNorm.Cpu.cs). One block per channel: its threads walk the channel's values flattened over (n, s), so that
// adjacent threads read adjacent addresses, each in a fixed order, and the block adds them in a fixed order; every
// launch shape comes from the tensor's shape, so the same input gives the same bits. No atomics.

// The sum of v over the block, the same bits in every thread: each warp adds its lanes (warp_sum), then every
// thread adds the warps' sums in warp order. blockDim.x is a multiple of 32; every thread of the block must call
// it. The leading barrier lets consecutive calls reuse warp_sums.
__device__ double batch_norm_block_sum(double v, double* warp_sums)
{
    v = warp_sum(v);
    __syncthreads();
    if (threadIdx.x % 32 == 0) warp_sums[threadIdx.x / 32] = v;
    __syncthreads();
    double total = 0;
    for (unsigned k = 0; k < blockDim.x / 32; ++k) total += warp_sums[k];
    return total;
}

// The offset of the i-th value of channel ch, i = n·S + s.
__device__ __forceinline__ i64 batch_norm_at(i64 i, i64 ch, int c, i64 s) { return (i / s * c + ch) * s + i % s; }

// num_batches_tracked += 1, on the device (one thread): a training step never reads the counter to the host.
extern "C" __global__ void batch_norm_count_batch_i64(i64* batches)
{
    if (blockIdx.x == 0 && threadIdx.x == 0) *batches += 1;
}

// Per channel (one block each, grid-strided): the mean and rstd = 1 / sqrt(var + eps) used, saved as T, and the
// double scale = rstd·w and shift = b - mean·scale of y = x·scale + shift (the CPU's form). Training: the batch's
// statistics with the biased variance, blended into the running ones (either may be null) with the unbiased
// variance, weight momentum or, when batches is given (momentum = None), 1 / (*batches + pending), pending being 1
// when this step's count is still to be written (by batch_norm_apply, queued after). Evaluation: the running ones.
template <typename T>
__device__ void batch_norm_statistics(const T* x, const T* w, const T* b, T* save_mean, T* save_rstd, double* scale_shift,
                                      T* running_mean, i64 mean_stride, T* running_var, i64 var_stride, const i64* batches,
                                      int pending, int n, int c, i64 s, int training, double momentum, double eps)
{
    __shared__ double warp_sums[32];
    i64 count = n * s;
    for (i64 ch = blockIdx.x; ch < c; ch += gridDim.x)
    {
        double mu, rs;
        if (training)
        {
            double sum = 0;
            for (i64 i = threadIdx.x; i < count; i += blockDim.x) sum += (double)x[batch_norm_at(i, ch, c, s)];
            sum = batch_norm_block_sum(sum, warp_sums);
            mu = count == 0 ? 0.0 : sum / count;
            double squares = 0;
            for (i64 i = threadIdx.x; i < count; i += blockDim.x) { double t = (double)x[batch_norm_at(i, ch, c, s)] - mu; squares += t * t; }
            squares = batch_norm_block_sum(squares, warp_sums);
            double variance = count == 0 ? 0.0 : squares / count;
            rs = 1.0 / sqrt(variance + eps);
            if (threadIdx.x == 0)
            {
                double factor = batches ? 1.0 / (double)(*batches + pending) : momentum;
                if (running_mean)
                {
                    T* m = running_mean + ch * mean_stride;
                    *m = (T)((1 - factor) * (double)*m + factor * mu);
                }
                if (running_var)
                {
                    T* v = running_var + ch * var_stride;
                    *v = (T)((1 - factor) * (double)*v + factor * variance * count / (count - 1));
                }
            }
        }
        else
        {
            mu = (double)running_mean[ch * mean_stride];
            rs = 1.0 / sqrt((double)running_var[ch * var_stride] + eps);
        }
        if (threadIdx.x == 0)
        {
            save_mean[ch] = (T)mu;
            save_rstd[ch] = (T)rs;
            double scale = rs * (w ? (double)w[ch] : 1.0);
            scale_shift[2 * ch] = scale;
            scale_shift[2 * ch + 1] = (b ? (double)b[ch] : 0.0) - mu * scale;
        }
    }
}

// y = x·scale + shift, elementwise; and num_batches_tracked += 1 when batches is given (one thread), saving the
// count's own launch: the statistics kernel, which reads the counter, is done by the time this one runs.
template <typename T>
__device__ void batch_norm_apply(const T* x, const double* scale_shift, T* y, i64 total, int c, i64 s, i64* batches)
{
    if (batches && blockIdx.x == 0 && threadIdx.x == 0) *batches += 1;
    GRID_STRIDE_LOOP(e, total)
    {
        i64 ch = e / s % c;
        y[e] = (T)((double)x[e] * scale_shift[2 * ch] + scale_shift[2 * ch + 1]);
    }
}

// Backward, per channel (one block each): Σ g and Σ g·(x - mean) when anything needs them, the affine gradients
// dw = Σ g·(x - mean)·rstd and db = Σ g (either may be null), and the coefficients of dx = g·alpha + x·c1 + c0:
// alpha = w·rstd, and in training c1 = -alpha·rstd²·Σ g·(x - mean) / count and c0 = -alpha·Σ g / count - c1·mean
// (the statistics depend on x); in evaluation c1 = c0 = 0.
template <typename T>
__device__ void batch_norm_backward_reduce(const T* g, const T* x, const T* w, const T* save_mean, const T* save_rstd,
                                           T* dw, T* db, double* coefficients, int n, int c, i64 s, int training, int need_sums)
{
    __shared__ double warp_sums[32];
    i64 count = n * s;
    for (i64 ch = blockIdx.x; ch < c; ch += gridDim.x)
    {
        double mu = (double)save_mean[ch], rs = (double)save_rstd[ch];
        double sg = 0, sgx = 0;
        if (need_sums)
        {
            for (i64 i = threadIdx.x; i < count; i += blockDim.x)
            {
                i64 at = batch_norm_at(i, ch, c, s);
                double gv = (double)g[at];
                sg += gv;
                sgx += gv * ((double)x[at] - mu);
            }
            sg = batch_norm_block_sum(sg, warp_sums);
            sgx = batch_norm_block_sum(sgx, warp_sums);
        }
        if (threadIdx.x == 0)
        {
            if (dw) dw[ch] = (T)(sgx * rs);
            if (db) db[ch] = (T)sg;
            double alpha = (w ? (double)w[ch] : 1.0) * rs;
            double c1 = training ? -alpha * rs * rs * sgx / count : 0.0;
            coefficients[3 * ch] = alpha;
            coefficients[3 * ch + 1] = c1;
            coefficients[3 * ch + 2] = training ? -alpha * sg / count - c1 * mu : 0.0;
        }
    }
}

// dx = g·alpha + x·c1 + c0, elementwise.
template <typename T>
__device__ void batch_norm_backward_input(const T* g, const T* x, const double* coefficients, T* dx, i64 total, int c, i64 s)
{
    GRID_STRIDE_LOOP(e, total)
    {
        i64 ch = e / s % c;
        dx[e] = (T)((double)g[e] * coefficients[3 * ch] + (double)x[e] * coefficients[3 * ch + 1] + coefficients[3 * ch + 2]);
    }
}

#define DEFINE_BATCH_NORM(T, S)                                                                                        \
extern "C" __global__ void batch_norm_statistics_##S(const T* x, const T* w, const T* b, T* save_mean, T* save_rstd,  \
                                                     double* scale_shift, T* running_mean, i64 mean_stride,           \
                                                     T* running_var, i64 var_stride, const i64* batches, int pending, \
                                                     int n, int c, i64 s, int training, double momentum, double eps)   \
{ batch_norm_statistics<T>(x, w, b, save_mean, save_rstd, scale_shift, running_mean, mean_stride, running_var,         \
                           var_stride, batches, pending, n, c, s, training, momentum, eps); }                         \
extern "C" __global__ void batch_norm_apply_##S(const T* x, const double* scale_shift, T* y, i64 total, int c, i64 s,  \
                                                i64* batches)                                                          \
{ batch_norm_apply<T>(x, scale_shift, y, total, c, s, batches); }                                                     \
extern "C" __global__ void batch_norm_backward_reduce_##S(const T* g, const T* x, const T* w, const T* save_mean,      \
                                                          const T* save_rstd, T* dw, T* db, double* coefficients,     \
                                                          int n, int c, i64 s, int training, int need_sums)           \
{ batch_norm_backward_reduce<T>(g, x, w, save_mean, save_rstd, dw, db, coefficients, n, c, s, training, need_sums); }  \
extern "C" __global__ void batch_norm_backward_input_##S(const T* g, const T* x, const double* coefficients, T* dx,     \
                                                         i64 total, int c, i64 s)                                     \
{ batch_norm_backward_input<T>(g, x, coefficients, dx, total, c, s); }

DEFINE_BATCH_NORM(float, f32)
DEFINE_BATCH_NORM(double, f64)
