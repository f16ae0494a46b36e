using System.Numerics;
using System.Runtime.Intrinsics;
using Engine.Autograd;
using Engine.Cpu;

namespace Engine.Ops;

/// <summary>
/// The CPU kernels of <see cref="Functional.DepthwiseConv2dChannelsLast"/>: vector AXPYs along the channels, rows
/// split across threads, the weight read tap-major (kH·kW, C) so that each tap is one contiguous row of channels.
/// A pixel's taps are summed in registers and stored once; 512-bit vectors where <see cref="VectorWidth.Use512"/>
/// holds. Every element gets the same operations in the same order at either width (a product, then a sum, per tap).
/// </summary>
internal sealed unsafe class DepthwiseChannelsLastCpu(int n, int h, int w, int c, int kh, int kw)
{
    public int Taps => kh * kw;

    private DepthwiseChannelsLastCpu(ChannelsLastGeometry g) : this(g.N, g.H, g.W, g.C, g.KH, g.KW) { }

    public static void Forward(ChannelsLastGeometry g, Tensor x, Tensor weight, Tensor? bias, Tensor y)
    {
        var k = new DepthwiseChannelsLastCpu(g);
        using var taps = TapMajor(weight);
        if (x.DType == DType.F32) k.Correlate(CpuBackend.Ptr<float>(x), CpuBackend.Ptr<float>(taps), bias is null ? null : CpuBackend.Ptr<float>(bias), CpuBackend.Ptr<float>(y), flip: false);
        else k.Correlate(CpuBackend.Ptr<double>(x), CpuBackend.Ptr<double>(taps), bias is null ? null : CpuBackend.Ptr<double>(bias), CpuBackend.Ptr<double>(y), flip: false);
    }

    public static void InputGradient(ChannelsLastGeometry g, Tensor gy, Tensor weight, Tensor gx)
    {
        var k = new DepthwiseChannelsLastCpu(g);
        using var taps = TapMajor(weight);
        if (gy.DType == DType.F32) k.Correlate(CpuBackend.Ptr<float>(gy), CpuBackend.Ptr<float>(taps), null, CpuBackend.Ptr<float>(gx), flip: true);
        else k.Correlate(CpuBackend.Ptr<double>(gy), CpuBackend.Ptr<double>(taps), null, CpuBackend.Ptr<double>(gx), flip: true);
    }

    /// <summary>The weight gradient (C, 1, kH, kW) into <paramref name="gw"/> and the bias gradient into <paramref name="gb"/>; either may be null.</summary>
    public static void WeightGradient(ChannelsLastGeometry g, Tensor gy, Tensor x, Tensor? gw, Tensor? gb)
    {
        var k = new DepthwiseChannelsLastCpu(g);
        var (taps, bias) = gy.DType == DType.F32
            ? k.Sums(CpuBackend.Ptr<float>(gy), CpuBackend.Ptr<float>(x))
            : k.Sums(CpuBackend.Ptr<double>(gy), CpuBackend.Ptr<double>(x));
        if (gw is not null)
            for (int ch = 0; ch < g.C; ch++)
                for (int t = 0; t < g.Taps; t++) Store(gw, (long)ch * g.Taps + t, taps[t * g.C + ch]);
        if (gb is not null)
            for (int ch = 0; ch < g.C; ch++) Store(gb, ch, bias[ch]);
    }

    /// <summary>Element <paramref name="i"/> of a contiguous tensor, rounded from double to its dtype.</summary>
    private static void Store(Tensor t, long i, double value)
    {
        if (t.DType == DType.F32) CpuBackend.Ptr<float>(t)[i] = (float)value;
        else CpuBackend.Ptr<double>(t)[i] = value;
    }

