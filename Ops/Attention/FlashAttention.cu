// Fused scaled dot-product attention in the FlashAttention-2 manner (FlashAttention.Cuda.cs), F32 and F64,
// plain CUDA C (no tensor cores). Every operand is a Strided layout (batch..., rows, cols) read through its
// strides; blocks of 4 warps walk their work items (a tile of rows of one batch matrix) with a grid-stride loop.
//
// Forward: a block holds 16 query rows (4 per warp) and streams the keys and values through shared memory in
// tiles of 32, one key per lane. Each warp keeps, per row, the running maximum m, the lanes' partial sums of
// exp(s - m) and the output accumulator (4 columns per lane) in registers, rescaling them when m grows; at the
// end it writes o = acc / sum and the log-sum-exp m + log(sum).
// Backward: D = rowsum(dO ∘ O) per query row first; then one pass per key tile (8 key rows per block) over every
// query tile in order, recomputing P = exp(s - lse) and dS = P ∘ (dP - D), accumulating dV += Pᵀ dO and
// dK += dSᵀ Q; then one pass per query tile (8 rows per block) over every key tile in order, dQ += dS K. Each
// gradient element is summed by one lane in a fixed order: no atomics, the same bits on every run.

#define FLASH_TILE 32            // keys (forward, dQ) or queries (dK/dV) per tile: one per lane
#define FLASH_WARPS 4            // warps per block (FlashAttention.Cuda.cs launches 128 threads)
#define FLASH_FORWARD_ROWS 4     // query rows per warp in the forward
#define FLASH_BACKWARD_ROWS 2    // query rows (dQ) or key rows (dK/dV) per warp in the backward
#define FLASH_CHUNKS 4           // output columns per lane: head widths up to 4 · 32 = 128

// Dynamic shared memory, carved by each kernel; the host sizes it with the same formulas.
extern __shared__ double flash_shared[];

__device__ __forceinline__ float flash_exp(float x) { return expf(x); }
__device__ __forceinline__ double flash_exp(double x) { return exp(x); }
__device__ __forceinline__ float flash_log(float x) { return logf(x); }
__device__ __forceinline__ double flash_log(double x) { return log(x); }

template <typename T>
__device__ __forceinline__ T flash_minus_infinity() { return (T)__longlong_as_double(0xfff0000000000000LL); }

// The larger of a and b, NaN when either is (the CPU's softmax maximum propagates NaN).
template <typename T>
__device__ __forceinline__ T flash_max(T a, T b) { return (b > a || b != b) ? b : a; }

template <typename T>
__device__ __forceinline__ T flash_warp_max(T v)
{
    for (int offset = 16; offset > 0; offset >>= 1) v = flash_max(v, __shfl_xor_sync(FULL_WARP, v, offset));
    return v;
}

// The element offset of matrix b (row-major over the batch dimensions, all but the layout's last two).
__device__ __forceinline__ i64 flash_matrix(const Strided& s, i64 b)
{
    i64 offset = 0;
    for (int d = s.ndim - 3; d >= 0; --d)
    {
        offset += (b % s.sizes[d]) * s.strides[d];
        b /= s.sizes[d];
    }
    return offset;
}

__device__ __forceinline__ i64 flash_row_stride(const Strided& s) { return s.strides[s.ndim - 2]; }
__device__ __forceinline__ i64 flash_col_stride(const Strided& s) { return s.strides[s.ndim - 1]; }

// Copies rows [first, first + count) of a (rows, cols) matrix into a shared tile of `tile` rows with row stride
// `stride`, zeros past the matrix's end. All threads of the block take part.
template <typename T>
__device__ void flash_load(T* tile, int tile_rows, int stride, const T* m, i64 row_stride, i64 col_stride, int first, int count, int cols)
{
    for (int i = threadIdx.x; i < tile_rows * cols; i += blockDim.x)
    {
        int r = i / cols, c = i % cols;
        tile[r * stride + c] = r < count ? m[(i64)(first + r) * row_stride + c * col_stride] : (T)0;
    }
}

