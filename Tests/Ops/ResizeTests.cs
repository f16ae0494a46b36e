using Engine.Cpu;
using Engine.Ops;
using Engine.Tests.Core;
using Engine.Tests.Support;
using FsCheck;
using FsCheck.Fluent;
using Xunit;
using F = Engine.Ops.Functional;

namespace Engine.Tests.Ops;

/// <summary>Interpolate against dense resize matrices built from PyTorch's index arithmetic, known values, errors.</summary>
public class ResizeTests
{
    /// <summary>
    /// The (out × in) matrix of one axis, straight from PyTorch's definitions: source index from the scale
    /// (1 / scale_factor when given, else in / out; (in - 1) / (out - 1) with align_corners), taps clamped into
    /// the input. Nearest works in float, as PyTorch's nearest_idx does.
    /// </summary>
    internal static double[,] AxisMatrix(int inSize, int outSize, string mode, bool align, double? scaleFactor)
    {
        var m = new double[outSize, inSize];
        for (int o = 0; o < outSize; o++)
        {
            if (mode == "nearest")
            {
                float s = scaleFactor is { } f ? (float)(1 / f) : (float)inSize / outSize;
                int i = Math.Min((int)MathF.Floor(o * s), inSize - 1);
                m[o, i] = 1;
                continue;
            }
            double scale = align ? (outSize > 1 ? (inSize - 1.0) / (outSize - 1) : 0) : scaleFactor is { } sf ? 1 / sf : (double)inSize / outSize;
            double src = align ? scale * o : scale * (o + 0.5) - 0.5;
            if (mode == "bilinear")
            {
                if (inSize == outSize) { m[o, o] = 1; continue; } // PyTorch copies when the sizes agree
                src = Math.Max(src, 0);
                int i0 = Math.Min((int)Math.Floor(src), inSize - 1);
                double lambda = Math.Clamp(src - i0, 0, 1);
                m[o, i0] += 1 - lambda;
                m[o, Math.Min(i0 + 1, inSize - 1)] += lambda;
                continue;
            }
            const double A = -0.75;
            int f0 = (int)Math.Floor(src);
            double t = src - f0;
            double Near(double x) => ((A + 2) * x - (A + 3)) * x * x + 1;
            double Far(double x) => ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;
            double[] w = [Far(t + 1), Near(t), Near(1 - t), Far(2 - t)];
            for (int k = 0; k < 4; k++) m[o, Math.Clamp(f0 - 1 + k, 0, inSize - 1)] += w[k];
        }
        return m;
    }

    /// <summary>y[p] = Mh x[p] Mw^T for every (N, C) plane.</summary>
    internal static double[] Resize(double[] x, int[] shape, double[,] mh, double[,] mw)
    {
        int planes = shape[0] * shape[1], h = shape[2], w = shape[3], oh = mh.GetLength(0), ow = mw.GetLength(0);
        var y = new double[planes * oh * ow];
        for (int p = 0; p < planes; p++)
            for (int i = 0; i < oh; i++)
                for (int j = 0; j < ow; j++)
                {
                    double acc = 0;
                    for (int a = 0; a < h; a++)
                        for (int b = 0; b < w; b++)
                            acc += mh[i, a] * mw[j, b] * x[(p * h + a) * w + b];
                    y[(p * oh + i) * ow + j] = acc;
                }
        return y;
    }

    public sealed record Problem(int[] Shape, int OutH, int OutW, string Mode, bool Align, bool UseScale, double ScaleH, double ScaleW, Reference.Kind Layout);

    private static readonly Gen<Problem> Problems =
        from n in Gen.Choose(1, 2)
        from c in Gen.Choose(1, 3)
        from h in Gen.Choose(1, 9)
        from w in Gen.Choose(1, 9)
        from outH in Gen.Choose(1, 12)
        from outW in Gen.Choose(1, 12)
        from mode in Gen.Elements("nearest", "bilinear", "bicubic")
        from align in Gen.Elements(false, true)
        from useScale in Gen.Elements(false, true)
        from sh in Gen.Elements(0.5, 0.75, 1.0, 1.1, 1.5, 2.0, 2.5, 3.0)
        from sw in Gen.Elements(0.5, 0.75, 1.0, 1.5, 2.0, 1.3)
        from layout in Gen.Elements(Reference.AllKinds)
        where !useScale || (Math.Floor(h * sh) >= 1 && Math.Floor(w * sw) >= 1)
        select new Problem([n, c, h, w], outH, outW, mode, mode != "nearest" && align, useScale, sh, sw, layout);

