// The AFF token mixer's pieces on interleaved complex data (AdaptiveFilter.Cuda.cs). The complex group-linear
// maps x (N, G·In, P, 2) to y (N, G·Out, P, 2) with w (2, G, In, Out) (real part A, imaginary part B) and an
// optional bias (2, G, Out): y[n, g·Out + o, p] = Σ_i x[n, g·In + i, p] · (A[g,i,o] + i·B[g,i,o]) + bias.
// Sums are accumulated in double and rounded once.

// One thread per output value, positions fastest (coalesced reads of x and writes of y).
template <typename T>
__device__ void complex_group_linear_forward(const T* x, const T* w, const T* bias, T* y,
                                             int batch, int groups, int in, int out, i64 pairs)
{
    i64 weights = (i64)groups * in * out;
    GRID_STRIDE_LOOP(e, (i64)batch * groups * out * pairs)
    {
        i64 p = e % pairs, rest = e / pairs;
        int o = (int)(rest % out);
        rest /= out;
        int g = (int)(rest % groups);
        i64 n = rest / groups;
        const T* xs = x + ((n * groups + g) * in * pairs + p) * 2;
        const T* a = w + (i64)g * in * out + o;
        double re = bias ? (double)bias[g * out + o] : 0.0;
        double im = bias ? (double)bias[(i64)groups * out + g * out + o] : 0.0;
        for (int i = 0; i < in; ++i)
        {
            double xr = (double)xs[i * pairs * 2], xi = (double)xs[i * pairs * 2 + 1];
            double wa = (double)a[i * out], wb = (double)a[weights + i * out];
            re += wa * xr - wb * xi;
            im += wa * xi + wb * xr;
        }
        y[2 * e] = (T)re;
        y[2 * e + 1] = (T)im;
    }
}

// dx[n, g·In + i, p] = Σ_o conj(A + iB)[g,i,o] · gy[n, g·Out + o, p]: one thread per input value.
template <typename T>
__device__ void complex_group_linear_input_grad(const T* gy, const T* w, T* dx,
                                                int batch, int groups, int in, int out, i64 pairs)
{
    i64 weights = (i64)groups * in * out;
    GRID_STRIDE_LOOP(e, (i64)batch * groups * in * pairs)
    {
        i64 p = e % pairs, rest = e / pairs;
        int i = (int)(rest % in);
        rest /= in;
        int g = (int)(rest % groups);
        i64 n = rest / groups;
        const T* gs = gy + ((n * groups + g) * out * pairs + p) * 2;
        const T* a = w + ((i64)g * in + i) * out;
        double re = 0, im = 0;
        for (int o = 0; o < out; ++o)
        {
            double gr = (double)gs[o * pairs * 2], gi = (double)gs[o * pairs * 2 + 1];
            double wa = (double)a[o], wb = (double)a[weights + o];
            re += wa * gr + wb * gi;
            im += wa * gi - wb * gr;
        }
        dx[2 * e] = (T)re;
        dx[2 * e + 1] = (T)im;
    }
}

// dA[g,i,o] = Σ_{n,p} Re(conj(x)·gy) and dB[g,i,o] = Σ_{n,p} Re(conj(i·x)·gy): one warp per weight, its lanes
// over the (n, p) pairs in a fixed order, then the warp's butterfly. dw is (2, G, In, Out).
template <typename T>
__device__ void complex_group_linear_weight_grad(const T* x, const T* gy, T* dw,
                                                 int batch, int groups, int in, int out, i64 pairs)
{
    int lane = threadIdx.x % 32;
    i64 weights = (i64)groups * in * out, count = (i64)batch * pairs;
    WARP_ROW_LOOP(entry, weights)
    {
        int o = (int)(entry % out), i = (int)(entry / out % in), g = (int)(entry / ((i64)in * out));
        double sa = 0, sb = 0;
        for (i64 q = lane; q < count; q += 32)
        {
            i64 n = q / pairs, p = q - n * pairs;
            const T* xv = x + (((n * groups + g) * in + i) * pairs + p) * 2;
            const T* gv = gy + (((n * groups + g) * out + o) * pairs + p) * 2;
            double xr = (double)xv[0], xi = (double)xv[1], gr = (double)gv[0], gi = (double)gv[1];
            sa += xr * gr + xi * gi;
            sb += xr * gi - xi * gr;
        }
        sa = warp_sum(sa);
        sb = warp_sum(sb);
        if (lane == 0)
        {
            dw[entry] = (T)sa;
            dw[weights + entry] = (T)sb;
        }
    }
}

