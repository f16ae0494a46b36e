using System.Numerics;
using System.Runtime.Intrinsics;
using Engine.Cpu;

namespace Engine.Ops;

/// <summary>
/// GEMM operands of a patch convolution (<see cref="ConvGeometry.IsPatchify"/>: kernel = stride, no padding, no
/// dilation), packed straight from the tensors. Patches do not overlap, so the column matrix is a permutation of
/// the input: row (c, ky, kx) of patch (image, oy, ox) is x[image, c, oy·kH + ky, ox·kW + kx]. Along kx a patch row
/// is contiguous in the input, which is what these operands exploit instead of <see cref="ConvOperands"/>'
/// strided copies; the values in the panels are the column matrix's, so the sums are the same.
/// </summary>
internal static unsafe class PatchOperands
{
    /// <summary>
    /// Group <paramref name="group"/>'s patches as B of the forward product W_g · P_g: k step r is row (c, ky, kx)
    /// of the group, lane j patch j of the batch. Each input row segment under a run of patches is transposed
    /// into the panel (<see cref="PatchTranspose.Gather"/>).
    /// </summary>
    public sealed class Columns<T>(ConvGeometry g, T* x, int group) : GemmOperand<T> where T : unmanaged, INumberBase<T>
    {
        private readonly T* _x = x;

        public override void PackPanel(T* dst, long lane0, int lanes, int width, int step0, int steps)
        {
            int taps = g.KH * g.KW;
            for (int at = 0; at < lanes;)
            {
                long patch = lane0 + at;
                int image = (int)(patch / g.OutPlane), pixel = (int)(patch % g.OutPlane);
                int oy = pixel / g.Wo, ox = pixel % g.Wo;
                int len = Math.Min(lanes - at, g.Wo - ox);
                for (int p = 0; p < steps;)
                {
                    int r = step0 + p;
                    int c = group * g.CinG + r / taps, ky = r % taps / g.KW, kx = r % g.KW;
                    int count = Math.Min(g.KW - kx, steps - p);
                    T* src = _x + (((long)image * g.Cin + c) * g.H + (long)oy * g.KH + ky) * g.W + (long)ox * g.KW;
                    PatchTranspose.Gather(src, g.KW, kx, count, len, dst + (long)p * width + at, width);
                    p += count;
                }
                at += len;
            }
            if (lanes < width)
                for (int p = 0; p < steps; p++) new Span<T>(dst + (long)p * width + lanes, width - lanes).Clear();
        }
    }

    /// <summary>
    /// Group <paramref name="group"/>'s patches as A of the transposed weight gradient P_g · gY_gᵀ: lane r is row
    /// (c, ky, kx) of the group, k step p patch p of the batch. A panel's step is a few kx-contiguous pieces of one
    /// patch, copied as they lie.
    /// </summary>
    public sealed class Rows<T>(ConvGeometry g, T* x, int group) : GemmOperand<T> where T : unmanaged, INumberBase<T>
    {
        private readonly T* _x = x;

        public override void PackPanel(T* dst, long lane0, int lanes, int width, int step0, int steps)
        {
            int taps = g.KH * g.KW;
            for (int l = 0; l < lanes;)
            {
                long r = lane0 + l;
                int c = group * g.CinG + (int)(r / taps), ky = (int)(r % taps) / g.KW, kx = (int)(r % g.KW);
                int count = Math.Min(g.KW - kx, lanes - l);
                long rowOffset = ((long)c * g.H + ky) * g.W + kx;
                for (int p = 0; p < steps;)
                {
                    long patch = step0 + (long)p;
                    int image = (int)(patch / g.OutPlane), pixel = (int)(patch % g.OutPlane);
                    int oy = pixel / g.Wo, ox = pixel % g.Wo;
                    int len = Math.Min(steps - p, g.Wo - ox);
                    T* src = _x + (long)image * g.Cin * g.InPlane + rowOffset + (long)oy * g.KH * g.W + (long)ox * g.KW;
                    T* d = dst + (long)p * width + l;
                    if (count * sizeof(T) == 16)
                        for (int q = 0; q < len; q++, src += g.KW, d += width) Vector128.Store(Vector128.Load((byte*)src), (byte*)d);
                    else if (count * sizeof(T) == 32)
                        for (int q = 0; q < len; q++, src += g.KW, d += width) Vector256.Store(Vector256.Load((byte*)src), (byte*)d);
                    else
                        for (int q = 0; q < len; q++, src += g.KW, d += width)
                            for (int j = 0; j < count; j++) d[j] = src[j];
                    p += len;
                }
                l += count;
            }
            if (lanes < width)
                for (int p = 0; p < steps; p++) new Span<T>(dst + (long)p * width + lanes, width - lanes).Clear();
        }
    }

    /// <summary>
    /// Writes group <paramref name="group"/>'s patch gradients of <paramref name="images"/> images (Kg x images·Ho·Wo,
    /// row stride <paramref name="ld"/>) back onto their input gradient <paramref name="gx"/>: every input pixel under a
    /// patch gets its one value, the rows and columns no patch covers (an input not a whole number of patches) get zero.
    /// </summary>
    public static void ScatterPatches<T>(ConvGeometry g, T* cols, long ld, int group, T* gx, int images) where T : unmanaged
    {
        nint cs = (nint)cols, gs = (nint)gx;
        int coveredW = g.Wo * g.KW;
        CpuParallel.For((long)images * g.CinG, (double)g.InPlane, (start, end) =>
        {
            for (long item = start; item < end; item++)
            {
                int image = (int)(item / g.CinG), ci = (int)(item % g.CinG);
                T* plane = (T*)gs + ((long)image * g.Cin + group * g.CinG + ci) * g.InPlane;
                for (int oy = 0; oy < g.Ho; oy++)
                    for (int ky = 0; ky < g.KH; ky++)
                    {
                        T* row = plane + ((long)oy * g.KH + ky) * g.W;
                        T* src = (T*)cs + ((long)ci * g.KH + ky) * g.KW * ld + (long)image * g.OutPlane + (long)oy * g.Wo;
                        PatchTranspose.Scatter(src, ld, g.KW, g.Wo, row);
                        new Span<T>(row + coveredW, g.W - coveredW).Clear();
                    }
                long covered = (long)g.Ho * g.KH * g.W;
                new Span<T>(plane + covered, (int)(g.InPlane - covered)).Clear();
            }
        });
    }
}
