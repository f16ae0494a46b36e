using System.Collections.Concurrent;
using System.Numerics;

namespace Engine.Ops;

/// <summary>
/// Along one axis, which input indices each output index reads and with what weights: 1 tap for nearest,
/// 2 for bilinear, 4 for bicubic. The index arithmetic is PyTorch's (aten/src/ATen/native/UpSample.h and the
/// CPU upsample kernels), in the same precision: float for F32 inputs, double for F64, and always float for
/// nearest. Built once per (mode, dtype, sizes, align_corners, scale) and kept (<see cref="For"/>); the CUDA side
/// keeps a copy per device beside it (<c>Interpolate.Cuda.cs</c>).
/// </summary>
internal sealed class ResizeTaps
{
    /// <summary>More distinct axes than this (random-size augmentation, say) and the cache starts over.</summary>
    private const int CacheLimit = 512;

    private static readonly ConcurrentDictionary<(ResizeMode, DType, int, int, bool, double?), ResizeTaps> Cache = new();

    public required int InSize { get; init; }
    public required int OutSize { get; init; }
    public required int Taps { get; init; }

    /// <summary>Input index of tap k of output o, at [o * Taps + k].</summary>
    public required int[] Index { get; init; }

    /// <summary>Weight of tap k of output o, as float[] (F32) or double[] (F64).</summary>
    public required Array Weight { get; init; }

    private const double CubicA = -0.75;

    /// <summary>The taps of one axis, from the cache or built.</summary>
    public static ResizeTaps For(ResizeMode mode, DType dtype, int inSize, int outSize, bool alignCorners, double? scale)
    {
        var key = (mode, dtype, inSize, outSize, alignCorners, scale);
        if (Cache.TryGetValue(key, out var taps)) return taps;
        if (Cache.Count >= CacheLimit) Cache.Clear();
        return Cache.GetOrAdd(key, _ => Build(mode, dtype, inSize, outSize, alignCorners, scale));
    }

    /// <summary>
    /// The taps grouped by input index, for an adjoint that gathers: those reading input i are
    /// <c>TapsOf[Start[i] .. Start[i + 1]]</c>, each as o * Taps + k, in increasing order, which is the order in
    /// which the CPU's adjoint adds them.
    /// </summary>
    public (long[] Start, long[] TapsOf) Inverse()
    {
        var start = new long[InSize + 1];
        foreach (int i in Index) start[i + 1]++;
        for (int i = 0; i < InSize; i++) start[i + 1] += start[i];
        var next = start[..InSize];
        var tapsOf = new long[Index.Length];
        for (int tap = 0; tap < Index.Length; tap++) tapsOf[next[Index[tap]]++] = tap;
        return (start, tapsOf);
    }

    private static ResizeTaps Build(ResizeMode mode, DType dtype, int inSize, int outSize, bool alignCorners, double? scale)
    {
        if (mode == ResizeMode.Nearest) return Nearest(dtype, inSize, outSize, scale);
        return dtype == DType.F32 ? Interpolating<float>(mode, inSize, outSize, alignCorners, scale) : Interpolating<double>(mode, inSize, outSize, alignCorners, scale);
    }

    private static ResizeTaps Nearest(DType dtype, int inSize, int outSize, double? scale)
    {
        var index = new int[outSize];
        // floor(o * scale) in float, as PyTorch's CPU kernel computes it for (N, C, H, W) inputs. (PyTorch 1.13
        // takes shortcuts for same size and 2x only on some memory-format paths, C == 1 among them: with a
        // scale factor such as 1.1 that keeps the size, a C == 1 input is copied while C > 1 is resampled.
        // The general rule is kept here whatever C is.)
        float s = scale is > 0 ? (float)(1.0 / scale.Value) : (float)inSize / outSize;
        for (int o = 0; o < outSize; o++)
            index[o] = Math.Min((int)MathF.Floor(o * s), inSize - 1);
        Array weight = dtype == DType.F32 ? Enumerable.Repeat(1f, outSize).ToArray() : Enumerable.Repeat(1.0, outSize).ToArray();
        return new ResizeTaps { InSize = inSize, OutSize = outSize, Taps = 1, Index = index, Weight = weight };
    }

