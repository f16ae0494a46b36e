// The optimizers' updates on CUDA, many tensors per launch (Optim.Cuda.cs is the host side, FusedKernels.cs
// the CPU's). Each update follows the CPU kernel's formula operation by operation, with every multiply and add
// rounded on its own (__fmul_rn, __dadd_rn, ...): NVRTC would otherwise contract a*b + c into one fused
// multiply-add, which the CPU never does, and the results would drift from the CPU's in the last bits.
// Division and square root are IEEE-rounded as on the CPU. So an update equals the CPU's bit for bit.

#define OPTIM_LIST_MAX 48
#define NORM_CHUNK 8192
#define NORM_BLOCK 256

// Up to OPTIM_LIST_MAX contiguous tensors of one dtype, passed by value (2,696 of the launch's 4 KiB):
// the element count and up to five device addresses per tensor (what each slot holds is the kernel's), and
// for the norm the index of each tensor's first partial. The C# side builds the same layout.
struct TensorList
{
    int count;
    i64 numel[OPTIM_LIST_MAX];
    i64 first_chunk[OPTIM_LIST_MAX];
    u64 address[5][OPTIM_LIST_MAX];
};

__device__ __forceinline__ float rn_mul(float a, float b) { return __fmul_rn(a, b); }
__device__ __forceinline__ double rn_mul(double a, double b) { return __dmul_rn(a, b); }
__device__ __forceinline__ float rn_add(float a, float b) { return __fadd_rn(a, b); }
__device__ __forceinline__ double rn_add(double a, double b) { return __dadd_rn(a, b); }
__device__ __forceinline__ float rn_div(float a, float b) { return __fdiv_rn(a, b); }
__device__ __forceinline__ double rn_div(double a, double b) { return __ddiv_rn(a, b); }
__device__ __forceinline__ float rn_sqrt(float a) { return __fsqrt_rn(a); }
__device__ __forceinline__ double rn_sqrt(double a) { return __dsqrt_rn(a); }

// The gradient as the update reads it: times the clipping scale (a device scalar, or none), negated under
// maximize. The scale is rounded to T first, as the CPU's in-place multiply by a double does.
template <typename T>
__device__ __forceinline__ T scaled_grad(T g, const double* grad_scale, int maximize)
{
    if (grad_scale) g = rn_mul(g, (T)grad_scale[0]);
    return maximize ? -g : g;
}

// AdamW (slots: param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq or 0). The scalars are the CPU's, computed on
// the host in double and rounded to T here: p *= decay; m = m*b1 + omb1*g; v = v*b2 + (omb2*g)*g;
// s = v, or vmax = max(vmax, v) under amsgrad; p += (neg_step*m) / (sqrt(s)/bc2_sqrt + eps).
template <typename T>
__device__ void adamw_step(const TensorList& list, double decay, double beta1, double one_minus_beta1, double beta2,
                           double one_minus_beta2, double eps, double bc2_sqrt, double neg_step, int amsgrad, int maximize,
                           const double* grad_scale)
{
    const T k_decay = (T)decay, b1 = (T)beta1, omb1 = (T)one_minus_beta1, b2 = (T)beta2, omb2 = (T)one_minus_beta2;
    const T k_eps = (T)eps, bc2 = (T)bc2_sqrt, step = (T)neg_step;
    for (int t = 0; t < list.count; ++t)
    {
        T* p = (T*)list.address[0][t];
        const T* g = (const T*)list.address[1][t];
        T* m = (T*)list.address[2][t];
        T* v = (T*)list.address[3][t];
        T* vmax = (T*)list.address[4][t];
        GRID_STRIDE_LOOP(i, list.numel[t])
        {
            T gi = scaled_grad(g[i], grad_scale, maximize);
            T pi = rn_mul(p[i], k_decay);
            T mi = rn_add(rn_mul(m[i], b1), rn_mul(omb1, gi));
            T vi = rn_add(rn_mul(v[i], b2), rn_mul(rn_mul(omb2, gi), gi));
            T si = vi;
            if (amsgrad)
            {
                T old = vmax[i];
                si = (old > vi || old != old) ? old : vi;
                vmax[i] = si;
            }
            T denom = rn_add(rn_div(rn_sqrt(si), bc2), k_eps);
            p[i] = rn_add(pi, rn_div(rn_mul(step, mi), denom));
            m[i] = mi;
            v[i] = vi;
        }
    }
}

