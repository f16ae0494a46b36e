using System.Numerics;
using System.Runtime.Intrinsics;
using Engine.Cpu;
using Engine.Randomness;

namespace Engine.Ops;

/// <summary>The dropout masks on the CPU (the CUDA side is <c>Dropout.Cuda.cs</c>).</summary>
internal static unsafe class DropoutCpu
{
    /// <summary>Elements made per step: the uniform samples of a step stay in a 4 KiB (F32) or 8 KiB (F64) stack buffer.</summary>
    private const int Step = 1024;

    /// <summary>Replaces each uniform sample u (contiguous) by scale where u &lt; keep and by 0 elsewhere.</summary>
    public static void UniformToMask(Tensor u, double keep, double scale)
    {
        if (u.DType == DType.F32) ToMask<float>(CpuBackend.BasePointer(u), u.NumEl, (float)keep, (float)scale);
        else ToMask<double>(CpuBackend.BasePointer(u), u.NumEl, keep, scale);
    }

    private static void ToMask<T>(nint data, long count, T keep, T scale) where T : unmanaged, IFloatingPointIeee754<T>
    {
        CpuParallel.For(count, 1, (start, end) =>
        {
            T* u = (T*)data;
            for (long i = start; i < end; i++) u[i] = u[i] < keep ? scale : T.Zero;
        });
    }

    /// <summary>
    /// Dropout in one pass over contiguous x, y (and mask, when not null) of one shape: m = scale where u &lt; keep and 0
    /// elsewhere, y = x * m, with u element i of the uniform stream (<paramref name="key"/>, <paramref name="offset"/>)
    /// of x's type: the bits of <c>Tensor.Rand</c>, <see cref="UniformToMask"/> and <c>Mul</c> done one after another.
    /// </summary>
    public static void Fused(Tensor x, Tensor y, Tensor? mask, ulong key, ulong offset, double keep, double scale)
    {
        nint xp = CpuBackend.BasePointer(x), yp = CpuBackend.BasePointer(y), mp = mask is null ? 0 : CpuBackend.BasePointer(mask);
        var width = VectorWidth.Use512 ? PhiloxWidth.V512 : PhiloxWidth.V256;
        bool f32 = x.DType == DType.F32;
        CpuParallel.For(x.NumEl, 8, (start, end) =>
        {
            Span<float> uf = f32 ? stackalloc float[Step] : default;
            Span<double> ud = f32 ? default : stackalloc double[Step];
            for (long s = start; s < end; s += Step)
            {
                int len = (int)Math.Min(Step, end - s);
                if (f32)
                {
                    PhiloxStream.UnitFloats(key, offset, s, uf[..len], width);
                    Apply((float*)xp + s, (float*)yp + s, mp == 0 ? null : (float*)mp + s, uf[..len], (float)keep, (float)scale);
                }
                else
                {
                    PhiloxStream.UnitDoubles(key, offset, s, ud[..len], width);
                    Apply((double*)xp + s, (double*)yp + s, mp == 0 ? null : (double*)mp + s, ud[..len], keep, scale);
                }
            }
        });
    }

    /// <summary>m = u &lt; keep ? scale : 0 (stored when <paramref name="m"/> is not null) and y = x * m for one run.</summary>
    private static void Apply<T>(T* x, T* y, T* m, ReadOnlySpan<T> u, T keep, T scale) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int i = 0, n = u.Length;
        fixed (T* up = u)
        {
            if (VectorWidth.Use512 && Vector512<T>.IsSupported && Vector512.IsHardwareAccelerated)
            {
                var vk = Vector512.Create(keep);
                var vs = Vector512.Create(scale);
                for (; i + Vector512<T>.Count <= n; i += Vector512<T>.Count)
                {
                    var mv = Vector512.ConditionalSelect(Vector512.LessThan(Vector512.Load(up + i), vk), vs, Vector512<T>.Zero);
                    if (m != null) mv.Store(m + i);
                    (Vector512.Load(x + i) * mv).Store(y + i);
                }
            }
            if (Vector256<T>.IsSupported && Vector256.IsHardwareAccelerated)
            {
                var vk = Vector256.Create(keep);
                var vs = Vector256.Create(scale);
                for (; i + Vector256<T>.Count <= n; i += Vector256<T>.Count)
                {
                    var mv = Vector256.ConditionalSelect(Vector256.LessThan(Vector256.Load(up + i), vk), vs, Vector256<T>.Zero);
                    if (m != null) mv.Store(m + i);
                    (Vector256.Load(x + i) * mv).Store(y + i);
                }
            }
        }
        for (; i < n; i++)
        {
            T mv = u[i] < keep ? scale : T.Zero;
            if (m != null) m[i] = mv;
            y[i] = x[i] * mv;
        }
    }
}
