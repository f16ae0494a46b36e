using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Engine.Ops;

/// <summary>
/// Single-pass F32 SiLU kernels: one sweep over the data with the sigmoid in registers, where the
/// TensorPrimitives composition needs a pass per step (the backward five). The exponential is the engine's own
/// float one (<see cref="ExpF32"/>, about 1 ulp): .NET's <c>Vector256.Exp</c> for float widens every lane to double,
/// which made the backward compute-bound. 512-bit lanes where <see cref="VectorWidth.Use512"/>, else 256-bit, with the
/// same operations on every lane in the same order (the same bits; tested). A tail goes through the same vector
/// formula, padded, so an element's value does not depend on where a thread's chunk happens to end.
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
            int i = 0;
            if (VectorWidth.Use512)
                for (; i <= n - 16; i += 16) Derivative(Vector512.Load(gs + i), Vector512.Load(xs + i)).Store(o + i);
            else
                for (; i <= n - 8; i += 8) Derivative(Vector256.Load(gs + i), Vector256.Load(xs + i)).Store(o + i);
            if (i < n)
            {
                float* gt = stackalloc float[8], xt = stackalloc float[8];
                for (; i < n; i += 8)
                {
                    int rest = Math.Min(8, n - i);
                    for (int k = 0; k < rest; k++) { gt[k] = gs[i + k]; xt[k] = xs[i + k]; }
                    Derivative(Vector256.Load(gt), Vector256.Load(xt)).Store(gt);
                    for (int k = 0; k < rest; k++) o[i + k] = gt[k];
                }
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
            int i = 0;
            if (VectorWidth.Use512)
                for (; i <= n - 16; i += 16) Value(Vector512.Load(xs + i)).Store(ys + i);
            else
                for (; i <= n - 8; i += 8) Value(Vector256.Load(xs + i)).Store(ys + i);
            if (i < n)
            {
                float* xt = stackalloc float[8];
                for (; i < n; i += 8)
                {
                    int rest = Math.Min(8, n - i);
                    for (int k = 0; k < rest; k++) xt[k] = xs[i + k];
                    Value(Vector256.Load(xt)).Store(xt);
                    for (int k = 0; k < rest; k++) ys[i + k] = xt[k];
                }
            }
        }
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Value(Vector512<float> x) => x / (Vector512<float>.One + ExpF32.Exp(-x));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Value(Vector256<float> x) => x / (Vector256<float>.One + ExpF32.Exp(-x));

    // 1 - s, not e·s: exp(-x) overflows below x = -88.7, where s = 0 and 1 - s = 1 keep the gradient finite.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Derivative(Vector512<float> g, Vector512<float> x)
    {
        var s = Vector512<float>.One / (Vector512<float>.One + ExpF32.Exp(-x));
        return g * (s * Vector512.FusedMultiplyAdd(x, Vector512<float>.One - s, Vector512<float>.One));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Derivative(Vector256<float> g, Vector256<float> x)
    {
        var s = Vector256<float>.One / (Vector256<float>.One + ExpF32.Exp(-x));
        return g * (s * Vector256.FusedMultiplyAdd(x, Vector256<float>.One - s, Vector256<float>.One));
    }
}
