using System.Numerics;

namespace Engine.Ops;

/// <summary>
/// Conv2d on the CPU: depthwise convolutions by the direct kernels (3x3, padding 1 on planes at most a 512-bit vector wide
/// by <see cref="Depthwise3x3Rows"/>, the rest of stride 1 by the row kernel <see cref="DepthwiseStride1Cpu"/>, other strides by <see cref="DepthwiseConvCpu"/>), the rest
/// as column matrices times the weight (<see cref="ConvGemm"/>); float32 3x3 stride-1 convolutions over enough channels
/// (forward and input gradient) by Winograd's F(2x2, 3x3) (<see cref="WinogradCpu"/>, switched by
/// <see cref="ConvAlgorithms.AllowWinograd"/>); every operand contiguous.
/// </summary>
internal static unsafe class Conv2dCpu
{
    public static void Forward(ConvGeometry g, Tensor x, Tensor w, Tensor? b, Tensor y)
    {
        if (y.DType == DType.F32 && WinogradCpu.Handles(g))
            WinogradCpu.Forward(g, ConvPoolKernels.Ptr<float>(x), ConvPoolKernels.Ptr<float>(w), ConvPoolKernels.Ptr<float>(b), ConvPoolKernels.Ptr<float>(y));
        else if (y.DType == DType.F32) Forward<float>(g, x, w, b, y);
        else Forward<double>(g, x, w, b, y);
    }

    public static void Backward(ConvGeometry g, Tensor? x, Tensor? w, Tensor gy, Tensor? gx, Tensor? gw, Tensor? gb)
    {
        if (gy.DType == DType.F32 && gx is not null && w is not null && WinogradCpu.HandlesInputGradient(g))
        {
            WinogradCpu.InputGradient(g, ConvPoolKernels.Ptr<float>(w), ConvPoolKernels.Ptr<float>(gy), ConvPoolKernels.Ptr<float>(gx));
            gx = null;
        }
        if (gy.DType == DType.F32) Backward<float>(g, x, w, gy, gx, gw, gb);
        else Backward<double>(g, x, w, gy, gx, gw, gb);
    }

    private static void Forward<T>(ConvGeometry g, Tensor x, Tensor w, Tensor? b, Tensor y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (Depthwise3x3Rows.Handles<T>(g)) Depthwise3x3Rows.Forward(g, ConvPoolKernels.Ptr<T>(x), ConvPoolKernels.Ptr<T>(w), ConvPoolKernels.Ptr<T>(b), ConvPoolKernels.Ptr<T>(y));
        else if (DepthwiseStride1Cpu.Handles(g)) DepthwiseStride1Cpu.Forward(g, ConvPoolKernels.Ptr<T>(x), ConvPoolKernels.Ptr<T>(w), ConvPoolKernels.Ptr<T>(b), ConvPoolKernels.Ptr<T>(y));
        else if (g.IsDepthwise) DepthwiseConvCpu.Forward(g, ConvPoolKernels.Ptr<T>(x), ConvPoolKernels.Ptr<T>(w), ConvPoolKernels.Ptr<T>(b), ConvPoolKernels.Ptr<T>(y));
        else ConvGemm.Forward(g, ConvPoolKernels.Ptr<T>(x), ConvPoolKernels.Ptr<T>(w), ConvPoolKernels.Ptr<T>(b), ConvPoolKernels.Ptr<T>(y));
    }

    private static void Backward<T>(ConvGeometry g, Tensor? x, Tensor? w, Tensor gy, Tensor? gx, Tensor? gw, Tensor? gb) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (Depthwise3x3Rows.Handles<T>(g)) Depthwise3x3Rows.Backward(g, ConvPoolKernels.Ptr<T>(x), ConvPoolKernels.Ptr<T>(w), ConvPoolKernels.Ptr<T>(gy), ConvPoolKernels.Ptr<T>(gx), ConvPoolKernels.Ptr<T>(gw), ConvPoolKernels.Ptr<T>(gb));
        else if (DepthwiseStride1Cpu.Handles(g)) DepthwiseStride1Cpu.Backward(g, ConvPoolKernels.Ptr<T>(x), ConvPoolKernels.Ptr<T>(w), ConvPoolKernels.Ptr<T>(gy), ConvPoolKernels.Ptr<T>(gx), ConvPoolKernels.Ptr<T>(gw), ConvPoolKernels.Ptr<T>(gb));
        else if (g.IsDepthwise) DepthwiseConvCpu.Backward(g, ConvPoolKernels.Ptr<T>(x), ConvPoolKernels.Ptr<T>(w), ConvPoolKernels.Ptr<T>(gy), ConvPoolKernels.Ptr<T>(gx), ConvPoolKernels.Ptr<T>(gw), ConvPoolKernels.Ptr<T>(gb));
        else ConvGemm.Backward(g, ConvPoolKernels.Ptr<T>(x), ConvPoolKernels.Ptr<T>(w), ConvPoolKernels.Ptr<T>(gy), ConvPoolKernels.Ptr<T>(gx), ConvPoolKernels.Ptr<T>(gw), ConvPoolKernels.Ptr<T>(gb));
    }
}