    [Fact]
    public void InterpolateMatchesTheResizeMatrices() => Reference.Check(Problems, p =>
    {
        using var scope = Tensor.Scope();
        var x = Reference.RandomF32Doubles(new System.Random(p.Shape.Sum() * 7 + p.OutH), Reference.Count(p.Shape));
        int outH = p.UseScale ? (int)Math.Floor(p.Shape[2] * p.ScaleH) : p.OutH;
        int outW = p.UseScale ? (int)Math.Floor(p.Shape[3] * p.ScaleW) : p.OutW;
        double? sh = p.UseScale ? p.ScaleH : null, sw = p.UseScale ? p.ScaleW : null;
        var expected = Resize(x, p.Shape, AxisMatrix(p.Shape[2], outH, p.Mode, p.Align, sh), AxisMatrix(p.Shape[3], outW, p.Mode, p.Align, sw));
        foreach (var dtype in new[] { DType.F64, DType.F32 })
        {
            var input = Reference.Strided(x, p.Shape, dtype, p.Layout);
            bool? align = p.Mode == "nearest" ? null : p.Align;
            var y = p.UseScale
                ? F.Interpolate(input, scaleFactor: [p.ScaleH, p.ScaleW], mode: p.Mode, alignCorners: align)
                : F.Interpolate(input, size: [p.OutH, p.OutW], mode: p.Mode, alignCorners: align);
            Assert.Equal([p.Shape[0], p.Shape[1], outH, outW], y.Shape);
            Reference.Close(expected, ActivationTests.ToDoubles(y), dtype == DType.F64 ? 1e-13 : 1e-5, dtype == DType.F64 ? 1e-13 : 1e-5, $"{p} {dtype}");
        }
        return true;
    }, maxTest: 200);

    [Fact]
    public void BilinearKnownValues()
    {
        using var scope = Tensor.Scope();
        var x = Tensor.Arange(4, DType.F64).Reshape(1, 1, 2, 2);
        Assert.Equal(new double[] { 0, 0.25, 0.75, 1, 0.5, 0.75, 1.25, 1.5, 1.5, 1.75, 2.25, 2.5, 2, 2.25, 2.75, 3 },
            F.Interpolate(x, scaleFactor: [2], mode: "bilinear").ToArray<double>());
        Assert.Equal(new double[] { 0, 0.5, 1, 1, 1.5, 2, 2, 2.5, 3 },
            F.Interpolate(x, size: [3, 3], mode: "bilinear", alignCorners: true).ToArray<double>());
        Assert.Equal(new double[] { 0, 0, 1, 1, 0, 0, 1, 1, 2, 2, 3, 3, 2, 2, 3, 3 }, F.Interpolate(x, size: [4]).ToArray<double>());
        var row = Tensor.Arange(3, DType.F64).Reshape(1, 1, 1, 3);
        Assert.Equal(new double[] { 0, 0, 1, 1, 2 }, F.Interpolate(row, size: [1, 5]).ToArray<double>());
    }