// SGD (slots: param, grad, momentum_buffer or 0): d = g + wd*p; buf = d on the first step, else
// buf*momentum + (1 - dampening)*d; d = d + momentum*buf (nesterov) or buf; p += -lr*d.
template <typename T>
__device__ void sgd_step(const TensorList& list, double neg_lr, double weight_decay, double momentum,
                         double one_minus_dampening, int nesterov, int maximize, int first_step, const double* grad_scale)
{
    const T lr = (T)neg_lr, wd = (T)weight_decay, mom = (T)momentum, omd = (T)one_minus_dampening;
    for (int t = 0; t < list.count; ++t)
    {
        T* p = (T*)list.address[0][t];
        const T* g = (const T*)list.address[1][t];
        T* buf = (T*)list.address[2][t];
        GRID_STRIDE_LOOP(i, list.numel[t])
        {
            T d = scaled_grad(g[i], grad_scale, maximize);
            T pi = p[i];
            if (weight_decay != 0) d = rn_add(d, rn_mul(wd, pi));
            if (buf)
            {
                T b = first_step ? d : rn_add(rn_mul(buf[i], mom), rn_mul(omd, d));
                buf[i] = b;
                d = nesterov ? rn_add(d, rn_mul(mom, b)) : b;
            }
            p[i] = rn_add(pi, rn_mul(lr, d));
        }
    }
}

// EMA of weights (slots: average, source): e = decay*e + (1 - decay)*x.
template <typename T>
__device__ void ema_update(const TensorList& list, double decay, double one_minus_decay)
{
    const T d = (T)decay, om = (T)one_minus_decay;
    for (int t = 0; t < list.count; ++t)
    {
        T* e = (T*)list.address[0][t];
        const T* x = (const T*)list.address[1][t];
        GRID_STRIDE_LOOP(i, list.numel[t]) e[i] = rn_add(rn_mul(d, e[i]), rn_mul(om, x[i]));
    }
}

// Gradient clipping in place (slot: grad): g *= scale, the scale rounded to T as the CPU's multiply does.
template <typename T>
__device__ void scale_in_place(const TensorList& list, const double* scale)
{
    for (int t = 0; t < list.count; ++t)
    {
        T* g = (T*)list.address[0][t];
        GRID_STRIDE_LOOP(i, list.numel[t]) g[i] = rn_mul(g[i], (T)scale[0]);
    }
}

// The global norm. kind: 0 sum |x|^p, 1 sum x^2, 2 sum |x|, 3 max |x| (NaN wins, as on the CPU). Partials are
// taken in double over chunks of NORM_CHUNK elements, a fixed order inside each chunk (a thread's stride, the
// warp's butterfly, the warps in order) and chunks in parameter order, so the bits depend on the shapes alone.
__device__ __forceinline__ double norm_combine(double a, double b, int kind)
{
    if (kind != 3) return a + b;
    return (a > b || a != a) ? a : b;
}

__device__ __forceinline__ double norm_term(double x, int kind, double p)
{
    double a = fabs(x);
    return kind == 1 ? x * x : kind == 0 ? pow(a, p) : a;
}

// The block's combination, in thread 0. Every thread must call it; the shared slots are free again on return.
__device__ double norm_block(double v, int kind, double* warps)
{
    for (int offset = 16; offset > 0; offset >>= 1) v = norm_combine(v, __shfl_xor_sync(FULL_WARP, v, offset), kind);
    if (threadIdx.x % 32 == 0) warps[threadIdx.x / 32] = v;
    __syncthreads();
    double r = warps[0];
    if (threadIdx.x == 0)
        for (int w = 1; w < (int)(blockDim.x / 32); ++w) r = norm_combine(r, warps[w], kind);
    __syncthreads();
    return r;
}

