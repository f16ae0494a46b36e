using System.Diagnostics;
using System.Numerics;
using Engine.Autograd;
using Engine.Cpu;

namespace Engine.Ops;

public static partial class Functional
{
    /// <summary>
    /// Depthwise 2-D convolution on channels-last maps with "same" zero padding and stride 1: input
    /// (N, H, W, C), weight (C, 1, kH, kW) with odd kH and kW (PyTorch's layout for groups = C), optional
    /// bias (C); output (N, H, W, C). The same numbers as <see cref="Conv2d"/> with groups = C and padding
    /// (kH/2, kW/2) on the NCHW permutation, computed along the contiguous channels, which suits the small
    /// maps where the planar kernel spends its time on per-plane setup.
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
        FamilyGuards.Cpu(op, input, weight, bias);
        var s = input.Layout.Shape; var ws = weight.Layout.Shape;
        if (s.Length != 4 || ws.Length != 4 || ws[0] != s[3] || ws[1] != 1 || ws[2] % 2 == 0 || ws[3] % 2 == 0
            || bias is not null && (bias.Rank != 1 || bias.Layout.Shape[0] != s[3]))
            throw new ArgumentException($"{op}: expected input (N, H, W, C), weight (C, 1, kH, kW) with odd kH and kW, and bias (C), but got input of shape {FamilyGuards.Shape(input)}, weight of shape {FamilyGuards.Shape(weight)}" + (bias is null ? "." : $" and bias of shape {FamilyGuards.Shape(bias)}."));
        if (weight.DType != input.DType || bias is not null && bias.DType != input.DType)
            throw new ArgumentException($"{op}: expected input, weight and bias of one dtype, got {input.DType.TorchName()}, {weight.DType.TorchName()}" + (bias is null ? "" : $" and {bias.DType.TorchName()}") + $" (input of shape {FamilyGuards.Shape(input)}).");

        long t0 = Stopwatch.GetTimestamp();
        var geometry = new DepthwiseChannelsLast(s[0], s[1], s[2], s[3], ws[2], ws[3]);
        var y = Tensor.Empty(s, input.DType);
        var x = FamilyGuards.Dense(input);
        using (var taps = TapMajor(weight))
        using (var b = bias is null ? null : FamilyGuards.Dense(bias))
            geometry.Forward(x, taps, b, y);

        if (Tape.ShouldRecord(input, weight, bias))
        {
            bool needX = input.RequiresGrad, needW = weight.RequiresGrad, needB = bias is { RequiresGrad: true };
            var sx = Tape.Save(x); var sw = Tape.Save(weight);
            Tape.Record(op, [input, weight, bias], [y], g =>
            {
                using var gy = FamilyGuards.Dense(g[0]);
                Tensor? gx = null, gw = null, gb = null;
                if (needX)
                {
                    gx = Tensor.Empty(s, gy.DType);
                    using var taps = TapMajor(sw.Value);
                    geometry.InputGradient(gy, taps, gx);
                }
                if (needW || needB)
                {
                    var (gTaps, gBias) = geometry.WeightGradient(gy, sx.Value);
                    if (needW) gw = NormArgs.ToTensor(Transposed(gTaps, geometry.Taps, s[3]), ws, gy.DType);
                    if (needB) gb = NormArgs.ToTensor(gBias, [s[3]], gy.DType);
                }
                return [gx, gw, gb];
            }, [sx, sw], t0);
        }
        x.Dispose();
        return y;
    }

    /// <summary>The weight as (kH·kW, C): one contiguous row of channel values per tap.</summary>
    private static Tensor TapMajor(Tensor weight)
    {
        using var noGrad = Tape.NoGrad();
        var ws = weight.Layout.Shape;
        return weight.Reshape(ws[0], ws[2] * ws[3]).Transpose(0, 1).Contiguous();
    }

    private static double[] Transposed(double[] tapMajor, int taps, int c)
    {
        var r = new double[tapMajor.Length];
        for (int t = 0; t < taps; t++)
            for (int ch = 0; ch < c; ch++) r[ch * taps + t] = tapMajor[t * c + ch];
        return r;
    }
}

/// <summary>The kernels of <see cref="Functional.DepthwiseConv2dChannelsLast"/>: vector AXPYs along the channels, rows split across threads.</summary>
internal sealed unsafe class DepthwiseChannelsLast(int n, int h, int w, int c, int kh, int kw)
{
    public int Taps => kh * kw;

    public void Forward(Tensor x, Tensor taps, Tensor? bias, Tensor y)
    {
        if (x.DType == DType.F32) Correlate(CpuBackend.Ptr<float>(x), CpuBackend.Ptr<float>(taps), bias is null ? null : CpuBackend.Ptr<float>(bias), CpuBackend.Ptr<float>(y), flip: false);
        else Correlate(CpuBackend.Ptr<double>(x), CpuBackend.Ptr<double>(taps), bias is null ? null : CpuBackend.Ptr<double>(bias), CpuBackend.Ptr<double>(y), flip: false);
    }

    public void InputGradient(Tensor gy, Tensor taps, Tensor gx)
    {
        if (gy.DType == DType.F32) Correlate(CpuBackend.Ptr<float>(gy), CpuBackend.Ptr<float>(taps), null, CpuBackend.Ptr<float>(gx), flip: true);
        else Correlate(CpuBackend.Ptr<double>(gy), CpuBackend.Ptr<double>(taps), null, CpuBackend.Ptr<double>(gx), flip: true);
    }