    /// <summary>The rows of the 8 → n bicubic matrices given in the Dual-ViT spec (section 3.3.1), read off one-hot inputs.</summary>
    [Fact]
    public void BicubicMatchesTheDualVitMatrices()
    {
        using var scope = Tensor.Scope();
        var eye = Tensor.FromArray(Enumerable.Range(0, 64).Select(i => i / 8 == i % 8 ? 1.0 : 0.0).ToArray(), [1, 8, 8, 1]);
        double[,] Matrix(int n)
        {
            var r = F.Interpolate(eye, size: [n, 1], mode: "bicubic").ToArray<double>(); // [1, 8 (input index), n, 1]
            var m = new double[n, 8];
            for (int k = 0; k < 8; k++) for (int o = 0; o < n; o++) m[o, k] = r[k * n + o];
            return m;
        }
        double[] Row(double[,] m, int o) => Enumerable.Range(0, 8).Select(k => m[o, k]).ToArray();
        var m4 = Matrix(4);
        Assert.Equal(new[] { 0.5, 0.59375, -0.09375, 0, 0, 0, 0, 0 }, Row(m4, 0));
        Assert.Equal(new[] { 0, -0.09375, 0.59375, 0.59375, -0.09375, 0, 0, 0 }, Row(m4, 1));
        var m2 = Matrix(2);
        Assert.Equal(new[] { -0.09375, 0.59375, 0.59375, -0.09375, 0, 0, 0, 0 }, Row(m2, 0));
        Assert.Equal(new[] { 0, 0, 0, 0, -0.09375, 0.59375, 0.59375, -0.09375 }, Row(m2, 1));
        Assert.Equal(new[] { 0, 0, -0.09375, 0.59375, 0.59375, -0.09375, 0, 0 }, Row(Matrix(1), 0));
        var m8 = Matrix(8);
        for (int o = 0; o < 8; o++) Assert.Equal(Enumerable.Range(0, 8).Select(k => k == o ? 1.0 : 0).ToArray(), Row(m8, o));
    }

    [Fact]
    public void ScaleFactorMapsWithItsReciprocalUnlessRecomputed()
    {
        using var scope = Tensor.Scope();
        var x = Tensor.Randn([1, 2, 5, 5], DType.F64);
        var byScale = F.Interpolate(x, scaleFactor: [1.5], mode: "bicubic");
        var bySize = F.Interpolate(x, size: [7, 7], mode: "bicubic");
        var recomputed = F.Interpolate(x, scaleFactor: [1.5], mode: "bicubic", recomputeScaleFactor: true);
        Assert.Equal([1, 2, 7, 7], byScale.Shape);
        Assert.NotEqual(bySize.ToArray<double>(), byScale.ToArray<double>());
        Assert.Equal(bySize.ToArray<double>(), recomputed.ToArray<double>());
        // Same size through a scale factor: bilinear copies (PyTorch's shortcut), nearest and bicubic still resample.
        Assert.Equal(x.ToArray<double>(), F.Interpolate(x, scaleFactor: [1.1], mode: "bilinear").ToArray<double>());
        Assert.NotEqual(x.ToArray<double>(), F.Interpolate(x, scaleFactor: [1.1], mode: "bicubic").ToArray<double>());
        Assert.NotEqual(x.ToArray<double>(), F.Interpolate(x, scaleFactor: [1.1]).ToArray<double>());
    }

    [Fact]
    public void BadInputsNameTheOpAndTheShape()
    {
        using var scope = Tensor.Scope();
        var x = Tensor.Zeros([1, 2, 4, 4]);
        void Fails(Action call, params string[] parts)
        {
            var e = Assert.Throws<ArgumentException>(call);
            Assert.Contains("interpolate", e.Message);
            foreach (var part in parts) Assert.Contains(part, e.Message);
        }
        Fails(() => F.Interpolate(Tensor.Zeros([2, 4, 4]), size: [8, 8], mode: "bilinear"), "got 3D input", "[2, 4, 4]", "bilinear mode needs 4D input");
        Fails(() => F.Interpolate(x, size: [8, 8], scaleFactor: [2]), "only one of size or scale_factor should be defined", "[1, 2, 4, 4]");
        Fails(() => F.Interpolate(x), "either size or scale_factor should be defined");
        Fails(() => F.Interpolate(x, size: [8, 8], alignCorners: true), "align_corners option can only be set with the interpolating modes");
        Fails(() => F.Interpolate(x, size: [8, 8], mode: "area"), "mode 'area' is not supported");
        Fails(() => F.Interpolate(x, size: [8, 8, 8]), "size shape must match input shape. Input is 2D, size is 3");
        Fails(() => F.Interpolate(x, size: [0, 8], mode: "bicubic"), "output (H: 0, W: 8)");
        Fails(() => F.Interpolate(x, scaleFactor: [0.2], mode: "bicubic"), "output (H: 0, W: 0)");
        Fails(() => F.Interpolate(x, scaleFactor: [-1]), "scale_factor must be positive");
        Fails(() => F.Interpolate(Tensor.Zeros([1, 1, 2, 2], DType.I64), size: [4]), "torch.int64");
    }