template <typename T>
__device__ void flash_attention_forward(const T* q, Strided qs, const T* k, Strided ks, const T* v, Strided vs,
                                        T* o, Strided os, T* lse, i64 batch, int L, int S, int E, int Ev, double scale)
{
    const int R = FLASH_FORWARD_ROWS, rows = FLASH_WARPS * R;
    const int kstride = E | 1;   // odd: lane j reading column e of key j hits bank (j · kstride + e) mod 32
    T* sk = (T*)flash_shared;                // [FLASH_TILE][kstride]
    T* sv = sk + FLASH_TILE * kstride;       // [FLASH_TILE][Ev]
    T* sq = sv + FLASH_TILE * Ev;            // [rows][E]
    T* sp = sq + rows * E;                   // [rows][FLASH_TILE]
    const T minus_inf = flash_minus_infinity<T>(), sc = (T)scale;
    int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    i64 tiles = (L + rows - 1) / rows;
    for (i64 item = blockIdx.x; item < batch * tiles; item += gridDim.x)
    {
        i64 b = item / tiles;
        int q0 = (int)(item % tiles) * rows;
        const T* km = k + flash_matrix(ks, b);
        const T* vm = v + flash_matrix(vs, b);
        __syncthreads();   // the previous item's tiles have been read
        flash_load(sq, rows, E, q + flash_matrix(qs, b), flash_row_stride(qs), flash_col_stride(qs), q0, L - q0, E);
        T m[R], l[R], acc[R][FLASH_CHUNKS];
#pragma unroll
        for (int r = 0; r < R; ++r)
        {
            m[r] = minus_inf;
            l[r] = 0;
#pragma unroll
            for (int c = 0; c < FLASH_CHUNKS; ++c) acc[r][c] = 0;
        }
        for (int k0 = 0; k0 < S; k0 += FLASH_TILE)
        {
            int n = S - k0 < FLASH_TILE ? S - k0 : FLASH_TILE;
            __syncthreads();   // the previous key tile has been read
            flash_load(sk, FLASH_TILE, kstride, km, flash_row_stride(ks), flash_col_stride(ks), k0, n, E);
            flash_load(sv, FLASH_TILE, Ev, vm, flash_row_stride(vs), flash_col_stride(vs), k0, n, Ev);
            __syncthreads();
            // Logits of key k0 + lane against the warp's rows: each key element is read once for all of them.
            T s[R];
#pragma unroll
            for (int r = 0; r < R; ++r) s[r] = 0;
            for (int e = 0; e < E; ++e)
            {
                T kv = sk[lane * kstride + e];
#pragma unroll
                for (int r = 0; r < R; ++r) s[r] += sq[(warp * R + r) * E + e] * kv;
            }
#pragma unroll
            for (int r = 0; r < R; ++r)
            {
                T logit = lane < n ? s[r] * sc : minus_inf;
                T grown = flash_max(m[r], flash_warp_max(logit));
                // exp(-inf - x) is 0 but exp(-inf - -inf) is NaN: a maximum or a logit still at -inf contributes 0.
                T alpha = m[r] == minus_inf ? (T)0 : flash_exp(m[r] - grown);
                T p = logit == minus_inf ? (T)0 : flash_exp(logit - grown);
                l[r] = l[r] * alpha + p;
                m[r] = grown;
                sp[(warp * R + r) * FLASH_TILE + lane] = p;
#pragma unroll
                for (int c = 0; c < FLASH_CHUNKS; ++c) acc[r][c] *= alpha;
            }
            __syncwarp();
            // acc += p · V over the tile's keys in order; lane owns columns lane, lane + 32, ...
            for (int j = 0; j < n; ++j)
            {
#pragma unroll
                for (int c = 0; c < FLASH_CHUNKS; ++c)
                {
                    int col = lane + 32 * c;
                    if (col >= Ev) break;
                    T vv = sv[j * Ev + col];
#pragma unroll
                    for (int r = 0; r < R; ++r) acc[r][c] += sp[(warp * R + r) * FLASH_TILE + j] * vv;
                }
            }
        }
        T* om = o + flash_matrix(os, b);
        i64 orow = flash_row_stride(os), ocol = flash_col_stride(os);
#pragma unroll
        for (int r = 0; r < R; ++r)
        {
            T sum = (T)warp_sum((double)l[r]);
            int row = q0 + warp * R + r;
            if (row >= L) continue;
            // No keys: the CPU's product over an empty sum is 0.
#pragma unroll
            for (int c = 0; c < FLASH_CHUNKS; ++c)
            {
                int col = lane + 32 * c;
                if (col < Ev) om[row * orow + col * ocol] = S > 0 ? acc[r][c] / sum : (T)0;
            }
            if (lane == 0) lse[b * L + row] = S > 0 ? m[r] + flash_log(sum) : minus_inf;
        }
    }
}

