// The LSTM recurrence, one launch per step for every direction of a group (LstmEngine.Cuda.cs), F32 and F64.
// A group's K directions share N sequences, S steps and the hidden size D; its buffers are (K, slots, N, width),
// and each direction reads its token rows through one of two sequence geometries (the vertical and the horizontal
// scan of a grid). Each thread owns one (direction, sequence n, hidden unit j); a block is a tile of 8 sequences
// (one warp each) by 32 units (one lane each). The step's recurrent product is a small GEMM fused into the step:
// its operand tiles go through shared memory in chunks of 32, and each thread adds its terms in ascending order of
// the inner index, so every sum has a fixed order and the same input gives the same bits on every run.
//
// Forward, step s (time t = s, or S-1-s in reverse): z = P[row] + h_{s}·Uᵀ for the four gates (i, f, g, o) of
// unit j; c' = f·c + i·g; h' = o·tanh(c'). Backward, step s from S-1 down to 0: the recurrent gradient of h is
// dz_{s+1}·U (the previous launch wrote dz_{s+1}), or dh_N at the last step; then the gate gradients, written to dz
// and to the projection's gradient; the cell gradient carried to the step before. No step reads what its own
// launch writes, so a step needs no synchronisation beyond the stream's order.

#define LSTM_TILE_ROWS 8   // sequences per block: one warp each
#define LSTM_TILE_COLS 32  // hidden units per block: one lane each
#define LSTM_TILE_DEPTH 32 // inner-index chunk staged in shared memory

__device__ __forceinline__ float lstm_exp(float x) { return expf(x); }
__device__ __forceinline__ double lstm_exp(double x) { return exp(x); }
__device__ __forceinline__ float lstm_tanh(float x) { return tanhf(x); }
__device__ __forceinline__ double lstm_tanh(double x) { return tanh(x); }

// 1/(1+e^-x): 0 and 1 at the ends without NaN (e^-x = inf gives 0).
template <typename T>
__device__ __forceinline__ T lstm_sigmoid(T x) { return (T)1 / ((T)1 + lstm_exp(-x)); }

// Where a direction's sequences sit among the token rows: sequence n = (n / inner, n % inner) reads time t from
// row (n / inner)·outer_stride + (n % inner)·inner_stride + t·step_stride (SequenceGeometry in LstmPlan.cs).
struct LstmRows
{
    i64 inner, outer_stride, inner_stride, step_stride;
    __device__ __forceinline__ i64 row(i64 n, int t) const
    {
        i64 outer = n / inner;
        return outer * outer_stride + (n - outer * inner) * inner_stride + (i64)t * step_stride;
    }
};

// The tile of one block: direction k, sequences n0 .. n0+7, units j0 .. j0+31; this thread's (n, j).
struct LstmTile
{
    int k, j0, j;
    i64 n0, n;
    bool active;
};

__device__ __forceinline__ LstmTile lstm_tile(i64 tile, i64 sequences, int hidden)
{
    int unit_tiles = (hidden + LSTM_TILE_COLS - 1) / LSTM_TILE_COLS;
    i64 sequence_tiles = (sequences + LSTM_TILE_ROWS - 1) / LSTM_TILE_ROWS;
    LstmTile t;
    t.j0 = (int)(tile % unit_tiles) * LSTM_TILE_COLS;
    i64 rest = tile / unit_tiles;
    t.n0 = (rest % sequence_tiles) * LSTM_TILE_ROWS;
    t.k = (int)(rest / sequence_tiles);
    t.n = t.n0 + threadIdx.x / 32;
    t.j = t.j0 + threadIdx.x % 32;
    t.active = t.n < sequences && t.j < hidden;
    return t;
}

// acc[q] += Σ_{i < depth} a[n, i] · b[i, q·gate_stride + j] for this thread's (n, j), i ascending: a is (sequences,
// depth) with rows lda apart, b (depth, ·) with rows ldb apart. All threads of the block call it together (it
// synchronises); threads outside the matrices stage zeros and their sums are never used.
template <typename T, int G>
__device__ void lstm_tile_product(const T* a, i64 lda, const T* b, i64 ldb, int gate_stride, int depth,
                                  const LstmTile& tile, i64 sequences, int hidden, T* acc)
{
    __shared__ T a_tile[LSTM_TILE_ROWS][LSTM_TILE_DEPTH];
    __shared__ T b_tile[LSTM_TILE_DEPTH][G][LSTM_TILE_COLS];
    int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    int j = tile.j0 + lane;
    for (int i0 = 0; i0 < depth; i0 += LSTM_TILE_DEPTH)
    {
        // Only the chunk's rows are staged and read (the last chunk may be short).
        int chunk = depth - i0 < LSTM_TILE_DEPTH ? depth - i0 : LSTM_TILE_DEPTH;
        if (lane < chunk) a_tile[warp][lane] = tile.n < sequences ? a[tile.n * lda + i0 + lane] : (T)0;
        for (int r = warp; r < chunk * G; r += LSTM_TILE_ROWS)
        {
            int i = r / G, q = r % G;
            b_tile[i][q][lane] = j < hidden ? b[(i64)(i0 + i) * ldb + q * gate_stride + j] : (T)0;
        }
        __syncthreads();
        for (int i = 0; i < chunk; ++i)
        {
            T x = a_tile[warp][i];
            for (int q = 0; q < G; ++q) acc[q] = fma(x, b_tile[i][q][lane], acc[q]);
        }
        __syncthreads();
    }
}

