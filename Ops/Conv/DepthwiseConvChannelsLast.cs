using System.Diagnostics;
using Engine.Autograd;
using Engine.Backends;

namespace Engine.Ops;

public static partial class Functional
{
    /// <summary>
    /// Depthwise 2-D convolution on channels-last maps with "same" zero padding and stride 1: input
    /// (N, H, W, C), weight (C, 1, kH, kW) with odd kH and kW (PyTorch's layout for groups = C), optional
    /// bias (C); output (N, H, W, C). The same numbers as <see cref="Conv2d"/> with groups = C and padding
    /// (kH/2, kW/2) on the NCHW permutation, computed along the contiguous channels, which suits the small
    /// maps where the planar kernel spends its time on per-plane setup. Runs on the CPU
    /// (<c>DepthwiseConvChannelsLast.Cpu.cs</c>) and on CUDA (<c>DepthwiseConvChannelsLast.Cuda.cs</c>).
    /// </summary>
    /// <param name="input">(N, H, W, C), F32 or F64, any strides.</param>
    /// <param name="weight">(C, 1, kH, kW), kH and kW odd.</param>
    /// <param name="bias">Optional (C).</param>
    public static Tensor DepthwiseConv2dChannelsLast(Tensor input, Tensor weight, Tensor? bias = null)
    {
        const string op = "depthwise_conv2d_channels_last";
        FamilyGuards.Float(op, input);
        FamilyGuards.Float(op, weight, "weight");
        if (bias is not null) FamilyGuards.Float(op, bias, "bias");
        FamilyGuards.SameDevice(op, input, weight, "input", "weight");
        if (bias is not null) FamilyGuards.SameDevice(op, input, bias, "input", "bias");
        var s = input.Layout.Shape; var ws = weight.Layout.Shape;
        if (s.Length != 4 || ws.Length != 4 || ws[0] != s[3] || ws[1] != 1 || ws[2] % 2 == 0 || ws[3] % 2 == 0
            || bias is not null && (bias.Rank != 1 || bias.Layout.Shape[0] != s[3]))
            throw new ArgumentException($"{op}: expected input (N, H, W, C), weight (C, 1, kH, kW) with odd kH and kW, and bias (C), but got input of shape {FamilyGuards.Shape(input)}, weight of shape {FamilyGuards.Shape(weight)}" + (bias is null ? "." : $" and bias of shape {FamilyGuards.Shape(bias)}."));
        if (weight.DType != input.DType || bias is not null && bias.DType != input.DType)
            throw new ArgumentException($"{op}: expected input, weight and bias of one dtype, got {input.DType.TorchName()}, {weight.DType.TorchName()}" + (bias is null ? "" : $" and {bias.DType.TorchName()}") + $" (input of shape {FamilyGuards.Shape(input)}).");

        long t0 = Stopwatch.GetTimestamp();
        var geometry = new ChannelsLastGeometry(s[0], s[1], s[2], s[3], ws[2], ws[3]);
        var y = Tensor.Empty(s, input.DType, input.Device);
        var x = FamilyGuards.Dense(input);
        using (var w = FamilyGuards.Dense(weight))
        using (var b = bias is null ? null : FamilyGuards.Dense(bias))
            ChannelsLastForward(geometry, x, w, b, y);

        if (Tape.ShouldRecord(input, weight, bias))
        {
            bool needX = input.RequiresGrad, needW = weight.RequiresGrad, needB = bias is { RequiresGrad: true };
            var sx = Tape.Save(x); var sw = Tape.Save(weight);
            Tape.Record(op, [input, weight, bias], [y], g =>
            {
                using var gy = FamilyGuards.Dense(g[0]);
                var gx = needX ? Tensor.Empty(s, gy.DType, gy.Device) : null;
                var gw = needW ? Tensor.Empty(ws, gy.DType, gy.Device) : null;
                var gb = needB ? Tensor.Empty([s[3]], gy.DType, gy.Device) : null;
                if (gx is not null)
                {
                    using var w = FamilyGuards.Dense(sw.Value);
                    ChannelsLastInputGradient(geometry, gy, w, gx);
                }
                if (gw is not null || gb is not null) ChannelsLastWeightGradient(geometry, gy, sx.Value, gw, gb);
                return [gx, gw, gb];
            }, [sx, sw], t0);
        }
        x.Dispose();
        return y;
    }

    private static void ChannelsLastForward(ChannelsLastGeometry g, Tensor x, Tensor w, Tensor? b, Tensor y)
    {
        switch (x.Device.Type)
        {
            case DeviceType.Cpu: DepthwiseChannelsLastCpu.Forward(g, x, w, b, y); break;
            case DeviceType.Cuda: DepthwiseChannelsLastCuda.Forward(g, x, w, b, y); break;
            default: throw Kernel.Missing("depthwise_conv2d_channels_last", x);
        }
    }

    private static void ChannelsLastInputGradient(ChannelsLastGeometry g, Tensor gy, Tensor w, Tensor gx)
    {
        switch (gy.Device.Type)
        {
            case DeviceType.Cpu: DepthwiseChannelsLastCpu.InputGradient(g, gy, w, gx); break;
            case DeviceType.Cuda: DepthwiseChannelsLastCuda.InputGradient(g, gy, w, gx); break;
            default: throw Kernel.Missing("depthwise_conv2d_channels_last_backward", gy);
        }
    }

    /// <summary>The weight gradient (C, 1, kH, kW) and the bias gradient (C) into tensors of the parameters' dtype and device; either may be null.</summary>
    private static void ChannelsLastWeightGradient(ChannelsLastGeometry g, Tensor gy, Tensor x, Tensor? gw, Tensor? gb)
    {
        switch (gy.Device.Type)
        {
            case DeviceType.Cpu: DepthwiseChannelsLastCpu.WeightGradient(g, gy, x, gw, gb); break;
            case DeviceType.Cuda: DepthwiseChannelsLastCuda.WeightGradient(g, gy, x, gw, gb); break;
            default: throw Kernel.Missing("depthwise_conv2d_channels_last_backward", gy);
        }
    }
}

/// <summary>The sizes of a channels-last depthwise convolution: (N, H, W, C) maps, an odd (kH, kW) kernel.</summary>
internal sealed record ChannelsLastGeometry(int N, int H, int W, int C, int KH, int KW)
{
    public int Taps => KH * KW;
}
