using System.Diagnostics;
using Engine.Autograd;
using Engine.Cpu;

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
        FamilyGuards.Cpu(op, input, decay);
        if (input.Rank != 4 || decay.Rank != 3 || !input.Layout.Shape.AsSpan(1).SequenceEqual(decay.Layout.Shape))
            throw new ArgumentException($"{op}: expected input of shape (B, H, W, C) and decay of shape (H, W, C), but got input of shape {FamilyGuards.Shape(input)} and decay of shape {FamilyGuards.Shape(decay)}.");
        if (input.DType != decay.DType)
            throw new ArgumentException($"{op}: expected input and decay of the same dtype, got {input.DType.TorchName()} and {decay.DType.TorchName()} (input of shape {FamilyGuards.Shape(input)}, decay of shape {FamilyGuards.Shape(decay)}).");

        long t0 = Stopwatch.GetTimestamp();
        var shape = input.Layout.Shape;
        using var spectrum = Tensor.Empty(shape, input.DType);
        var v = Tensor.Empty(shape, input.DType);
        using (var f = FamilyGuards.Dense(decay))
        using (var x = ChannelsLastView(input, out long bs, out long ps))
        {
            HeatConductionKernels.Transform(x, bs, ps, spectrum, inverse: false);
            using var filtered = Tensor.Empty(shape, input.DType);
            HeatConductionKernels.Multiply(spectrum, f, filtered);
            HeatConductionKernels.Transform(filtered, (long)shape[1] * shape[2] * shape[3], shape[3], v, inverse: true);
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
                using var gSpectrum = Tensor.Empty(shape, gc.DType);
                HeatConductionKernels.Transform(gc, plane, shape[3], gSpectrum, inverse: false);
                Tensor? gu = null, gf = null;
                if (needDecay)
                {
                    gf = Tensor.Empty(decay.Layout.Shape, gc.DType);
                    HeatConductionKernels.BatchDot(gSpectrum, su.Value, gf);
                }
                if (needInput)
                {
                    using var f = FamilyGuards.Dense(sf.Value);
                    using var filtered = Tensor.Empty(shape, gc.DType);
                    HeatConductionKernels.Multiply(gSpectrum, f, filtered);
                    gu = Tensor.Empty(shape, gc.DType);
                    HeatConductionKernels.Transform(filtered, plane, shape[3], gu, inverse: true);
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
}

/// <summary>Kernels of <see cref="Functional.HeatConduction"/> on (B, H, W, C) blocks.</summary>
internal static unsafe class HeatConductionKernels
{
    public static void Transform(Tensor x, long batchStride, long positionStride, Tensor y, bool inverse)
    {
        var s = y.Layout.Shape;
        if (x.DType == DType.F32)
            DctChannelsLast.Transform(CpuBackend.Ptr<float>(x), batchStride, positionStride, CpuBackend.Ptr<float>(y), s[0], s[1], s[2], s[3], inverse);
        else
            DctChannelsLast.Transform(CpuBackend.Ptr<double>(x), batchStride, positionStride, CpuBackend.Ptr<double>(y), s[0], s[1], s[2], s[3], inverse);
    }

    /// <summary>y[b] = x[b] ⊙ f for every image b.</summary>
    public static void Multiply(Tensor x, Tensor f, Tensor y)
    {
        if (x.DType == DType.F32) Multiply(CpuBackend.Ptr<float>(x), CpuBackend.Ptr<float>(f), CpuBackend.Ptr<float>(y), x.Layout.Shape[0], f.NumEl);
        else Multiply(CpuBackend.Ptr<double>(x), CpuBackend.Ptr<double>(f), CpuBackend.Ptr<double>(y), x.Layout.Shape[0], f.NumEl);
    }

    /// <summary>gf = Σ_b g[b] ⊙ u[b], images added in order.</summary>
    public static void BatchDot(Tensor g, Tensor u, Tensor gf)
    {
        if (g.DType == DType.F32) BatchDot(CpuBackend.Ptr<float>(g), CpuBackend.Ptr<float>(u), CpuBackend.Ptr<float>(gf), g.Layout.Shape[0], gf.NumEl);
        else BatchDot(CpuBackend.Ptr<double>(g), CpuBackend.Ptr<double>(u), CpuBackend.Ptr<double>(gf), g.Layout.Shape[0], gf.NumEl);
    }

    private static void Multiply<T>(T* x, T* f, T* y, int batch, long plane) where T : unmanaged, System.Numerics.INumber<T>
    {
        nint xs = (nint)x, fs = (nint)f, ys = (nint)y;
        CpuParallel.For(batch, plane, (start, end) =>
        {
            var fv = new ReadOnlySpan<T>((T*)fs, checked((int)plane));
            for (long b = start; b < end; b++)
                System.Numerics.Tensors.TensorPrimitives.Multiply(new ReadOnlySpan<T>((T*)xs + b * plane, (int)plane), fv, new Span<T>((T*)ys + b * plane, (int)plane));
        });
    }

    private static void BatchDot<T>(T* g, T* u, T* gf, int batch, long plane) where T : unmanaged, System.Numerics.INumber<T>
    {
        nint gs = (nint)g, us = (nint)u, fs = (nint)gf;
        CpuParallel.For(plane, batch, (start, end) =>
        {
            T* o = (T*)fs;
            for (long i = start; i < end; i++) o[i] = T.Zero;
            for (int b = 0; b < batch; b++)
            {
                T* gb = (T*)gs + b * plane, ub = (T*)us + b * plane;
                for (long i = start; i < end; i++) o[i] += gb[i] * ub[i];
            }
        });
    }
}