// Forward step `step` of every direction of the group. projection (rows, ·): the input projections with both
// biases, direction k's four gates at columns projection_column + 4D·k + {0, D, 2D, 3D}; weight_hh_t (K, D, 4D)
// holds each direction's Uᵀ; gates (K, S, N, 4D), cells and hiddens (K, S+1, N, D), tanh_c (K, S, N, D); the output
// (rows, ·) gets h at columns output_column + D·k.
template <typename T>
__device__ void lstm_forward_step(const T* projection, int projection_stride, int projection_column, const T* weight_hh_t,
                                  T* gates, T* cells, T* tanh_c, T* hiddens, T* output, int output_stride, int output_column,
                                  int directions, i64 sequences, int hidden, int steps, int step, int reverse_mask, int split,
                                  LstmRows first, LstmRows second)
{
    i64 tiles = directions * ((sequences + LSTM_TILE_ROWS - 1) / LSTM_TILE_ROWS) * ((hidden + LSTM_TILE_COLS - 1) / LSTM_TILE_COLS);
    for (i64 index = blockIdx.x; index < tiles; index += gridDim.x)
    {
        LstmTile tile = lstm_tile(index, sequences, hidden);
        int k = tile.k, d = hidden;
        int t = ((reverse_mask >> k) & 1) ? steps - 1 - step : step;
        i64 row = tile.active ? (k < split ? first : second).row(tile.n, t) : 0;
        const T* p = projection + row * projection_stride + projection_column + (i64)4 * d * k;
        T acc[4];
        for (int q = 0; q < 4; ++q) acc[q] = tile.active ? p[q * d + tile.j] : (T)0;
        i64 state = (i64)sequences * d;
        const T* h_prev = hiddens + ((i64)k * (steps + 1) + step) * state;
        lstm_tile_product<T, 4>(h_prev, d, weight_hh_t + (i64)k * d * 4 * d, 4 * d, d, d, tile, sequences, d, acc);
        if (!tile.active) continue;
        T gi = lstm_sigmoid(acc[0]), gf = lstm_sigmoid(acc[1]), gg = lstm_tanh(acc[2]), go = lstm_sigmoid(acc[3]);
        T* gate = gates + (((i64)k * steps + step) * sequences + tile.n) * 4 * d + tile.j;
        gate[0] = gi; gate[d] = gf; gate[2 * d] = gg; gate[3 * d] = go;
        i64 at = tile.n * d + tile.j;
        T c = fma(gf, cells[((i64)k * (steps + 1) + step) * state + at], gi * gg);
        T tc = lstm_tanh(c);
        T h = go * tc;
        cells[((i64)k * (steps + 1) + step + 1) * state + at] = c;
        tanh_c[((i64)k * steps + step) * state + at] = tc;
        hiddens[((i64)k * (steps + 1) + step + 1) * state + at] = h;
        output[row * output_stride + output_column + (i64)d * k + tile.j] = h;
    }
}

// Backward step `step` (called for step = S-1 down to 0). weight_hh (K, 4D, D) holds each direction's U; dz
// (K, S, N, 4D) receives the gate gradients of this step and holds those of step+1; carry (K, N, D) enters as
// dc·f of step+1 (or dc_N) and leaves as this step's; grad_hn (K, N, D) or null is dh_N, used at the last step.
// The gate gradients also go to grad_projection (rows, ·), in the projection's columns.
template <typename T>
__device__ void lstm_backward_step(const T* grad_output, int output_stride, int output_column, T* grad_projection,
                                   int projection_stride, int projection_column, const T* weight_hh, const T* gates,
                                   const T* cells, const T* tanh_c, T* dz, T* carry, const T* grad_hn,
                                   int directions, i64 sequences, int hidden, int steps, int step, int reverse_mask, int split,
                                   LstmRows first, LstmRows second)
{
    i64 tiles = directions * ((sequences + LSTM_TILE_ROWS - 1) / LSTM_TILE_ROWS) * ((hidden + LSTM_TILE_COLS - 1) / LSTM_TILE_COLS);
    for (i64 index = blockIdx.x; index < tiles; index += gridDim.x)
    {
        LstmTile tile = lstm_tile(index, sequences, hidden);
        int k = tile.k, d = hidden;
        i64 state = (i64)sequences * d, at = tile.n * d + tile.j;
        T recurrent[1] = {(T)0};
        if (step < steps - 1)
            lstm_tile_product<T, 1>(dz + ((i64)k * steps + step + 1) * sequences * 4 * d, 4 * d, weight_hh + (i64)k * 4 * d * d, d, 0,
                                    4 * d, tile, sequences, d, recurrent);
        else if (grad_hn && tile.active)
            recurrent[0] = grad_hn[k * state + at];
        if (!tile.active) continue;
        int t = ((reverse_mask >> k) & 1) ? steps - 1 - step : step;
        i64 row = (k < split ? first : second).row(tile.n, t);
        T e = recurrent[0] + grad_output[row * output_stride + output_column + (i64)d * k + tile.j];
        const T* gate = gates + (((i64)k * steps + step) * sequences + tile.n) * 4 * d + tile.j;
        T gi = gate[0], gf = gate[d], gg = gate[2 * d], go = gate[3 * d];
        T tc = tanh_c[((i64)k * steps + step) * state + at];
        T c_prev = cells[((i64)k * (steps + 1) + step) * state + at];
        T dc = e * go * ((T)1 - tc * tc) + carry[k * state + at];
        T dzi = dc * gg * gi * ((T)1 - gi);
        T dzf = dc * c_prev * gf * ((T)1 - gf);
        T dzg = dc * gi * ((T)1 - gg * gg);
        T dzo = e * tc * go * ((T)1 - go);
        carry[k * state + at] = dc * gf;
        T* out = dz + (((i64)k * steps + step) * sequences + tile.n) * 4 * d + tile.j;
        out[0] = dzi; out[d] = dzf; out[2 * d] = dzg; out[3 * d] = dzo;
        T* gp = grad_projection + row * projection_stride + projection_column + (i64)4 * d * k + tile.j;
        gp[0] = dzi; gp[d] = dzf; gp[2 * d] = dzg; gp[3 * d] = dzo;
    }
}