    /// <summary>
    /// Every mode, align_corners both ways, sizes up and down, scale factors with and without recomputing: the CUDA
    /// forward and adjoint make the CPU's sums in the CPU's order, so outputs and gradients are the same bits.
    /// </summary>
    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void CudaMatchesCpuBitForBit()
    {
        Tensor[] Input(DType dtype) => [Tensor.Randn([2, 3, 8, 7], dtype, generator: new Engine.Randomness.Generator(2))];
        foreach (var mode in new[] { "nearest", "bilinear", "bicubic" })
        {
            foreach (var align in mode == "nearest" ? new bool?[] { null } : [false, true])
            {
                foreach (var size in new[] { new[] { 4, 3 }, new[] { 13, 14 }, new[] { 8, 7 }, new[] { 1, 20 } })
                    DeviceParityCases.Check($"{mode} {align} {Layout.Format(size)}", Input,
                        x => F.Interpolate(x[0], size: size, mode: mode, alignCorners: align), bitwise: true);
                foreach (var scale in new[] { new[] { 2.0, 1.5 }, new[] { 0.5, 0.75 }, new[] { 1.1, 3.0 } })
                    foreach (var recompute in new bool?[] { null, true })
                        DeviceParityCases.Check($"{mode} {align} scale {scale[0]}x{scale[1]} recompute {recompute}", Input,
                            x => F.Interpolate(x[0], scaleFactor: scale, mode: mode, alignCorners: align, recomputeScaleFactor: recompute), bitwise: true);
            }
        }
        // A non-contiguous input (the kernels see a dense copy).
        DeviceParityCases.Check("bicubic transposed", Input, x => F.Interpolate(x[0].Transpose(2, 3), size: [5, 11], mode: "bicubic"), bitwise: true);
    }

    /// <summary>
    /// More elements than one grid of threads covers (<see cref="FamilyLaunch.MaxBlocks"/> blocks of 256) in each of the
    /// three passes (the output, the rows of the adjoint, the input's gradient), so each thread of every pass loops.
    /// </summary>
    [GpuFact(Needs = GpuNeeds.TensorBackend)]
    public void CudaInterpolateLoopsOverElementsBeyondOneGrid()
    {
        long grid = FamilyLaunch.MaxBlocks * FamilyLaunch.Block;
        Assert.True(2 * 760 * 760 > grid && 2 * 740 * 760 > grid && 2 * 740 * 740 > grid);
        DeviceParityCases.CheckF32("bicubic", [1, 2, 740, 740], x => F.Interpolate(x, size: [760, 760], mode: "bicubic"));
    }
}

/// <summary>Changes the process-wide thread count, so it runs alone.</summary>
[Collection(SerialCollection.Name)]
public class ResizeThreadCountTests
{
    [Fact]
    public void BackwardBitsDoNotDependOnTheThreadCount()
    {
        int before = CpuParallel.ThreadCount;
        try
        {
            using var scope = Tensor.Scope();
            var x = Tensor.Randn([2, 16, 14, 14], DType.F32, generator: new Engine.Randomness.Generator(4)).RequiresGradInPlace();
            var g = Tensor.Randn([2, 16, 9, 20], DType.F32, generator: new Engine.Randomness.Generator(5));
            float[][] Run()
            {
                x.ZeroGrad();
                var y = F.Interpolate(x, size: [9, 20], mode: "bicubic");
                y.Backward(g);
                return [y.ToArray<float>(), x.Grad!.ToArray<float>()];
            }
            CpuParallel.ThreadCount = 1;
            var one = Run();
            CpuParallel.ThreadCount = 2;
            var two = Run();
            Assert.Equal(one[0], two[0]);
            Assert.Equal(one[1], two[1]);
        }
        finally { CpuParallel.ThreadCount = before; }
    }
}