// delta[b, r] = <dO[b, r, :], O[b, r, :]>, the softmax backward's row term (= rowsum(dP ∘ P)), in double. One warp per row.
template <typename T>
__device__ void flash_attention_delta(const T* go, Strided gs, const T* o, Strided os, T* delta, i64 batch, int L, int Ev)
{
    int lane = threadIdx.x % 32;
    WARP_ROW_LOOP(row, batch * L)
    {
        i64 b = row / L;
        int r = (int)(row % L);
        const T* gr = go + flash_matrix(gs, b) + r * flash_row_stride(gs);
        const T* orow = o + flash_matrix(os, b) + r * flash_row_stride(os);
        i64 gc = flash_col_stride(gs), oc = flash_col_stride(os);
        double sum = 0;
        for (int c = lane; c < Ev; c += 32) sum += (double)gr[c * gc] * (double)orow[c * oc];
        sum = warp_sum(sum);
        if (lane == 0) delta[row] = (T)sum;
    }
}

// dK (scaled) and dV for 8 key rows per work item (2 per warp), over every query tile in order; lane i holds
// query q0 + i. Either output may be null (not asked for).
template <typename T>
__device__ void flash_attention_backward_key_value(const T* q, Strided qs, const T* k, Strided ks, const T* v, Strided vs,
                                                   const T* go, Strided gs, const T* lse, const T* delta,
                                                   T* dk, Strided dks, T* dv, Strided dvs,
                                                   i64 batch, int L, int S, int E, int Ev, double scale)
{
    const int R = FLASH_BACKWARD_ROWS, rows = FLASH_WARPS * R;
    const int qstride = E | 1, gstride = Ev | 1;   // odd: lanes reading their own query row hit distinct banks
    T* sq = (T*)flash_shared;                // [FLASH_TILE][qstride]
    T* sg = sq + FLASH_TILE * qstride;       // [FLASH_TILE][gstride]
    T* sk = sg + FLASH_TILE * gstride;       // [rows][E]
    T* sv = sk + rows * E;                   // [rows][Ev]
    T* sp = sv + rows * Ev;                  // [rows][FLASH_TILE]
    T* sds = sp + rows * FLASH_TILE;         // [rows][FLASH_TILE]
    const T sc = (T)scale;
    int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    i64 tiles = (S + rows - 1) / rows;
    for (i64 item = blockIdx.x; item < batch * tiles; item += gridDim.x)
    {
        i64 b = item / tiles;
        int k0 = (int)(item % tiles) * rows;
        const T* qm = q + flash_matrix(qs, b);
        const T* gm = go + flash_matrix(gs, b);
        __syncthreads();   // the previous item's tiles have been read
        flash_load(sk, rows, E, k + flash_matrix(ks, b), flash_row_stride(ks), flash_col_stride(ks), k0, S - k0, E);
        flash_load(sv, rows, Ev, v + flash_matrix(vs, b), flash_row_stride(vs), flash_col_stride(vs), k0, S - k0, Ev);
        T adk[R][FLASH_CHUNKS], adv[R][FLASH_CHUNKS];
#pragma unroll
        for (int r = 0; r < R; ++r)
#pragma unroll
            for (int c = 0; c < FLASH_CHUNKS; ++c) adk[r][c] = adv[r][c] = 0;
        for (int q0 = 0; q0 < L; q0 += FLASH_TILE)
        {
            int n = L - q0 < FLASH_TILE ? L - q0 : FLASH_TILE;
            __syncthreads();   // the previous query tile has been read
            flash_load(sq, FLASH_TILE, qstride, qm, flash_row_stride(qs), flash_col_stride(qs), q0, n, E);
            flash_load(sg, FLASH_TILE, gstride, gm, flash_row_stride(gs), flash_col_stride(gs), q0, n, Ev);
            __syncthreads();
            T li = lane < n ? lse[b * L + q0 + lane] : (T)0, di = lane < n ? delta[b * L + q0 + lane] : (T)0;
            T s[R], dp[R];
#pragma unroll
            for (int r = 0; r < R; ++r) s[r] = dp[r] = 0;
            for (int e = 0; e < E; ++e)
            {
                T qv = sq[lane * qstride + e];
#pragma unroll
                for (int r = 0; r < R; ++r) s[r] += sk[(warp * R + r) * E + e] * qv;
            }
            for (int c = 0; c < Ev; ++c)
            {
                T gv = sg[lane * gstride + c];
#pragma unroll
                for (int r = 0; r < R; ++r) dp[r] += sv[(warp * R + r) * Ev + c] * gv;
            }
#pragma unroll
            for (int r = 0; r < R; ++r)
            {
                T p = lane < n ? flash_exp(s[r] * sc - li) : (T)0;
                sp[(warp * R + r) * FLASH_TILE + lane] = p;
                sds[(warp * R + r) * FLASH_TILE + lane] = p * (dp[r] - di);
            }
            __syncwarp();
            // dV += Pᵀ dO and dK += dSᵀ Q over the tile's queries in order; lane owns columns lane, lane + 32, ...
            for (int i = 0; i < n; ++i)
            {
#pragma unroll
                for (int c = 0; c < FLASH_CHUNKS; ++c)
                {
                    int col = lane + 32 * c;
                    if (dv && col < Ev)
                    {
                        T gv = sg[i * gstride + col];
#pragma unroll
                        for (int r = 0; r < R; ++r) adv[r][c] += sp[(warp * R + r) * FLASH_TILE + i] * gv;
                    }
                    if (dk && col < E)
                    {
                        T qv = sq[i * qstride + col];
#pragma unroll
                        for (int r = 0; r < R; ++r) adk[r][c] += sds[(warp * R + r) * FLASH_TILE + i] * qv;
                    }
                }
            }
        }
        // A null output's layout is empty: it is not read.
        T* dkm = dk ? dk + flash_matrix(dks, b) : dk;
        T* dvm = dv ? dv + flash_matrix(dvs, b) : dv;
        i64 dkrow = dk ? flash_row_stride(dks) : 0, dkcol = dk ? flash_col_stride(dks) : 0;
        i64 dvrow = dv ? flash_row_stride(dvs) : 0, dvcol = dv ? flash_col_stride(dvs) : 0;
#pragma unroll
        for (int r = 0; r < R; ++r)
        {
            int row = k0 + warp * R + r;
            if (row >= S) continue;
#pragma unroll
            for (int c = 0; c < FLASH_CHUNKS; ++c)
            {
                int col = lane + 32 * c;
                if (dkm && col < E) dkm[row * dkrow + col * dkcol] = adk[r][c] * sc;
                if (dvm && col < Ev) dvm[row * dvrow + col * dvcol] = adv[r][c];
            }
        }
    }
}

