using System.Runtime.Intrinsics;
using Engine.Cpu;

namespace Engine.Ops;

/// <summary>
/// A batch of (channels, plane) tensors as one GEMM operand with the images side by side along k: lane i is channel
/// <c>channel0 + i</c>, k step p is pixel p % plane of image p / plane. A pointwise convolution's weight gradient is
/// then one deep product over the whole batch, gW_g = gY_g · X_gᵀ, both operands packed from the tensors as they lie.
/// </summary>
internal sealed unsafe class PlaneRows<T>(T* data, int channels, int channel0, int plane) : GemmOperand<T> where T : unmanaged
{
    private readonly T* _data = data;

    public override void PackPanel(T* dst, long lane0, int lanes, int width, int step0, int steps)
    {
        for (int at = 0; at < steps;)
        {
            long pixel = step0 + (long)at;
            long image = pixel / plane;
            int offset = (int)(pixel % plane), length = Math.Min(steps - at, plane - offset);
            T* src = _data + (image * channels + channel0 + lane0) * plane + offset;
            GemmPack.Pack(dst + (long)at * width, src, plane, 1, lanes, length, width, 0, 1);
            at += length;
        }
    }
}

/// <summary>
/// A batch of (channels, plane) tensors as a GEMM operand with the images side by side across the lanes: k step i is
/// channel <c>channel0 + i</c>, lane j pixel j % plane of image j / plane. B of a pointwise convolution's forward
/// product W_g · X_g and of W_gᵀ · gY_g (its input gradient, and a patch convolution's patch gradients).
/// </summary>
internal sealed unsafe class PlaneColumns<T>(T* data, int channels, int channel0, int plane) : GemmOperand<T> where T : unmanaged
{
    private readonly T* _data = data;

    public override void PackPanel(T* dst, long lane0, int lanes, int width, int step0, int steps)
    {
        for (int at = 0; at < lanes;)
        {
            long pixel = lane0 + at;
            long image = pixel / plane;
            int offset = (int)(pixel % plane), length = Math.Min(lanes - at, plane - offset);
            T* src = _data + (image * channels + channel0 + step0) * plane + offset;
            for (int p = 0; p < steps; p++) CopyShort(src + (long)p * plane, dst + (long)p * width + at, length);
            at += length;
        }
        if (lanes < width)
            for (int p = 0; p < steps; p++) new Span<T>(dst + (long)p * width + lanes, width - lanes).Clear();
    }

    // A panel's piece of a row: a few dozen elements, where whole vectors and a scalar tail beat a memmove call.
    private static void CopyShort(T* src, T* dst, int n)
    {
        int q = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; q <= n - Vector512<T>.Count; q += Vector512<T>.Count) Vector512.Store(Vector512.Load(src + q), dst + q);
        else if (Vector256.IsHardwareAccelerated)
            for (; q <= n - Vector256<T>.Count; q += Vector256<T>.Count) Vector256.Store(Vector256.Load(src + q), dst + q);
        for (; q < n; q++) dst[q] = src[q];
    }
}
