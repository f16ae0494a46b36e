using Engine.Cuda.Kernels;
using Engine.Cuda.Runtime;

namespace Engine.Ops;

/// <summary>
/// Depthwise conv2d (NCHW) on CUDA (<c>DepthwiseConv.cu</c>): one thread per output for the forward and per
/// input element for the input gradient (a gather, no atomics); the weight and bias gradients in two passes,
/// warp sums per (chunk of pixels, channel, tap) then the chunks added in order, so that the same input gives
/// the same bits.
/// </summary>
internal static class DepthwiseConvCuda
{
    private const string Unit = "Conv/DepthwiseConv.cu";
    private const uint Block = 256, WarpsPerBlock = Block / 32;

    /// <summary>Pixels a weight-gradient warp sums (64 per lane): chunks follow from the shapes alone.</summary>
    private const long PixelsPerChunk = 2048;
    private const long MaxChunks = 256;

    private static CudaKernel Kernel(Tensor on, string name) =>
        CudaKernels.Get(on.Device, typeof(DepthwiseConvCuda).Assembly, Unit, $"{name}_{CudaKernels.Suffix(on.DType)}");

    public static void Forward(ConvGeometry g, Tensor x, Tensor w, Tensor? b, Tensor y)
    {
        if (y.NumEl == 0) return;
        var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
        args.Add(x); args.Add(w); args.Add(b); args.Add(y); args.Add((long)g.N);
        AddShape(ref args, g);
        Kernel(x, "depthwise_forward").Launch(LaunchConfig.ForElements(y.NumEl), args);
    }

    public static void Backward(ConvGeometry g, Tensor? x, Tensor? w, Tensor gy, Tensor? gx, Tensor? gw, Tensor? gb)
    {
        if (gx is not null && gx.NumEl > 0)
        {
            var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
            args.Add(w); args.Add(gy); args.Add(gx); args.Add((long)g.N);
            AddShape(ref args, g);
            Kernel(gy, "depthwise_input_grad").Launch(LaunchConfig.ForElements(gx.NumEl), args);
        }
        if (gw is null && gb is null) return;
        long pixels = (long)g.N * g.OutPlane;
        if (pixels == 0)
        {
            // No pixels: the sums are empty.
            if (gw is not null) gw.Backend.Fill(gw, 0);
            if (gb is not null) gb.Backend.Fill(gb, 0);
            return;
        }
        int taps = g.KH * g.KW;
        long chunks = Math.Clamp((pixels + PixelsPerChunk - 1) / PixelsPerChunk, 1, MaxChunks);
        long units = chunks * g.Cout * (taps + 1);
        using var partials = Tensor.Empty([checked((int)units)], DType.F64, gy.Device);
        {
            var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
            args.Add(x); args.Add(gy); args.Add(partials); args.Add((long)g.N);
            AddShape(ref args, g);
            args.Add(chunks); args.Add(gw is null ? 0 : 1); args.Add(gb is null ? 0 : 1);
            var warps = new LaunchConfig((uint)Math.Clamp((units + WarpsPerBlock - 1) / WarpsPerBlock, 1, LaunchConfig.DefaultMaxGrid), Block);
            Kernel(gy, "depthwise_weight_partials").Launch(warps, args);
        }
        {
            var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
            args.Add(partials); args.Add(gw); args.Add(gb); args.Add(g.Cout); args.Add(taps); args.Add(chunks);
            Kernel(gy, "depthwise_weight_final").Launch(LaunchConfig.ForElements((long)g.Cout * (taps + 1)), args);
        }
    }

    /// <summary>The kernels' DepthwiseShape: input channels and plane, output channels, kernel, stride, dilation, top and left padding, output plane.</summary>
    private static void AddShape(ref KernelArgs args, ConvGeometry g)
    {
        args.Add(g.Cin); args.Add(g.H); args.Add(g.W); args.Add(g.Cout); args.Add(g.KH); args.Add(g.KW);
        args.Add(g.SH); args.Add(g.SW); args.Add(g.DH); args.Add(g.DW);
        args.Add(g.PadTop); args.Add(g.PadLeft); args.Add(g.Ho); args.Add(g.Wo);
    }
}