// dQ (scaled) for 8 query rows per work item (2 per warp), over every key tile in order; lane j holds key k0 + j.
template <typename T>
__device__ void flash_attention_backward_query(const T* q, Strided qs, const T* k, Strided ks, const T* v, Strided vs,
                                               const T* go, Strided gs, const T* lse, const T* delta, T* dq, Strided dqs,
                                               i64 batch, int L, int S, int E, int Ev, double scale)
{
    const int R = FLASH_BACKWARD_ROWS, rows = FLASH_WARPS * R;
    const int kstride = E | 1, vstride = Ev | 1;   // odd: lanes reading their own key row hit distinct banks
    T* sk = (T*)flash_shared;                // [FLASH_TILE][kstride]
    T* sv = sk + FLASH_TILE * kstride;       // [FLASH_TILE][vstride]
    T* sq = sv + FLASH_TILE * vstride;       // [rows][E]
    T* sg = sq + rows * E;                   // [rows][Ev]
    T* sds = sg + rows * Ev;                 // [rows][FLASH_TILE]
    const T sc = (T)scale;
    int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    i64 tiles = (L + rows - 1) / rows;
    for (i64 item = blockIdx.x; item < batch * tiles; item += gridDim.x)
    {
        i64 b = item / tiles;
        int q0 = (int)(item % tiles) * rows;
        const T* km = k + flash_matrix(ks, b);
        const T* vm = v + flash_matrix(vs, b);
        __syncthreads();   // the previous item's tiles have been read
        flash_load(sq, rows, E, q + flash_matrix(qs, b), flash_row_stride(qs), flash_col_stride(qs), q0, L - q0, E);
        flash_load(sg, rows, Ev, go + flash_matrix(gs, b), flash_row_stride(gs), flash_col_stride(gs), q0, L - q0, Ev);
        T lr[R], dr[R], acc[R][FLASH_CHUNKS];
#pragma unroll
        for (int r = 0; r < R; ++r)
        {
            int row = q0 + warp * R + r;
            lr[r] = row < L ? lse[b * L + row] : (T)0;
            dr[r] = row < L ? delta[b * L + row] : (T)0;
#pragma unroll
            for (int c = 0; c < FLASH_CHUNKS; ++c) acc[r][c] = 0;
        }
        for (int k0 = 0; k0 < S; k0 += FLASH_TILE)
        {
            int n = S - k0 < FLASH_TILE ? S - k0 : FLASH_TILE;
            __syncthreads();   // the previous key tile has been read
            flash_load(sk, FLASH_TILE, kstride, km, flash_row_stride(ks), flash_col_stride(ks), k0, n, E);
            flash_load(sv, FLASH_TILE, vstride, vm, flash_row_stride(vs), flash_col_stride(vs), k0, n, Ev);
            __syncthreads();
            T s[R], dp[R];
#pragma unroll
            for (int r = 0; r < R; ++r) s[r] = dp[r] = 0;
            for (int e = 0; e < E; ++e)
            {
                T kv = sk[lane * kstride + e];
#pragma unroll
                for (int r = 0; r < R; ++r) s[r] += sq[(warp * R + r) * E + e] * kv;
            }
            for (int c = 0; c < Ev; ++c)
            {
                T vv = sv[lane * vstride + c];
#pragma unroll
                for (int r = 0; r < R; ++r) dp[r] += sg[(warp * R + r) * Ev + c] * vv;
            }
#pragma unroll
            for (int r = 0; r < R; ++r)
                sds[(warp * R + r) * FLASH_TILE + lane] = lane < n ? flash_exp(s[r] * sc - lr[r]) * (dp[r] - dr[r]) : (T)0;
            __syncwarp();
            // dQ += dS K over the tile's keys in order; lane owns columns lane, lane + 32, ...
            for (int j = 0; j < n; ++j)
            {
#pragma unroll
                for (int c = 0; c < FLASH_CHUNKS; ++c)
                {
                    int col = lane + 32 * c;
                    if (col >= E) break;
                    T kv = sk[j * kstride + col];
#pragma unroll
                    for (int r = 0; r < R; ++r) acc[r][c] += sds[(warp * R + r) * FLASH_TILE + j] * kv;
                }
            }
        }
        T* dqm = dq + flash_matrix(dqs, b);
        i64 drow = flash_row_stride(dqs), dcol = flash_col_stride(dqs);
#pragma unroll
        for (int r = 0; r < R; ++r)
        {
            int row = q0 + warp * R + r;
            if (row >= L) continue;
#pragma unroll
            for (int c = 0; c < FLASH_CHUNKS; ++c)
            {
                int col = lane + 32 * c;
                if (col < E) dqm[row * drow + col * dcol] = acc[r][c] * sc;
            }
        }
    }
}

