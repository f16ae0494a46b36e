using Engine.Cuda.Kernels;
using Engine.Cuda.Runtime;

namespace Engine.Ops;

/// <summary>
/// The channels-last depthwise convolution on CUDA (<c>DepthwiseConvChannelsLast.cu</c>): one thread per
/// element for the forward and the input gradient (the same correlation, flipped), the weight and bias
/// gradients as per-chunk partial sums in double added in chunk order, so the same input gives the same bits.
/// </summary>
internal static class DepthwiseChannelsLastCuda
{
    private const string Unit = "Conv/DepthwiseConvChannelsLast.cu";

    /// <summary>Pixels a weight-gradient thread sums, about; the chunks follow from the shapes alone.</summary>
    private const long PixelsPerChunk = 512;
    private const long MaxChunks = 1024;

    private static CudaKernel Kernel(Tensor on, string name) =>
        CudaKernels.Get(on.Device, typeof(DepthwiseChannelsLastCuda).Assembly, Unit, $"{name}_{CudaKernels.Suffix(on.DType)}");

    public static void Forward(ChannelsLastGeometry g, Tensor x, Tensor w, Tensor? b, Tensor y) => Correlate(g, x, w, b, y, flip: false);

    public static void InputGradient(ChannelsLastGeometry g, Tensor gy, Tensor w, Tensor gx) => Correlate(g, gy, w, null, gx, flip: true);

    private static void Correlate(ChannelsLastGeometry g, Tensor src, Tensor w, Tensor? b, Tensor dst, bool flip)
    {
        if (dst.NumEl == 0) return;
        var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
        args.Add(src); args.Add(w); args.Add(b); args.Add(dst);
        args.Add(g.N); args.Add(g.H); args.Add(g.W); args.Add(g.C); args.Add(g.KH); args.Add(g.KW); args.Add(flip ? 1 : 0);
        Kernel(src, "dwcl_correlate").Launch(LaunchConfig.ForElements(dst.NumEl), args);
    }

    public static void WeightGradient(ChannelsLastGeometry g, Tensor gy, Tensor x, Tensor? gw, Tensor? gb)
    {
        long rows = (long)g.N * g.H;
        if (rows == 0 || g.C == 0)
        {
            // No pixels (or no channels): the sums are empty.
            if (gw is not null) gw.Backend.Fill(gw, 0);
            if (gb is not null) gb.Backend.Fill(gb, 0);
            return;
        }
        long chunks = Math.Clamp((rows * g.W + PixelsPerChunk - 1) / PixelsPerChunk, 1, Math.Min(MaxChunks, rows));
        using var partials = Tensor.Empty([checked((int)(chunks * (g.Taps + 1) * g.C))], DType.F64, gy.Device);
        {
            var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
            args.Add(gy); args.Add(x); args.Add(partials);
            args.Add(g.N); args.Add(g.H); args.Add(g.W); args.Add(g.C); args.Add(g.KH); args.Add(g.KW); args.Add(chunks);
            Kernel(gy, "dwcl_weight_partials").Launch(LaunchConfig.ForElements(partials.NumEl), args);
        }
        {
            var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
            args.Add(partials); args.Add(gw); args.Add(gb); args.Add(g.C); args.Add(g.Taps); args.Add(chunks);
            Kernel(gy, "dwcl_weight_final").Launch(LaunchConfig.ForElements((long)(g.Taps + 1) * g.C), args);
        }
    }
}
