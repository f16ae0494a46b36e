using System.Runtime.Intrinsics;

namespace Engine.Ops;

/// <summary>
/// Single-pass F32 SiLU kernels: one sweep over the data with the sigmoid in registers, where the
/// TensorPrimitives composition needs a pass per step (the backward five).
/// </summary>
internal static unsafe class SiluVector
{
    /// <summary>gx = g·s·(1 + x·(1 - s)), s = sigmoid(x), for F32 on AVX2; false otherwise.</summary>
    public static bool TryBackward<T>(ReadOnlySpan<T> g, ReadOnlySpan<T> x, Span<T> gx) where T : unmanaged
    {
        if (typeof(T) != typeof(float) || !Vector256.IsHardwareAccelerated) return false;
        int n = x.Length;
        fixed (T* gp = g, xp = x, op = gx)
        {
            float* gs = (float*)gp, xs = (float*)xp, o = (float*)op;
            var one = Vector256.Create(1f);
            int i = 0;
            for (; i <= n - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                var xv = Vector256.Load(xs + i);
                var s = one / (one + Vector256.Exp(-xv));
                (Vector256.Load(gs + i) * (s * (one + xv * (one - s)))).Store(o + i);
            }
            if (i < n)
            {
                // The tail goes through the same vector formula, padded, so an element's value does not
                // depend on where a thread's chunk happens to end.
                float* gt = stackalloc float[Vector256<float>.Count], xt = stackalloc float[Vector256<float>.Count];
                int rest = n - i;
                for (int k = 0; k < rest; k++) { gt[k] = gs[i + k]; xt[k] = xs[i + k]; }
                var xv = Vector256.Load(xt);
                var s = one / (one + Vector256.Exp(-xv));
                (Vector256.Load(gt) * (s * (one + xv * (one - s)))).Store(gt);
                for (int k = 0; k < rest; k++) o[i + k] = gt[k];
            }
        }
        return true;
    }

    /// <summary>y = x·sigmoid(x) for F32 on AVX2; false otherwise.</summary>
    public static bool TryForward<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged
    {
        if (typeof(T) != typeof(float) || !Vector256.IsHardwareAccelerated) return false;
        int n = x.Length;
        fixed (T* xp = x, yp = y)
        {
            float* xs = (float*)xp, ys = (float*)yp;
            var one = Vector256.Create(1f);
            int i = 0;
            for (; i <= n - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                var xv = Vector256.Load(xs + i);
                (xv / (one + Vector256.Exp(-xv))).Store(ys + i);
            }
            if (i < n)
            {
                float* xt = stackalloc float[Vector256<float>.Count];
                int rest = n - i;
                for (int k = 0; k < rest; k++) xt[k] = xs[i + k];
                var xv = Vector256.Load(xt);
                (xv / (one + Vector256.Exp(-xv))).Store(xt);
                for (int k = 0; k < rest; k++) ys[i + k] = xt[k];
            }
        }
        return true;
    }
}
