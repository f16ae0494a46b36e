using System.Diagnostics;
using Engine.Autograd;
using Engine.Cpu;

namespace Engine.Ops;

public static partial class Functional
{
    /// <summary>
    /// vHeat's frequency decay: F = exp(-K ⊙ Ω) over the last two axes, where for an (H, W) plane
    /// Ω[n, m] = (nπ/H)² + (mπ/W)² is the squared frequency of DCT coefficient (n, m). The same numbers
    /// as the reference's pow(exp(-Ω), K). One node; the backward is g · (-Ω) · F, so it is exactly 0 at
    /// the DC term (Ω = 0) and everywhere on a 1×1 plane.
    /// </summary>
    /// <param name="k">The thermal diffusivity, shape (*, H, W), float32 or float64, any strides.</param>
    public static Tensor HeatDecay(Tensor k)
    {
        const string op = "heat_decay";
        FamilyGuards.Float(op, k, "k");
        FamilyGuards.Cpu(op, k);
        if (k.Rank < 2)
            throw new ArgumentException($"{op}: expected k of shape (*, H, W) with at least 2 dimensions, but got k of shape {FamilyGuards.Shape(k)}.");

        long t0 = Stopwatch.GetTimestamp();
        var shape = k.Layout.Shape;
        int h = shape[^2], w = shape[^1];
        var omega = DctBases.Omega(h, w);
        var f = Tensor.Empty(shape, k.DType);
        using (var kc = FamilyGuards.Dense(k))
            HeatDecayKernels.Forward(kc, f, omega);

        if (Tape.ShouldRecord(k))
        {
            var sf = Tape.Save(f);
            Tape.Record(op, [k], [f], g =>
            {
                using var gc = FamilyGuards.Dense(g[0]);
                var gk = Tensor.Empty(shape, gc.DType);
                HeatDecayKernels.Backward(gc, sf.Value, gk, omega);
                return [gk];
            }, [sf], t0);
        }
        return f;
    }
}

/// <summary>The elementwise kernels of <see cref="Functional.HeatDecay"/>; Ω repeats every H·W elements.</summary>
internal static unsafe class HeatDecayKernels
{
    public static void Forward(Tensor k, Tensor f, double[] omega)
    {
        if (k.DType == DType.F32) Forward(CpuBackend.Ptr<float>(k), CpuBackend.Ptr<float>(f), k.NumEl, omega);
        else Forward(CpuBackend.Ptr<double>(k), CpuBackend.Ptr<double>(f), k.NumEl, omega);
    }

    public static void Backward(Tensor g, Tensor f, Tensor gk, double[] omega)
    {
        if (g.DType == DType.F32) Backward(CpuBackend.Ptr<float>(g), CpuBackend.Ptr<float>(f), CpuBackend.Ptr<float>(gk), g.NumEl, omega);
        else Backward(CpuBackend.Ptr<double>(g), CpuBackend.Ptr<double>(f), CpuBackend.Ptr<double>(gk), g.NumEl, omega);
    }

    private static void Forward<T>(T* k, T* f, long count, double[] omega) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        if (count == 0) return;
        nint ks = (nint)k, fs = (nint)f;
        int plane = omega.Length;
        CpuParallel.For(count, 20, (start, end) =>
        {
            T* kp = (T*)ks; T* fp = (T*)fs;
            for (long i = start; i < end; i++)
                fp[i] = T.CreateTruncating(Math.Exp(-double.CreateTruncating(kp[i]) * omega[i % plane]));
        });
    }

    private static void Backward<T>(T* g, T* f, T* gk, long count, double[] omega) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        if (count == 0) return;
        nint gs = (nint)g, fs = (nint)f, ks = (nint)gk;
        int plane = omega.Length;
        CpuParallel.For(count, 4, (start, end) =>
        {
            T* gp = (T*)gs; T* fp = (T*)fs; T* kp = (T*)ks;
            for (long i = start; i < end; i++)
                kp[i] = T.CreateTruncating(-omega[i % plane]) * fp[i] * gp[i];
        });
    }
}
