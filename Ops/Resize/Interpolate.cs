using System.Diagnostics;
using Engine.Autograd;
using Engine.Backends;

namespace Engine.Ops;

public static partial class Functional
{
    /// <summary>
    /// Resizes the spatial dimensions of an (N, C, H, W) tensor, PyTorch's <c>F.interpolate</c> with its index
    /// arithmetic: "nearest" (PyTorch's legacy nearest: source floor(dst * in / out), or dst / scale_factor), "bilinear" and "bicubic"
    /// (A = -0.75, border taps clamped, source index not clamped at 0 for cubic), half-pixel centres unless
    /// <paramref name="alignCorners"/>. Exactly one of <paramref name="size"/> and <paramref name="scaleFactor"/>
    /// is given; each has one value (both dimensions) or two (H, W). With a scale factor the output size is
    /// floor(in * scale) and the kernel maps indices with 1 / scale, as PyTorch does, unless
    /// <paramref name="recomputeScaleFactor"/>. The backward is the adjoint (a deterministic scatter of the
    /// same weights, summed in a fixed order). No antialiasing. Runs on the CPU (<c>Interpolate.Cpu.cs</c>) and on
    /// CUDA (<c>Interpolate.Cuda.cs</c>, <c>Interpolate.cu</c>), with the same sums in the same order, so the two
    /// devices agree bit for bit.
    /// </summary>
    public static Tensor Interpolate(Tensor input, int[]? size = null, double[]? scaleFactor = null, string mode = "nearest",
        bool? alignCorners = null, bool? recomputeScaleFactor = null)
    {
        const string op = "interpolate";
        FamilyGuards.Float(op, input);
        var kind = mode switch
        {
            "nearest" => ResizeMode.Nearest,
            "bilinear" => ResizeMode.Bilinear,
            "bicubic" => ResizeMode.Bicubic,
            _ => throw new ArgumentException($"{op}: mode '{mode}' is not supported; expected 'nearest', 'bilinear' or 'bicubic' (input shape {FamilyGuards.Shape(input)})."),
        };
        if (input.Rank != 4)
            throw new ArgumentException($"{op}: got {input.Rank}D input of shape {FamilyGuards.Shape(input)}, but {mode} mode needs 4D input (N, C, H, W).");
        if (kind == ResizeMode.Nearest && alignCorners is not null)
            throw new ArgumentException($"{op}: align_corners option can only be set with the interpolating modes: linear | bilinear | bicubic | trilinear (mode '{mode}', input shape {FamilyGuards.Shape(input)}).");
        if (size is not null && scaleFactor is not null)
            throw new ArgumentException($"{op}: only one of size or scale_factor should be defined (input shape {FamilyGuards.Shape(input)}).");
        if (size is null && scaleFactor is null)
            throw new ArgumentException($"{op}: either size or scale_factor should be defined (input shape {FamilyGuards.Shape(input)}).");

        int inH = input.Layout.Shape[2], inW = input.Layout.Shape[3];
        int outH, outW;
        double? scaleH = null, scaleW = null;
        if (size is not null)
        {
            if (size.Length is not (1 or 2))
                throw new ArgumentException($"{op}: size shape must match input shape. Input is 2D, size is {size.Length} (input shape {FamilyGuards.Shape(input)}).");
            (outH, outW) = (size[0], size[^1]);
        }
        else
        {
            if (scaleFactor!.Length is not (1 or 2))
                throw new ArgumentException($"{op}: scale_factor shape must match input shape. Input is 2D, scale_factor is {scaleFactor.Length} (input shape {FamilyGuards.Shape(input)}).");
            double sh = scaleFactor[0], sw = scaleFactor[^1];
            if (!(sh > 0 && sw > 0) || double.IsInfinity(sh) || double.IsInfinity(sw))
                throw new ArgumentException($"{op}: scale_factor must be positive and finite, got ({sh}, {sw}) (input shape {FamilyGuards.Shape(input)}).");
            (outH, outW) = ((int)Math.Floor(inH * sh), (int)Math.Floor(inW * sw));
            if (recomputeScaleFactor != true) (scaleH, scaleW) = (sh, sw);
        }
        if (inH <= 0 || inW <= 0 || outH <= 0 || outW <= 0)
            throw new ArgumentException($"{op}: input and output sizes should be greater than 0, but got input (H: {inH}, W: {inW}) output (H: {outH}, W: {outW}) (input shape {FamilyGuards.Shape(input)}).");

        bool align = alignCorners ?? false;
        var plan = new ResizePlan(kind, input.DType, ResizeTaps.For(kind, input.DType, inH, outH, align, scaleH), ResizeTaps.For(kind, input.DType, inW, outW, align, scaleW));
        return ResizeFunction.Apply(op, mode, input, plan);
    }
}

internal enum ResizeMode { Nearest, Bilinear, Bicubic }

/// <summary>A separable resize: the taps along H and along W.</summary>
internal sealed record ResizePlan(ResizeMode Mode, DType DType, ResizeTaps H, ResizeTaps W);

/// <summary>Forward kernel plus the recorded adjoint, each on the input's device.</summary>
internal static class ResizeFunction
{
    public static Tensor Apply(string op, string mode, Tensor input, ResizePlan plan)
    {
        long t0 = Stopwatch.GetTimestamp();
        var shape = input.Layout.Shape;
        int planes = shape[0] * shape[1];
        var y = Tensor.Empty([shape[0], shape[1], plan.H.OutSize, plan.W.OutSize], input.DType, input.Device);
        if (planes > 0)
        {
            using var x = FamilyGuards.Dense(input);
            Forward(op, plan, x, y, planes);
        }
        if (Tape.ShouldRecord(input))
        {
            Tape.Record($"{op}_{mode}", [input], [y], g =>
            {
                var gx = Tensor.Zeros(shape, g[0].DType, g[0].Device);
                if (planes > 0)
                {
                    using var gd = FamilyGuards.Dense(g[0]);
                    Backward(op, plan, gd, gx, planes);
                }
                return [gx];
            }, null, t0);
        }
        return y;
    }

    private static void Forward(string op, ResizePlan plan, Tensor x, Tensor y, int planes)
    {
        switch (x.Device.Type)
        {
            case DeviceType.Cpu: InterpolateCpu.Forward(plan, x, y, planes); break;
            case DeviceType.Cuda: InterpolateCuda.Forward(plan, x, y, planes); break;
            default: throw Kernel.Missing(op, x);
        }
    }

    private static void Backward(string op, ResizePlan plan, Tensor g, Tensor gx, int planes)
    {
        switch (g.Device.Type)
        {
            case DeviceType.Cpu: InterpolateCpu.Backward(plan, g, gx, planes); break;
            case DeviceType.Cuda: InterpolateCuda.Backward(plan, g, gx, planes); break;
            default: throw Kernel.Missing(op + "_backward", g);
        }
    }
}