    public (double[] Taps, double[] Bias) WeightGradient(Tensor gy, Tensor x) => gy.DType == DType.F32
        ? Sums(CpuBackend.Ptr<float>(gy), CpuBackend.Ptr<float>(x))
        : Sums(CpuBackend.Ptr<double>(gy), CpuBackend.Ptr<double>(x));

    /// <summary>
    /// out[b, i, j] = bias + Σ_taps tap[ky, kx] ⊙ src[b, i + ky − ph, j + kx − pw] (forward), or with the
    /// offsets negated, which is the adjoint (input gradient from the output gradient).
    /// </summary>
    private void Correlate<T>(T* src, T* taps, T* bias, T* dst, bool flip) where T : unmanaged, INumber<T>
    {
        nint ss = (nint)src, ts = (nint)taps, bs = (nint)bias, ds = (nint)dst;
        int ph = kh / 2, pw = kw / 2;
        CpuParallel.For((long)n * h, (double)w * c * kh * kw, (start, end) =>
        {
            for (long row = start; row < end; row++)
            {
                long b = row / h; int i = (int)(row % h);
                for (int j = 0; j < w; j++)
                {
                    T* o = (T*)ds + ((row * w) + j) * c;
                    if (bs != 0) new ReadOnlySpan<T>((T*)bs, c).CopyTo(new Span<T>(o, c));
                    else new Span<T>(o, c).Clear();
                    for (int ky = 0; ky < kh; ky++)
                    {
                        int ii = flip ? i - ky + ph : i + ky - ph;
                        if ((uint)ii >= (uint)h) continue;
                        for (int kx = 0; kx < kw; kx++)
                        {
                            int jj = flip ? j - kx + pw : j + kx - pw;
                            if ((uint)jj >= (uint)w) continue;
                            MulAdd(o, (T*)ts + (long)(ky * kw + kx) * c, (T*)ss + ((b * h + ii) * w + jj) * c, c);
                        }
                    }
                }
            }
        });
    }

    /// <summary>o += a ⊙ x over <paramref name="len"/> values.</summary>
    private static void MulAdd<T>(T* o, T* a, T* x, int len) where T : unmanaged, INumber<T>
    {
        int lanes = Vector<T>.Count, k = 0;
        for (; k + lanes <= len; k += lanes)
            Vector.Store(Vector.Load(o + k) + Vector.Load(a + k) * Vector.Load(x + k), o + k);
        for (; k < len; k++) o[k] += a[k] * x[k];
    }

    /// <summary>
    /// Σ over images and pixels of gy ⊙ shifted x per tap, and of gy for the bias: rows in blocks fixed by
    /// the shape, each block summed in order by one thread, the blocks then added in order.
    /// </summary>
    private (double[] Taps, double[] Bias) Sums<T>(T* gy, T* x) where T : unmanaged, INumber<T>
    {
        long rows = (long)n * h;
        int blocks = (int)Math.Min(rows, 32);
        long perBlock = blocks == 0 ? 0 : (rows + blocks - 1) / blocks;
        int width = (Taps + 1) * c;
        var partial = new T[blocks * width];
        nint gs = (nint)gy, xs = (nint)x;
        int ph = kh / 2, pw = kw / 2;
        CpuParallel.For(blocks, (double)perBlock * w * c * (Taps + 1), (start, end) =>
        {
            fixed (T* part = partial)
                for (long blk = start; blk < end; blk++)
                {
                    T* acc = part + blk * width;
                    for (long row = blk * perBlock; row < Math.Min(rows, (blk + 1) * perBlock); row++)
                    {
                        long b = row / h; int i = (int)(row % h);
                        for (int j = 0; j < w; j++)
                        {
                            T* g = (T*)gs + (row * w + j) * c;
                            MulAdd(acc + Taps * c, g, One<T>(c), c);
                            for (int ky = 0; ky < kh; ky++)
                            {
                                int ii = i + ky - ph;
                                if ((uint)ii >= (uint)h) continue;
                                for (int kx = 0; kx < kw; kx++)
                                {
                                    int jj = j + kx - pw;
                                    if ((uint)jj >= (uint)w) continue;
                                    MulAdd(acc + (long)(ky * kw + kx) * c, g, (T*)xs + ((b * h + ii) * w + jj) * c, c);
                                }
                            }
                        }
                    }
                }
        });
        var taps = new double[Taps * c];
        var bias = new double[c];
        for (int blk = 0; blk < blocks; blk++)
        {
            for (int t = 0; t < Taps * c; t++) taps[t] += double.CreateTruncating(partial[blk * width + t]);
            for (int ch = 0; ch < c; ch++) bias[ch] += double.CreateTruncating(partial[blk * width + Taps * c + ch]);
        }
        return (taps, bias);
    }

    [ThreadStatic] private static float[]? t_onesF;
    [ThreadStatic] private static double[]? t_onesD;

    /// <summary>A pinned run of ones, so the bias sum is one more MulAdd.</summary>
    private static T* One<T>(int len) where T : unmanaged
    {
        if (typeof(T) == typeof(float))
        {
            if (t_onesF is null || t_onesF.Length < Math.Max(len, 1)) { t_onesF = GC.AllocateArray<float>(Math.Max(len, 1), pinned: true); Array.Fill(t_onesF, 1f); }
            return (T*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref t_onesF[0]);
        }
        if (t_onesD is null || t_onesD.Length < Math.Max(len, 1)) { t_onesD = GC.AllocateArray<double>(Math.Max(len, 1), pinned: true); Array.Fill(t_onesD, 1.0); }
        return (T*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref t_onesD[0]);
    }
}