// The gradient of h0 after the last backward step: dh0 = dz_0·U per direction, into (K, N, D).
template <typename T>
__device__ void lstm_backward_initial(const T* weight_hh, const T* dz, T* dh0, int directions, i64 sequences, int hidden, int steps)
{
    i64 tiles = directions * ((sequences + LSTM_TILE_ROWS - 1) / LSTM_TILE_ROWS) * ((hidden + LSTM_TILE_COLS - 1) / LSTM_TILE_COLS);
    for (i64 index = blockIdx.x; index < tiles; index += gridDim.x)
    {
        LstmTile tile = lstm_tile(index, sequences, hidden);
        int k = tile.k, d = hidden;
        T recurrent[1] = {(T)0};
        lstm_tile_product<T, 1>(dz + (i64)k * steps * sequences * 4 * d, 4 * d, weight_hh + (i64)k * 4 * d * d, d, 0, 4 * d,
                                tile, sequences, d, recurrent);
        if (tile.active) dh0[(k * sequences + tile.n) * d + tile.j] = recurrent[0];
    }
}

#define LSTM_GEOMETRY_PARAMETERS                                                                               \
    i64 first_inner, i64 first_outer_stride, i64 first_inner_stride, i64 first_step_stride,                   \
    i64 second_inner, i64 second_outer_stride, i64 second_inner_stride, i64 second_step_stride
#define LSTM_GEOMETRIES                                                                                        \
    LstmRows{first_inner, first_outer_stride, first_inner_stride, first_step_stride},                         \
    LstmRows{second_inner, second_outer_stride, second_inner_stride, second_step_stride}

#define DEFINE_LSTM(T, S)                                                                                      \
extern "C" __global__ void lstm_forward_step_##S(                                                              \
    const T* projection, int projection_stride, int projection_column, const T* weight_hh_t, T* gates,         \
    T* cells, T* tanh_c, T* hiddens, T* output, int output_stride, int output_column, int directions,          \
    i64 sequences, int hidden, int steps, int step, int reverse_mask, int split, LSTM_GEOMETRY_PARAMETERS)      \
{                                                                                                              \
    lstm_forward_step<T>(projection, projection_stride, projection_column, weight_hh_t, gates, cells, tanh_c,  \
                         hiddens, output, output_stride, output_column, directions, sequences, hidden, steps,  \
                         step, reverse_mask, split, LSTM_GEOMETRIES);                                          \
}                                                                                                              \
extern "C" __global__ void lstm_backward_step_##S(                                                             \
    const T* grad_output, int output_stride, int output_column, T* grad_projection, int projection_stride,     \
    int projection_column, const T* weight_hh, const T* gates, const T* cells, const T* tanh_c, T* dz,         \
    T* carry, const T* grad_hn, int directions, i64 sequences, int hidden, int steps, int step,                \
    int reverse_mask, int split, LSTM_GEOMETRY_PARAMETERS)                                                     \
{                                                                                                              \
    lstm_backward_step<T>(grad_output, output_stride, output_column, grad_projection, projection_stride,       \
                          projection_column, weight_hh, gates, cells, tanh_c, dz, carry, grad_hn, directions,  \
                          sequences, hidden, steps, step, reverse_mask, split, LSTM_GEOMETRIES);               \
}                                                                                                              \
extern "C" __global__ void lstm_backward_initial_##S(const T* weight_hh, const T* dz, T* dh0, int directions,   \
                                                     i64 sequences, int hidden, int steps)                     \
{ lstm_backward_initial<T>(weight_hh, dz, dh0, directions, sequences, hidden, steps); }

DEFINE_LSTM(float, f32)
DEFINE_LSTM(double, f64)