// dbias[0, g, o] = Σ_{n,p} Re gy and dbias[1, g, o] = Σ_{n,p} Im gy: one warp per bias, as the weights.
template <typename T>
__device__ void complex_group_linear_bias_grad(const T* gy, T* db, int batch, int groups, int in, int out, i64 pairs)
{
    int lane = threadIdx.x % 32;
    i64 biases = (i64)groups * out, count = (i64)batch * pairs;
    WARP_ROW_LOOP(entry, biases)
    {
        int o = (int)(entry % out), g = (int)(entry / out);
        double re = 0, im = 0;
        for (i64 q = lane; q < count; q += 32)
        {
            i64 n = q / pairs, p = q - n * pairs;
            const T* gv = gy + (((n * groups + g) * out + o) * pairs + p) * 2;
            re += (double)gv[0];
            im += (double)gv[1];
        }
        re = warp_sum(re);
        im = warp_sum(im);
        if (lane == 0)
        {
            db[entry] = (T)re;
            db[biases + entry] = (T)im;
        }
    }
}

// y = a ⊙ b on complex pairs.
template <typename T>
__device__ void complex_mul_forward(const T* a, const T* b, T* y, i64 pairs)
{
    GRID_STRIDE_LOOP(i, pairs)
    {
        double ar = (double)a[2 * i], ai = (double)a[2 * i + 1], br = (double)b[2 * i], bi = (double)b[2 * i + 1];
        y[2 * i] = (T)(ar * br - ai * bi);
        y[2 * i + 1] = (T)(ar * bi + ai * br);
    }
}

// da = g ⊙ conj(b) and db = g ⊙ conj(a); either may be null.
template <typename T>
__device__ void complex_mul_backward(const T* g, const T* a, const T* b, T* da, T* db, i64 pairs)
{
    GRID_STRIDE_LOOP(i, pairs)
    {
        double gr = (double)g[2 * i], gi = (double)g[2 * i + 1];
        if (da)
        {
            double br = (double)b[2 * i], bi = (double)b[2 * i + 1];
            da[2 * i] = (T)(gr * br + gi * bi);
            da[2 * i + 1] = (T)(gi * br - gr * bi);
        }
        if (db)
        {
            double ar = (double)a[2 * i], ai = (double)a[2 * i + 1];
            db[2 * i] = (T)(gr * ar + gi * ai);
            db[2 * i + 1] = (T)(gi * ar - gr * ai);
        }
    }
}

#define DEFINE_ADAPTIVE_FILTER(T, S)                                                                               \
extern "C" __global__ void complex_group_linear_forward_##S(const T* x, const T* w, const T* bias, T* y,        \
                                                            int batch, int groups, int in, int out, i64 pairs)  \
{ complex_group_linear_forward<T>(x, w, bias, y, batch, groups, in, out, pairs); }                              \
extern "C" __global__ void complex_group_linear_input_grad_##S(const T* gy, const T* w, T* dx,                  \
                                                               int batch, int groups, int in, int out, i64 pairs) \
{ complex_group_linear_input_grad<T>(gy, w, dx, batch, groups, in, out, pairs); }                               \
extern "C" __global__ void complex_group_linear_weight_grad_##S(const T* x, const T* gy, T* dw,                 \
                                                                int batch, int groups, int in, int out, i64 pairs) \
{ complex_group_linear_weight_grad<T>(x, gy, dw, batch, groups, in, out, pairs); }                              \
extern "C" __global__ void complex_group_linear_bias_grad_##S(const T* gy, T* db,                               \
                                                              int batch, int groups, int in, int out, i64 pairs) \
{ complex_group_linear_bias_grad<T>(gy, db, batch, groups, in, out, pairs); }                                   \
extern "C" __global__ void complex_mul_forward_##S(const T* a, const T* b, T* y, i64 pairs)                     \
{ complex_mul_forward<T>(a, b, y, pairs); }                                                                     \
extern "C" __global__ void complex_mul_backward_##S(const T* g, const T* a, const T* b, T* da, T* db, i64 pairs) \
{ complex_mul_backward<T>(g, a, b, da, db, pairs); }

DEFINE_ADAPTIVE_FILTER(float, f32)
DEFINE_ADAPTIVE_FILTER(double, f64)