// One block per chunk of this list (slot: grad); partial c of tensor t goes to partials[first_chunk[t] + c].
template <typename T>
__device__ void norm_partials(const TensorList& list, i64 chunks, int kind, double p, double* partials)
{
    __shared__ double warps[NORM_BLOCK / 32];
    const i64 base = list.first_chunk[0];
    for (i64 c = blockIdx.x; c < chunks; c += gridDim.x)
    {
        int t = 0;
        while (t + 1 < list.count && list.first_chunk[t + 1] - base <= c) ++t;
        i64 local = c - (list.first_chunk[t] - base);
        const T* x = (const T*)list.address[0][t];
        i64 start = local * NORM_CHUNK;
        i64 end = start + NORM_CHUNK < list.numel[t] ? start + NORM_CHUNK : list.numel[t];
        double acc = 0;
        for (i64 i = start + threadIdx.x; i < end; i += blockDim.x) acc = norm_combine(acc, norm_term((double)x[i], kind, p), kind);
        double r = norm_block(acc, kind, warps);
        if (threadIdx.x == 0) partials[list.first_chunk[t] + local] = r;
    }
}

// One block: the partials in order, then the root; with scale_out, the clipping factor min(1, max/(norm + 1e-6))
// (a NaN norm gives a NaN factor, as the CPU's Math.Min).
extern "C" __global__ void __launch_bounds__(NORM_BLOCK) norm_final(const double* partials, i64 count, int kind, double p,
                                                                   double max_norm, double* norm_out, double* scale_out)
{
    __shared__ double warps[NORM_BLOCK / 32];
    double acc = 0;
    for (i64 i = threadIdx.x; i < count; i += blockDim.x) acc = norm_combine(acc, partials[i], kind);
    double r = norm_block(acc, kind, warps);
    if (threadIdx.x != 0) return;
    double total = kind == 3 || kind == 2 ? r : kind == 1 ? sqrt(r) : pow(r, 1.0 / p);
    norm_out[0] = total;
    if (scale_out)
    {
        double coef = max_norm / (total + 1e-6);
        scale_out[0] = (coef < 1.0 || coef != coef) ? coef : 1.0;
    }
}

#define DEFINE_OPTIM(T, S)                                                                                        \
extern "C" __global__ void adamw_step_##S(const TensorList list, double decay, double beta1, double one_minus_beta1, \
                                          double beta2, double one_minus_beta2, double eps, double bc2_sqrt,     \
                                          double neg_step, int amsgrad, int maximize, const double* grad_scale)  \
{ adamw_step<T>(list, decay, beta1, one_minus_beta1, beta2, one_minus_beta2, eps, bc2_sqrt, neg_step, amsgrad,    \
                maximize, grad_scale); }                                                                        \
extern "C" __global__ void sgd_step_##S(const TensorList list, double neg_lr, double weight_decay, double momentum, \
                                        double one_minus_dampening, int nesterov, int maximize, int first_step,  \
                                        const double* grad_scale)                                                \
{ sgd_step<T>(list, neg_lr, weight_decay, momentum, one_minus_dampening, nesterov, maximize, first_step, grad_scale); } \
extern "C" __global__ void ema_update_##S(const TensorList list, double decay, double one_minus_decay)            \
{ ema_update<T>(list, decay, one_minus_decay); }                                                                 \
extern "C" __global__ void scale_in_place_##S(const TensorList list, const double* scale)                          \
{ scale_in_place<T>(list, scale); }                                                                              \
extern "C" __global__ void __launch_bounds__(NORM_BLOCK) norm_partials_##S(const TensorList list, i64 chunks,      \
                                                                           int kind, double p, double* partials) \
{ norm_partials<T>(list, chunks, kind, p, partials); }

DEFINE_OPTIM(float, f32)
DEFINE_OPTIM(double, f64)
