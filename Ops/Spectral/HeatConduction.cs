using System.Diagnostics;
using Engine.Autograd;
using Engine.Backends;

namespace Engine.Ops;

public static partial class Functional
{
    /// <summary>
    /// vHeat's heat path on channels-last maps, fused: v = IDCT2(DCT2(u) ⊙ decay) with the orthonormal 2-D
    /// DCT over H and W of every channel. The same numbers as
    /// <c>Idct2(Dct2(u_nchw) * decay_chw)</c> permuted back, without the permutes and in one node, whose
    /// backward is gV = DCT2(gv), gu = IDCT2(gV ⊙ decay), gdecay = Σ_b gV ⊙ DCT2(u).
    /// </summary>
    /// <param name="input">u, of shape (B, H, W, C), float32 or float64; a channel slice of a wider tensor is read in place.</param>
    /// <param name="decay">The per-frequency factor, (H, W, C), same dtype; typically <see cref="HeatDecay"/>'s output permuted to channels-last.</param>
    public static Tensor HeatConduction(Tensor input, Tensor decay)
    {
        const string op = "heat_conduction";
        FamilyGuards.Float(op, input);
        FamilyGuards.Float(op, decay, "decay");
        FamilyGuards.SameDevice(op, input, decay, "input", "decay");
        if (input.Rank != 4 || decay.Rank != 3 || !input.Layout.Shape.AsSpan(1).SequenceEqual(decay.Layout.Shape))
            throw new ArgumentException($"{op}: expected input of shape (B, H, W, C) and decay of shape (H, W, C), but got input of shape {FamilyGuards.Shape(input)} and decay of shape {FamilyGuards.Shape(decay)}.");
        if (input.DType != decay.DType)
            throw new ArgumentException($"{op}: expected input and decay of the same dtype, got {input.DType.TorchName()} and {decay.DType.TorchName()} (input of shape {FamilyGuards.Shape(input)}, decay of shape {FamilyGuards.Shape(decay)}).");

        long t0 = Stopwatch.GetTimestamp();
        var shape = input.Layout.Shape;
        using var spectrum = Tensor.Empty(shape, input.DType, input.Device);
        var v = Tensor.Empty(shape, input.DType, input.Device);
        using (var f = FamilyGuards.Dense(decay))
        using (var x = ChannelsLastView(input, out long bs, out long ps))
        {
            HeatTransform(x, bs, ps, spectrum, inverse: false);
            using var filtered = Tensor.Empty(shape, input.DType, input.Device);
            HeatMultiply(spectrum, f, filtered);
            HeatTransform(filtered, (long)shape[1] * shape[2] * shape[3], shape[3], v, inverse: true);
        }

        if (Tape.ShouldRecord(input, decay))
        {
            var su = Tape.Save(spectrum);
            var sf = Tape.Save(decay);
            bool needInput = input.RequiresGrad, needDecay = decay.RequiresGrad;
            Tape.Record(op, [input, decay], [v], g =>
            {
                using var gc = FamilyGuards.Dense(g[0]);
                long plane = (long)shape[1] * shape[2] * shape[3];
                using var gSpectrum = Tensor.Empty(shape, gc.DType, gc.Device);
                HeatTransform(gc, plane, shape[3], gSpectrum, inverse: false);
                Tensor? gu = null, gf = null;
                if (needDecay)
                {
                    gf = Tensor.Empty(decay.Layout.Shape, gc.DType, gc.Device);
                    HeatBatchDot(gSpectrum, su.Value, gf);
                }
                if (needInput)
                {
                    using var f = FamilyGuards.Dense(sf.Value);
                    using var filtered = Tensor.Empty(shape, gc.DType, gc.Device);
                    HeatMultiply(gSpectrum, f, filtered);
                    gu = Tensor.Empty(shape, gc.DType, gc.Device);
                    HeatTransform(filtered, plane, shape[3], gu, inverse: true);
                }
                return [gu, gf];
            }, [su, sf], t0);
        }
        return v;
    }

    /// <summary>The input itself when channels are contiguous and (h, w) merge into one stride, else a dense copy.</summary>
    private static Tensor ChannelsLastView(Tensor t, out long batchStride, out long positionStride)
    {
        var s = t.Layout.Strides; var shape = t.Layout.Shape;
        bool channelsDense = shape[3] <= 1 || s[3] == 1;
        bool positionsMerge = shape[1] <= 1 || shape[2] <= 1 || s[1] == s[2] * shape[2];
        if (channelsDense && positionsMerge)
        {
            positionStride = shape[2] > 1 ? s[2] : shape[1] > 1 ? s[1] : shape[3];
            batchStride = s[0];
            return t.Alias();
        }
        positionStride = shape[3];
        batchStride = (long)shape[1] * shape[2] * shape[3];
        return FamilyGuards.Dense(t);
    }

    /// <summary>The 2-D DCT (or its inverse) over H and W of a channels-last block, into the dense y.</summary>
    private static void HeatTransform(Tensor x, long batchStride, long positionStride, Tensor y, bool inverse)
    {
        switch (y.Device.Type)
        {
            case DeviceType.Cpu: HeatConductionCpu.Transform(x, batchStride, positionStride, y, inverse); break;
            case DeviceType.Cuda: DctChannelsLastCuda.Transform(x, batchStride, positionStride, y, inverse); break;
            default: throw Kernel.Missing(inverse ? "idct2_channels_last" : "dct2_channels_last", y);
        }
    }

    /// <summary>y[b] = x[b] ⊙ f for every image b.</summary>
    private static void HeatMultiply(Tensor x, Tensor f, Tensor y)
    {
        switch (x.Device.Type)
        {
            case DeviceType.Cpu: HeatConductionCpu.Multiply(x, f, y); break;
            case DeviceType.Cuda: HeatConductionCuda.Multiply(x, f, y); break;
            default: throw Kernel.Missing("heat_conduction", x);
        }
    }

    /// <summary>gf = Σ_b g[b] ⊙ u[b], images added in order.</summary>
    private static void HeatBatchDot(Tensor g, Tensor u, Tensor gf)
    {
        switch (g.Device.Type)
        {
            case DeviceType.Cpu: HeatConductionCpu.BatchDot(g, u, gf); break;
            case DeviceType.Cuda: HeatConductionCuda.BatchDot(g, u, gf); break;
            default: throw Kernel.Missing("heat_conduction_backward", g);
        }
    }
}