#define DEFINE_FLASH_ATTENTION(T, N)                                                                                   \
extern "C" __global__ void __launch_bounds__(128) flash_attention_forward_##N(                                        \
    const T* q, Strided qs, const T* k, Strided ks, const T* v, Strided vs, T* o, Strided os, T* lse,                  \
    i64 batch, int L, int S, int E, int Ev, double scale)                                                            \
{ flash_attention_forward<T>(q, qs, k, ks, v, vs, o, os, lse, batch, L, S, E, Ev, scale); }                          \
extern "C" __global__ void flash_attention_delta_##N(const T* go, Strided gs, const T* o, Strided os, T* delta,      \
                                                     i64 batch, int L, int Ev)                                       \
{ flash_attention_delta<T>(go, gs, o, os, delta, batch, L, Ev); }                                                    \
extern "C" __global__ void __launch_bounds__(128) flash_attention_backward_key_value_##N(                             \
    const T* q, Strided qs, const T* k, Strided ks, const T* v, Strided vs, const T* go, Strided gs,                  \
    const T* lse, const T* delta, T* dk, Strided dks, T* dv, Strided dvs, i64 batch, int L, int S, int E, int Ev,      \
    double scale)                                                                                                    \
{ flash_attention_backward_key_value<T>(q, qs, k, ks, v, vs, go, gs, lse, delta, dk, dks, dv, dvs,                   \
                                        batch, L, S, E, Ev, scale); }                                                \
extern "C" __global__ void __launch_bounds__(128) flash_attention_backward_query_##N(                                \
    const T* q, Strided qs, const T* k, Strided ks, const T* v, Strided vs, const T* go, Strided gs,                  \
    const T* lse, const T* delta, T* dq, Strided dqs, i64 batch, int L, int S, int E, int Ev, double scale)          \
{ flash_attention_backward_query<T>(q, qs, k, ks, v, vs, go, gs, lse, delta, dq, dqs, batch, L, S, E, Ev, scale); }

DEFINE_FLASH_ATTENTION(float, f32)
DEFINE_FLASH_ATTENTION(double, f64)
