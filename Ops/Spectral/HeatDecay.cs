using System.Diagnostics;
using Engine.Autograd;
using Engine.Backends;

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
        if (k.Rank < 2)
            throw new ArgumentException($"{op}: expected k of shape (*, H, W) with at least 2 dimensions, but got k of shape {FamilyGuards.Shape(k)}.");

        long t0 = Stopwatch.GetTimestamp();
        var shape = k.Layout.Shape;
        int h = shape[^2], w = shape[^1];
        var f = Tensor.Empty(shape, k.DType, k.Device);
        using (var kc = FamilyGuards.Dense(k))
            HeatDecayForward(kc, f, h, w);

        if (Tape.ShouldRecord(k))
        {
            var sf = Tape.Save(f);
            Tape.Record(op, [k], [f], g =>
            {
                using var gc = FamilyGuards.Dense(g[0]);
                var gk = Tensor.Empty(shape, gc.DType, gc.Device);
                HeatDecayBackward(gc, sf.Value, gk, h, w);
                return [gk];
            }, [sf], t0);
        }
        return f;
    }

    private static void HeatDecayForward(Tensor k, Tensor f, int h, int w)
    {
        switch (k.Device.Type)
        {
            case DeviceType.Cpu: HeatDecayCpu.Forward(k, f, DctBases.Omega(h, w)); break;
            case DeviceType.Cuda: HeatDecayCuda.Forward(k, f, h, w); break;
            default: throw Kernel.Missing("heat_decay", k);
        }
    }

    private static void HeatDecayBackward(Tensor g, Tensor f, Tensor gk, int h, int w)
    {
        switch (g.Device.Type)
        {
            case DeviceType.Cpu: HeatDecayCpu.Backward(g, f, gk, DctBases.Omega(h, w)); break;
            case DeviceType.Cuda: HeatDecayCuda.Backward(g, f, gk, h, w); break;
            default: throw Kernel.Missing("heat_decay_backward", g);
        }
    }
}
