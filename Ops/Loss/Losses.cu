// Cross-entropy (class indices or class probabilities, label smoothing, class weights, ignore_index) and nll_loss,
// forward and backward, F32 and F64, on contiguous logits seen as (outer, C, inner): position i = (o, j) reads
// its C values with stride inner. The formulas are the CPU's (Losses.Cpu.cs): with z the log-sum-exp of a
// position, p its softmax and q its smoothed, weighted target distribution, loss = Σ_c q_c (z - x_c) and the
// gradient is (Σ_c q_c) p - q, scaled. The log-sum-exp is taken as on the CPU (maximum, then exp(x - max) summed),
// rounded to the tensor's type and saved; losses and sums are in double.
// A position goes to a warp when the classes are contiguous (inner == 1) and not too few, its lanes striding the
// classes, or to one thread otherwise (adjacent threads on adjacent positions, so each class step is a coalesced read). The
// reduction is deterministic: per-position losses in double, then one warp per chunk of positions (chunks fixed by
// the shape), then one warp over the chunks in order. No float atomics.
// A class index outside [0, C) that is not ignore_index is not read: its position's loss is NaN and its gradient
// zero, and the kernel lowers check[0] to the first such position (an integer atomicMin, exact in any order); the
// finishing kernel writes that target into check[1], and the host reports it at its next wait (DeferredChecks).

#define LOSS_CLASS_INDEX 0   // cross-entropy with class indices
#define LOSS_CLASS_PROB 1    // cross-entropy with class probabilities
#define LOSS_NLL 2           // nll_loss: the input holds log-probabilities

#define REDUCE_NONE 0
#define REDUCE_MEAN 1
#define REDUCE_SUM 2

__device__ __forceinline__ float exp_of(float v) { return expf(v); }
__device__ __forceinline__ double exp_of(double v) { return exp(v); }

template <typename T>
__device__ __forceinline__ T max_nan(T m, T v) { return (v > m || v != v) ? v : m; }

// The threads that handle one position: a warp (the classes split across its lanes, sums by the butterfly) or a
// thread alone. Every member gets the same sums; the leader writes the position's results.
struct Warp
{
    int lane;
    __device__ int first() const { return lane; }
    __device__ int step() const { return 32; }
    __device__ bool leader() const { return lane == 0; }
    __device__ double sum(double v) const { return warp_sum(v); }
    template <typename T>
    __device__ T max(T v) const
    {
        for (int offset = 16; offset > 0; offset >>= 1) v = max_nan(v, __shfl_xor_sync(FULL_WARP, v, offset));
        return v;
    }
};

struct Alone
{
    __device__ int first() const { return 0; }
    __device__ int step() const { return 1; }
    __device__ bool leader() const { return true; }
    __device__ double sum(double v) const { return v; }
    template <typename T>
    __device__ T max(T v) const { return v; }
};

template <typename T>
struct LossData
{
    const T* x;             // logits or log-probabilities (outer, C, inner)
    const i64* index;       // class indices (outer, inner), or null
    const T* prob;          // class probabilities (outer, C, inner), or null
    const T* weight;        // class weights (C), or null for ones
    i64 inner;
    int classes;
    i64 ignore;
    double eps;             // label smoothing
    int kind;               // LOSS_*
};

template <typename T>
__device__ __forceinline__ double class_weight(const LossData<T>& d, i64 c) { return d.weight ? (double)d.weight[c] : 1.0; }

template <typename T>
__device__ __forceinline__ double smoothed(const LossData<T>& d, double t) { return d.eps > 0 ? t * (1 - d.eps) + d.eps / d.classes : t; }

// The log-sum-exp of one position's classes, rounded to T as the CPU stores it. No classes: -inf (log 0).
template <typename T, typename Group>
__device__ T log_sum_exp(Group grp, const T* xp, i64 inner, int classes)
{
    T m = classes > 0 ? xp[0] : (T)0;
    for (int c = grp.first(); c < classes; c += grp.step()) m = max_nan(m, xp[c * inner]);
    m = grp.max(m);
    double s = 0;
    for (int c = grp.first(); c < classes; c += grp.step()) s += (double)exp_of((T)(xp[c * inner] - m));
    return (T)((double)m + log(grp.sum(s)));
}

