using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.Intrinsics;

namespace Engine.Ops;

/// <summary>
/// The fused LSTM cell of one sequence at one step, forward and backward, on rows of D values. The gate row
/// holds the 4D pre-activations in PyTorch's order i, f, g, o; the forward turns them into activations in
/// place, the backward computes the pre-activation gradients dz from them. The elementwise
/// parts run on <see cref="Vector256{T}"/> with a scalar tail; sigmoid and tanh go through
/// <see cref="TensorPrimitives"/>.
/// </summary>
internal static unsafe class LstmCell<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>
    /// gates += projection; activations in place; c = f·cPrev + i·g; tanhC = tanh(c); h = o·tanhC, written
    /// to <paramref name="h"/> and to <paramref name="output"/>.
    /// </summary>
    public static void Forward(T* gates, T* projection, int d, T* cPrev, T* c, T* tanhC, T* h, T* output)
    {
        var z = new Span<T>(gates, 4 * d);
        TensorPrimitives.Add(z, new ReadOnlySpan<T>(projection, 4 * d), z);
        TensorPrimitives.Sigmoid(z[..(2 * d)], z[..(2 * d)]);
        TensorPrimitives.Tanh(z.Slice(2 * d, d), z.Slice(2 * d, d));
        TensorPrimitives.Sigmoid(z.Slice(3 * d, d), z.Slice(3 * d, d));
        T* i = gates, f = gates + d, g = gates + 2 * d, o = gates + 3 * d;
        int j = 0, width = Vector256<T>.Count;
        if (Vector256.IsHardwareAccelerated)
            for (; j <= d - width; j += width)
                Vector256.Store(Vector256.Load(f + j) * Vector256.Load(cPrev + j) + Vector256.Load(i + j) * Vector256.Load(g + j), c + j);
        for (; j < d; j++) c[j] = f[j] * cPrev[j] + i[j] * g[j];
        TensorPrimitives.Tanh(new ReadOnlySpan<T>(c, d), new Span<T>(tanhC, d));
        j = 0;
        if (Vector256.IsHardwareAccelerated)
            for (; j <= d - width; j += width)
            {
                var v = Vector256.Load(o + j) * Vector256.Load(tanhC + j);
                Vector256.Store(v, h + j);
                Vector256.Store(v, output + j);
            }
        for (; j < d; j++) output[j] = h[j] = o[j] * tanhC[j];
    }

    /// <summary>
    /// From e = dh + gradOutput, the activations in <paramref name="gates"/> and the carried dc·f of the
    /// next step, writes dz (i, f, g, o blocks) to <paramref name="dz"/> and to <paramref name="dProjection"/>
    /// and leaves dc·f (this step's f) in <paramref name="carry"/>. The gates stay as they were, so a second
    /// backward (retainGraph) gives the same result.
    /// </summary>
    public static void Backward(T* gates, T* dh, T* gradOutput, T* tanhC, T* cPrev, T* carry, int d, T* dz, T* dProjection)
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
            dz[j] = dzi; dz[d + j] = dzf; dz[2 * d + j] = dzg; dz[3 * d + j] = dzo;
        }
        new ReadOnlySpan<T>(dz, 4 * d).CopyTo(new Span<T>(dProjection, 4 * d));
    }
}