    /// <summary>The weight as (kH·kW, C): one contiguous row of channel values per tap.</summary>
    private static Tensor TapMajor(Tensor weight)
    {
        using var noGrad = Tape.NoGrad();
        var ws = weight.Layout.Shape;
        using var rows = weight.Reshape(ws[0], ws[2] * ws[3]);
        using var transposed = rows.Transpose(0, 1);
        return transposed.ContiguousHandle();
    }

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
            // The taps that land inside the image, per output pixel: weight rows and source pixels, in tap order.
            var weights = new nint[kh * kw];
            var sources = new nint[kh * kw];
            for (long row = start; row < end; row++)
            {
                long b = row / h; int i = (int)(row % h);
                for (int j = 0; j < w; j++)
                {
                    int count = 0;
                    for (int ky = 0; ky < kh; ky++)
                    {
                        int ii = flip ? i - ky + ph : i + ky - ph;
                        if ((uint)ii >= (uint)h) continue;
                        for (int kx = 0; kx < kw; kx++)
                        {
                            int jj = flip ? j - kx + pw : j + kx - pw;
                            if ((uint)jj >= (uint)w) continue;
                            weights[count] = (nint)((T*)ts + (long)(ky * kw + kx) * c);
                            sources[count++] = (nint)((T*)ss + ((b * h + ii) * w + jj) * c);
                        }
                    }
                    fixed (nint* wt = weights, sc = sources)
                        Pixel((T*)ds + ((row * w) + j) * c, (T*)bs, wt, sc, count, c);
                }
            }
        });
    }

    /// <summary>
    /// o = bias (or 0) + Σ_t a_t ⊙ x_t over <paramref name="len"/> channels, the taps added in order, each as a
    /// product then a sum (the rounding of one <see cref="MulAdd{T}"/> per tap), kept in registers between taps.
    /// </summary>
    private static void Pixel<T>(T* o, T* bias, nint* a, nint* x, int count, int len) where T : unmanaged, INumber<T>
    {
        int k = 0;
        if (VectorWidth.Use512 && Vector512<T>.IsSupported)
            for (; k + Vector512<T>.Count <= len; k += Vector512<T>.Count)
            {
                var acc = bias == null ? Vector512<T>.Zero : Vector512.Load(bias + k);
                for (int t = 0; t < count; t++) acc += Vector512.Load((T*)a[t] + k) * Vector512.Load((T*)x[t] + k);
                acc.Store(o + k);
            }
        for (; k + Vector<T>.Count <= len; k += Vector<T>.Count)
        {
            var acc = bias == null ? Vector<T>.Zero : Vector.Load(bias + k);
            for (int t = 0; t < count; t++) acc += Vector.Load((T*)a[t] + k) * Vector.Load((T*)x[t] + k);
            acc.Store(o + k);
        }
        for (; k < len; k++)
        {
            T acc = bias == null ? T.Zero : bias[k];
            for (int t = 0; t < count; t++) acc += ((T*)a[t])[k] * ((T*)x[t])[k];
            o[k] = acc;
        }
    }

    /// <summary>o += a ⊙ x over <paramref name="len"/> values.</summary>
    private static void MulAdd<T>(T* o, T* a, T* x, int len) where T : unmanaged, INumber<T>
    {
        int k = 0;
        if (VectorWidth.Use512 && Vector512<T>.IsSupported)
            for (; k + Vector512<T>.Count <= len; k += Vector512<T>.Count)
                Vector512.Store(Vector512.Load(o + k) + Vector512.Load(a + k) * Vector512.Load(x + k), o + k);
        for (; k + Vector<T>.Count <= len; k += Vector<T>.Count)
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
        // Native, not a managed array: at 128 channels the partials pass 85 KB, and a large-object allocation per
        // call brought full garbage collections into the backward.
        using var partialBuffer = new ConvScratch<T>((long)blocks * width, zeroed: true);
        nint ps = (nint)partialBuffer.Ptr;
        nint gs = (nint)gy, xs = (nint)x;
        int ph = kh / 2, pw = kw / 2;
        CpuParallel.For(blocks, (double)perBlock * w * c * (Taps + 1), (start, end) =>
        {
            T* part = (T*)ps;
            for (long blk = start; blk < end; blk++)
            {
                T* acc = part + blk * width;
                long r0 = blk * perBlock, r1 = Math.Min(rows, (blk + 1) * perBlock);
                // 3x3 on 512-bit vectors: whole blocks of channels with the ten sums in registers; the rest below.
                int done = kh == 3 && kw == 3 && VectorWidth.Use512 && Vector512<T>.IsSupported
                    ? Sums3x3((T*)gs, (T*)xs, acc, r0, r1) : 0;
                int len = c - done;
                if (len == 0) continue;
                for (long row = r0; row < r1; row++)
                {
                    long b = row / h; int i = (int)(row % h);
                    for (int j = 0; j < w; j++)
                    {
                        T* g = (T*)gs + (row * w + j) * c + done;
                        MulAdd(acc + Taps * c + done, g, One<T>(len), len);
                        for (int ky = 0; ky < kh; ky++)
                        {
                            int ii = i + ky - ph;
                            if ((uint)ii >= (uint)h) continue;
                            for (int kx = 0; kx < kw; kx++)
                            {
                                int jj = j + kx - pw;
                                if ((uint)jj >= (uint)w) continue;
                                MulAdd(acc + (long)(ky * kw + kx) * c + done, g, (T*)xs + ((b * h + ii) * w + jj) * c + done, len);
                            }
                        }
                    }
                }
            }
        });
        var taps = new double[Taps * c];
        var bias = new double[c];
        T* partial = partialBuffer.Ptr;
        for (int blk = 0; blk < blocks; blk++)
        {
            for (int t = 0; t < Taps * c; t++) taps[t] += double.CreateTruncating(partial[(long)blk * width + t]);
            for (int ch = 0; ch < c; ch++) bias[ch] += double.CreateTruncating(partial[(long)blk * width + Taps * c + ch]);
        }
        return (taps, bias);
    }

    /// <summary>
    /// The 3x3 weight and bias sums of rows [r0, r1) for the channels in whole 512-bit vectors, one block of channels
    /// at a time with its nine tap sums and the bias sum held in registers across the pixels. Each sum still adds
    /// g·x (a product, then a sum) pixel after pixel, as <see cref="MulAdd{T}"/> on the partial row did: the same
    /// bits. Returns how many channels (from 0) it covered.
    /// </summary>
    private int Sums3x3<T>(T* gy, T* x, T* acc, long r0, long r1) where T : unmanaged, INumber<T>
    {
        int lanes = Vector512<T>.Count, covered = c / lanes * lanes;
        long rowLength = (long)w * c;
        for (int k = 0; k < covered; k += lanes)
        {
            T* a = acc + k;
            Vector512<T> s0 = Vector512.Load(a), s1 = Vector512.Load(a + c), s2 = Vector512.Load(a + 2 * c);
            Vector512<T> s3 = Vector512.Load(a + 3 * c), s4 = Vector512.Load(a + 4 * c), s5 = Vector512.Load(a + 5 * c);
            Vector512<T> s6 = Vector512.Load(a + 6 * c), s7 = Vector512.Load(a + 7 * c), s8 = Vector512.Load(a + 8 * c);
            Vector512<T> sb = Vector512.Load(a + 9 * c);
            for (long row = r0; row < r1; row++)
            {
                int i = (int)(row % h);
                bool up = i > 0, down = i < h - 1;
                T* g = gy + row * rowLength + k;
                T* mid = x + row * rowLength + k;
                T* above = mid - rowLength, below = mid + rowLength;
                for (int j = 0; j < w; j++)
                {
                    long at = (long)j * c;
                    var gv = Vector512.Load(g + at);
                    sb += gv;
                    bool left = j > 0, right = j < w - 1;
                    if (up)
                    {
                        if (left) s0 += gv * Vector512.Load(above + at - c);
                        s1 += gv * Vector512.Load(above + at);
                        if (right) s2 += gv * Vector512.Load(above + at + c);
                    }
                    if (left) s3 += gv * Vector512.Load(mid + at - c);
                    s4 += gv * Vector512.Load(mid + at);
                    if (right) s5 += gv * Vector512.Load(mid + at + c);
                    if (down)
                    {
                        if (left) s6 += gv * Vector512.Load(below + at - c);
                        s7 += gv * Vector512.Load(below + at);
                        if (right) s8 += gv * Vector512.Load(below + at + c);
                    }
                }
            }
            s0.Store(a); s1.Store(a + c); s2.Store(a + 2 * c); s3.Store(a + 3 * c); s4.Store(a + 4 * c);
            s5.Store(a + 5 * c); s6.Store(a + 6 * c); s7.Store(a + 7 * c); s8.Store(a + 8 * c); sb.Store(a + 9 * c);
        }
        return covered;
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
