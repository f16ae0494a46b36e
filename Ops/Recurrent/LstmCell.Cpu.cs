using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Engine.Ops;

/// <summary>
/// The fused LSTM cell of one sequence at one step, forward and backward, on rows of D values. The gate row
/// holds the 4D pre-activations in PyTorch's order i, f, g, o; the forward turns them into activations in
/// place, the backward computes the pre-activation gradients dz from them. Everything, the
/// recurrent product of the row included, runs on <see cref="Vector256{T}"/> with a scalar tail.
/// </summary>
internal static unsafe class LstmCell<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>
    /// gates = projection + hPrev·Uᵀ (with <paramref name="weightHhT"/> = Uᵀ, (D, 4D) row-major); activations in
    /// place; c = f·cPrev + i·g; tanhC = tanh(c); h = o·tanhC, written to <paramref name="h"/> and to <paramref name="output"/>.
    /// </summary>
    public static void Forward(T* gates, T* projection, T* hPrev, T* weightHhT, int d, T* cPrev, T* c, T* tanhC, T* h, T* output)
    {
        RowTimesMatrix(gates, projection, hPrev, d, weightHhT, 4 * d);
        T* i = gates, f = gates + d, g = gates + 2 * d, o = gates + 3 * d;
        int j = 0, width = Vector256<T>.Count;
        if (Vector256.IsHardwareAccelerated)
            for (; j <= d - width; j += width)
            {
                var vi = Sigmoid(Vector256.Load(i + j)); var vf = Sigmoid(Vector256.Load(f + j));
                var vg = Tanh(Vector256.Load(g + j)); var vo = Sigmoid(Vector256.Load(o + j));
                Vector256.Store(vi, i + j); Vector256.Store(vf, f + j); Vector256.Store(vg, g + j); Vector256.Store(vo, o + j);
                var vc = Fma(vf, Vector256.Load(cPrev + j), vi * vg);
                var tc = Tanh(vc);
                var vh = vo * tc;
                Vector256.Store(vc, c + j); Vector256.Store(tc, tanhC + j); Vector256.Store(vh, h + j); Vector256.Store(vh, output + j);
            }
        for (; j < d; j++)
        {
            T vi = T.One / (T.One + T.Exp(-i[j])), vf = T.One / (T.One + T.Exp(-f[j])), vg = T.Tanh(g[j]), vo = T.One / (T.One + T.Exp(-o[j]));
            i[j] = vi; f[j] = vf; g[j] = vg; o[j] = vo;
            c[j] = vf * cPrev[j] + vi * vg;
            tanhC[j] = T.Tanh(c[j]);
            output[j] = h[j] = vo * tanhC[j];
        }
    }

    // Small-span TensorPrimitives calls cost hundreds of nanoseconds each, more than the math on one LSTM row,
    // so the row's activations are computed in registers: sigmoid(x) = 1/(1+e^-x), tanh(x) = 2/(1+e^-2x) - 1
    // (absolute error of a few ulps of 1, and no NaN at either end since e^-x = inf gives the right limits).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<T> Exp(Vector256<T> x) => typeof(T) == typeof(float)
        ? Vector256.Exp(x.AsSingle()).As<float, T>()
        : Vector256.Exp(x.AsDouble()).As<double, T>();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<T> Sigmoid(Vector256<T> x) => Vector256<T>.One / (Vector256<T>.One + Exp(-x));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<T> Tanh(Vector256<T> x) => (Vector256<T>.One + Vector256<T>.One) / (Vector256<T>.One + Exp(-(x + x))) - Vector256<T>.One;

    /// <summary>
    /// From e = dh + gradOutput, the activations in <paramref name="gates"/> and the carried dc·f of the
    /// next step, writes dz (i, f, g, o blocks) to <paramref name="dz"/> and to <paramref name="dProjection"/>
    /// and leaves dc·f (this step's f) in <paramref name="carry"/>. The gates stay as they were, so a second
    /// backward (retainGraph) gives the same result.
    /// </summary>
    public static void Backward(T* gates, T* dh, T* gradOutput, T* tanhC, T* cPrev, T* carry, int d, T* dz, T* dProjection, T* weightHh)
    {
        T* i = gates, f = gates + d, g = gates + 2 * d, o = gates + 3 * d;
        int j = 0, width = Vector256<T>.Count;
        if (Vector256.IsHardwareAccelerated)
        {
            var one = Vector256<T>.One;
            for (; j <= d - width; j += width)
            {
                var e = Vector256.Load(dh + j) + Vector256.Load(gradOutput + j);
                var vi = Vector256.Load(i + j); var vf = Vector256.Load(f + j);
                var vg = Vector256.Load(g + j); var vo = Vector256.Load(o + j);
                var tc = Vector256.Load(tanhC + j);
                var dc = e * vo * (one - tc * tc) + Vector256.Load(carry + j);
                var dzi = dc * vg * vi * (one - vi);
                var dzf = dc * Vector256.Load(cPrev + j) * vf * (one - vf);
                var dzg = dc * vi * (one - vg * vg);
                var dzo = e * tc * vo * (one - vo);
                Vector256.Store(dc * vf, carry + j);
                Vector256.Store(dzi, dz + j); Vector256.Store(dzf, dz + d + j);
                Vector256.Store(dzg, dz + 2 * d + j); Vector256.Store(dzo, dz + 3 * d + j);
                Vector256.Store(dzi, dProjection + j); Vector256.Store(dzf, dProjection + d + j);
                Vector256.Store(dzg, dProjection + 2 * d + j); Vector256.Store(dzo, dProjection + 3 * d + j);
            }
        }
        for (; j < d; j++)
        {
            T e = dh[j] + gradOutput[j], vi = i[j], vf = f[j], vg = g[j], vo = o[j], tc = tanhC[j];
            T dc = e * vo * (T.One - tc * tc) + carry[j];
            T dzi = dc * vg * vi * (T.One - vi);
            T dzf = dc * cPrev[j] * vf * (T.One - vf);
            T dzg = dc * vi * (T.One - vg * vg);
            T dzo = e * tc * vo * (T.One - vo);
            carry[j] = dc * vf;
            dProjection[j] = dz[j] = dzi; dProjection[d + j] = dz[d + j] = dzf;
            dProjection[2 * d + j] = dz[2 * d + j] = dzg; dProjection[3 * d + j] = dz[3 * d + j] = dzo;
        }
        // The recurrent gradient for the previous step: dh = dz·U, U (4D, D). This row's dh was consumed above.
        RowTimesMatrix(dh, null, dz, 4 * d, weightHh, d);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<T> Fma(Vector256<T> a, Vector256<T> b, Vector256<T> c) => typeof(T) == typeof(float)
        ? Vector256.FusedMultiplyAdd(a.AsSingle(), b.AsSingle(), c.AsSingle()).As<float, T>()
        : Vector256.FusedMultiplyAdd(a.AsDouble(), b.AsDouble(), c.AsDouble()).As<double, T>();

    /// <summary>
    /// y = (start or 0) + x·M for one row: x (k), M (k, n) row-major, y (n). Columns go in blocks of up to four
    /// vectors held in registers while the k rows of M stream through; the per-step recurrent products are too
    /// small for a packed GEMM to pay (k and n are D and 4D).
    /// </summary>
    private static void RowTimesMatrix(T* y, T* start, T* x, int k, T* m, int n)
    {
        int width = Vector256<T>.Count, j = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            for (; j + 4 * width <= n; j += 4 * width)
            {
                Vector256<T> a0, a1, a2, a3;
                if (start is null) a0 = a1 = a2 = a3 = Vector256<T>.Zero;
                else { a0 = Vector256.Load(start + j); a1 = Vector256.Load(start + j + width); a2 = Vector256.Load(start + j + 2 * width); a3 = Vector256.Load(start + j + 3 * width); }
                T* row = m + j;
                for (int p = 0; p < k; p++, row += n)
                {
                    var s = Vector256.Create(x[p]);
                    a0 = Fma(s, Vector256.Load(row), a0);
                    a1 = Fma(s, Vector256.Load(row + width), a1);
                    a2 = Fma(s, Vector256.Load(row + 2 * width), a2);
                    a3 = Fma(s, Vector256.Load(row + 3 * width), a3);
                }
                Vector256.Store(a0, y + j); Vector256.Store(a1, y + j + width); Vector256.Store(a2, y + j + 2 * width); Vector256.Store(a3, y + j + 3 * width);
            }
            for (; j + width <= n; j += width)
            {
                // One column vector: four accumulators over k, so the FMAs do not wait on each other.
                var a0 = start is null ? Vector256<T>.Zero : Vector256.Load(start + j);
                Vector256<T> a1 = Vector256<T>.Zero, a2 = Vector256<T>.Zero, a3 = Vector256<T>.Zero;
                T* row = m + j;
                int p = 0;
                for (; p + 4 <= k; p += 4, row += 4L * n)
                {
                    a0 = Fma(Vector256.Create(x[p]), Vector256.Load(row), a0);
                    a1 = Fma(Vector256.Create(x[p + 1]), Vector256.Load(row + n), a1);
                    a2 = Fma(Vector256.Create(x[p + 2]), Vector256.Load(row + 2L * n), a2);
                    a3 = Fma(Vector256.Create(x[p + 3]), Vector256.Load(row + 3L * n), a3);
                }
                for (; p < k; p++, row += n) a0 = Fma(Vector256.Create(x[p]), Vector256.Load(row), a0);
                Vector256.Store((a0 + a1) + (a2 + a3), y + j);
            }
        }
        for (; j < n; j++)
        {
            T a = start is null ? T.Zero : start[j];
            for (int p = 0; p < k; p++) a = T.FusedMultiplyAdd(x[p], m[(long)p * n + j], a);
            y[j] = a;
        }
    }
}