// Position i: its log-sum-exp (cross-entropy), its loss and its share of the 'mean' denominator, written by the
// leader into lse[i] and either out[i] ('none') or losses[i] and dens[i].
template <typename T, typename Group>
__device__ void loss_forward_position(Group grp, const LossData<T>& d, i64 i, T* lse, T* out, double* losses, double* dens, i64* check)
{
    i64 at = i / d.inner * d.classes * d.inner + i % d.inner;
    const T* xp = d.x + at;
    double z = 0, loss = 0, den = 1;
    if (d.kind != LOSS_NLL)
    {
        T zt = log_sum_exp<T>(grp, xp, d.inner, d.classes);
        if (grp.leader()) lse[i] = zt;
        z = (double)zt;
    }
    if (d.kind == LOSS_CLASS_PROB)
    {
        double s = 0;
        for (int c = grp.first(); c < d.classes; c += grp.step())
            s += smoothed(d, (double)d.prob[at + c * d.inner]) * class_weight(d, c) * (z - (double)xp[c * d.inner]);
        loss = grp.sum(s);
    }
    else
    {
        i64 t = d.index[i];
        if (t == d.ignore) { loss = 0; den = 0; }
        else if (t < 0 || t >= d.classes)
        {
            if (grp.leader()) atomicMin((long long*)check, (long long)i);
            loss = __longlong_as_double(0x7ff8000000000000LL);   // NaN
            den = 0;
        }
        else
        {
            double wt = class_weight(d, t);
            den = wt;
            if (d.kind == LOSS_NLL) loss = -wt * (double)xp[t * d.inner];
            else
            {
                loss = wt * (z - (double)xp[t * d.inner]);
                if (d.eps > 0)
                {
                    double s = 0;
                    for (int c = grp.first(); c < d.classes; c += grp.step()) s += class_weight(d, c) * (z - (double)xp[c * d.inner]);
                    loss = (1 - d.eps) * loss + d.eps / d.classes * grp.sum(s);
                }
            }
        }
    }
    if (!grp.leader()) return;
    if (out) out[i] = (T)loss;
    else { losses[i] = loss; dens[i] = den; }
}

// Position i's gradients: gx (if wanted) and, for class probabilities, gt (if wanted), each scaled by s.
template <typename T, typename Group>
__device__ void loss_backward_position(Group grp, const LossData<T>& d, i64 i, const T* lse, double s, double weight_sum, T* gx, T* gt)
{
    i64 at = i / d.inner * d.classes * d.inner + i % d.inner;
    const T* xp = d.x + at;
    if (d.kind == LOSS_CLASS_PROB)
    {
        T zt = lse[i];
        double z = (double)zt, mass = 0;
        for (int c = grp.first(); c < d.classes; c += grp.step()) mass += smoothed(d, (double)d.prob[at + c * d.inner]) * class_weight(d, c);
        mass = grp.sum(mass);
        for (int c = grp.first(); c < d.classes; c += grp.step())
        {
            i64 e = at + c * d.inner;
            double w = class_weight(d, c);
            if (gx) gx[e] = (T)(s * (mass * (double)exp_of((T)(xp[c * d.inner] - zt)) - smoothed(d, (double)d.prob[e]) * w));
            if (gt) gt[e] = (T)(s * (1 - d.eps) * w * (z - (double)xp[c * d.inner]));
        }
        return;
    }
    i64 t = d.index[i];
    if (t == d.ignore || t < 0 || t >= d.classes)
    {
        for (int c = grp.first(); c < d.classes; c += grp.step()) gx[at + c * d.inner] = (T)0;
        return;
    }
    double wt = class_weight(d, t);
    if (d.kind == LOSS_NLL)
    {
        for (int c = grp.first(); c < d.classes; c += grp.step()) gx[at + c * d.inner] = c == t ? (T)(-s * wt) : (T)0;
        return;
    }
    T zt = lse[i];
    double p_coefficient = s * ((1 - d.eps) * wt + d.eps / d.classes * weight_sum);
    double uniform = s * d.eps / d.classes, target = s * (1 - d.eps) * wt;
    for (int c = grp.first(); c < d.classes; c += grp.step())
        gx[at + c * d.inner] = (T)(p_coefficient * (double)exp_of((T)(xp[c * d.inner] - zt)) - uniform * class_weight(d, c) - (c == t ? target : 0.0));
}

// The scale of position i's gradient: g itself ('none'), g ('sum') or g / denominator ('mean').
template <typename T>
__device__ __forceinline__ double loss_scale(const T* g, const double* stats, int reduction, i64 i)
{
    return reduction == REDUCE_NONE ? (double)g[i] : reduction == REDUCE_SUM ? (double)g[0] : (double)g[0] / stats[0];
}

// Pass 1 of the reduction: partials[c] = (Σ losses, Σ dens) over chunk c of `per` positions, one warp per chunk.
__device__ void loss_partials(const double* losses, const double* dens, double* partials, i64 positions, i64 per, i64 chunks)
{
    int lane = threadIdx.x % 32;
    WARP_ROW_LOOP(c, chunks)
    {
        i64 end = (c + 1) * per < positions ? (c + 1) * per : positions;
        double l = 0, n = 0;
        for (i64 i = c * per + lane; i < end; i += 32) { l += losses[i]; n += dens[i]; }
        l = warp_sum(l);
        n = warp_sum(n);
        if (lane == 0) { partials[2 * c] = l; partials[2 * c + 1] = n; }
    }
}