    /// <summary>PyTorch's area_pixel_compute_scale.</summary>
    private static T Scale<T>(int inSize, int outSize, bool alignCorners, double? scale) where T : IFloatingPointIeee754<T>
    {
        if (alignCorners) return outSize > 1 ? T.CreateTruncating(inSize - 1) / T.CreateTruncating(outSize - 1) : T.Zero;
        return scale is > 0 ? T.CreateTruncating(1.0 / scale.Value) : T.CreateTruncating(inSize) / T.CreateTruncating(outSize);
    }

    /// <summary>PyTorch's area_pixel_compute_source_index: half-pixel centres, clamped at 0 except for cubic.</summary>
    private static T Source<T>(T scale, int o, bool alignCorners, bool cubic) where T : IFloatingPointIeee754<T>
    {
        if (alignCorners) return scale * T.CreateTruncating(o);
        var s = scale * (T.CreateTruncating(o) + T.CreateTruncating(0.5)) - T.CreateTruncating(0.5);
        return !cubic && s < T.Zero ? T.Zero : s;
    }

    private static ResizeTaps Interpolating<T>(ResizeMode mode, int inSize, int outSize, bool alignCorners, double? scale) where T : IFloatingPointIeee754<T>
    {
        bool cubic = mode == ResizeMode.Bicubic;
        int taps = cubic ? 4 : 2;
        var index = new int[outSize * taps];
        var weight = new T[outSize * taps];
        T ratio = Scale<T>(inSize, outSize, alignCorners, scale);
        for (int o = 0; o < outSize; o++)
        {
            int at = o * taps;
            if (!cubic)
            {
                if (outSize == inSize)
                {
                    // PyTorch copies when the sizes agree, whatever the scale factor says.
                    (index[at], index[at + 1], weight[at], weight[at + 1]) = (o, o, T.One, T.Zero);
                    continue;
                }
                T src = Source(ratio, o, alignCorners, cubic: false);
                int i0 = Math.Min(int.CreateTruncating(T.Floor(src)), inSize - 1);
                T lambda = T.Clamp(src - T.CreateTruncating(i0), T.Zero, T.One);
                index[at] = i0;
                index[at + 1] = i0 + (i0 < inSize - 1 ? 1 : 0);
                weight[at] = T.One - lambda;
                weight[at + 1] = lambda;
            }
            else
            {
                T src = Source(ratio, o, alignCorners, cubic: true);
                T floor = T.Floor(src);
                int i0 = int.CreateTruncating(floor);
                T t = src - floor;
                var a = T.CreateTruncating(CubicA);
                weight[at] = Cubic2(t + T.One, a);
                weight[at + 1] = Cubic1(t, a);
                weight[at + 2] = Cubic1(T.One - t, a);
                weight[at + 3] = Cubic2(T.One - t + T.One, a);
                for (int k = 0; k < 4; k++) index[at + k] = Math.Clamp(i0 - 1 + k, 0, inSize - 1);
            }
        }
        return new ResizeTaps { InSize = inSize, OutSize = outSize, Taps = taps, Index = index, Weight = weight };
    }

    /// <summary>Keys' cubic convolution kernel on |x| &lt;= 1.</summary>
    private static T Cubic1<T>(T x, T a) where T : IFloatingPointIeee754<T> =>
        ((a + T.CreateTruncating(2)) * x - (a + T.CreateTruncating(3))) * x * x + T.One;

    /// <summary>Keys' cubic convolution kernel on 1 &lt; |x| &lt; 2.</summary>
    private static T Cubic2<T>(T x, T a) where T : IFloatingPointIeee754<T> =>
        ((a * x - T.CreateTruncating(5) * a) * x + T.CreateTruncating(8) * a) * x - T.CreateTruncating(4) * a;
}
