using System.Numerics;
using Engine.Cpu;

namespace Engine.Ops;

/// <summary>The dropout masks on the CPU (the CUDA side is <c>Dropout.Cuda.cs</c>).</summary>
internal static unsafe class DropoutCpu
{
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
}