// Pass 2, one warp: the loss (the chunks in order) unless 'none', stats = (denominator, Σ_c w_c), and the value of
// the first bad target, if the forward found one.
template <typename T>
__device__ void loss_finish(const double* partials, i64 chunks, T* out, double* stats, int reduction, const T* weight,
                            int classes, const i64* index, i64 positions, i64* check)
{
    int lane = threadIdx.x % 32;
    double l = 0, n = 0, w = 0;
    if (reduction != REDUCE_NONE)
        for (i64 c = lane; c < chunks; c += 32) { l += partials[2 * c]; n += partials[2 * c + 1]; }
    for (int c = lane; c < classes; c += 32) w += weight ? (double)weight[c] : 1.0;
    l = warp_sum(l);
    n = warp_sum(n);
    w = warp_sum(w);
    if (lane != 0) return;
    if (reduction != REDUCE_NONE) out[0] = (T)(reduction == REDUCE_SUM ? l : l / n);
    stats[0] = n;
    stats[1] = w;
    if (check && check[0] < positions) check[1] = index[check[0]];
}

#define LOSS_DATA(T) LossData<T> d = { x, index, prob, weight, inner, classes, ignore, eps, kind }

#define DEFINE_LOSS(T, S)                                                                                        \
extern "C" __global__ void loss_rows_forward_##S(const T* x, const i64* index, const T* prob, const T* weight,    \
    i64 positions, i64 inner, int classes, i64 ignore, double eps, int kind,                                     \
    T* lse, T* out, double* losses, double* dens, i64* check)                                                    \
{                                                                                                                \
    LOSS_DATA(T);                                                                                                \
    Warp grp = { (int)(threadIdx.x % 32) };                                                                      \
    WARP_ROW_LOOP(i, positions) loss_forward_position<T>(grp, d, i, lse, out, losses, dens, check);              \
}                                                                                                                \
extern "C" __global__ void loss_columns_forward_##S(const T* x, const i64* index, const T* prob, const T* weight, \
    i64 positions, i64 inner, int classes, i64 ignore, double eps, int kind,                                     \
    T* lse, T* out, double* losses, double* dens, i64* check)                                                    \
{                                                                                                                \
    LOSS_DATA(T);                                                                                                \
    GRID_STRIDE_LOOP(i, positions) loss_forward_position<T>(Alone(), d, i, lse, out, losses, dens, check);       \
}                                                                                                                \
extern "C" __global__ void loss_rows_backward_##S(const T* x, const i64* index, const T* prob, const T* weight,   \
    i64 positions, i64 inner, int classes, i64 ignore, double eps, int kind,                                     \
    const T* lse, const double* stats, const T* g, int reduction, T* gx, T* gt)                                  \
{                                                                                                                \
    LOSS_DATA(T);                                                                                                \
    Warp grp = { (int)(threadIdx.x % 32) };                                                                      \
    WARP_ROW_LOOP(i, positions)                                                                                  \
        loss_backward_position<T>(grp, d, i, lse, loss_scale(g, stats, reduction, i), stats[1], gx, gt);         \
}                                                                                                                \
extern "C" __global__ void loss_columns_backward_##S(const T* x, const i64* index, const T* prob, const T* weight,\
    i64 positions, i64 inner, int classes, i64 ignore, double eps, int kind,                                     \
    const T* lse, const double* stats, const T* g, int reduction, T* gx, T* gt)                                  \
{                                                                                                                \
    LOSS_DATA(T);                                                                                                \
    GRID_STRIDE_LOOP(i, positions)                                                                               \
        loss_backward_position<T>(Alone(), d, i, lse, loss_scale(g, stats, reduction, i), stats[1], gx, gt);     \
}                                                                                                                \
extern "C" __global__ void loss_finish_##S(const double* partials, i64 chunks, T* out, double* stats,             \
    int reduction, const T* weight, int classes, const i64* index, i64 positions, i64* check)                    \
{ loss_finish<T>(partials, chunks, out, stats, reduction, weight, classes, index, positions, check); }

extern "C" __global__ void loss_partials_f64(const double* losses, const double* dens, double* partials,
                                             i64 positions, i64 per, i64 chunks)
{ loss_partials(losses, dens, partials, positions, per, chunks); }

DEFINE_LOSS(float, f32)
DEFINE_LOSS(double, f64)
