using Engine.Cpu;
using Engine.Ops;
using Xunit;
using F = Engine.Ops.Functional;

namespace Engine.Tests.Ops;

/// <summary>
/// The F32 plane kernels of rfft2 and irfft2 and of their gradients (Ops/Spectral/RfftPlanes.Cpu.cs): against the
/// defining sums in double and against the F64 path, on odd, even, prime (generic radix), size-1 and
/// unsupported (Bluestein, general path) map sizes, batches that leave a partial block; the same bits for any
/// thread count. The dense path is switched off so that small maps take the plane kernel too.
/// </summary>
[Collection(Engine.Tests.Support.SerialCollection.Name)]
public class RfftPlanesF32Tests
{
    private static readonly (int H, int W, int Planes)[] SizeList =
    [
        (1, 1, 3), (1, 2, 3), (2, 1, 3), (2, 3, 3), (3, 6, 2), (4, 4, 3), (4, 5, 2), (5, 7, 2), (6, 8, 3), (9, 9, 2),
        (7, 12, 2), (16, 5, 2), (11, 16, 2), (13, 9, 2), (25, 10, 2), (27, 8, 2), (31, 4, 2), (12, 33, 2), (60, 3, 2),
        (37, 6, 2), (16, 16, 70), (32, 32, 11),
    ];

    public static TheoryData<int, int, int> Sizes()
    {
        var data = new TheoryData<int, int, int>();
        foreach (var (h, w, planes) in SizeList) data.Add(h, w, planes);
        return data;
    }

    private static double[] Doubles(Tensor t) => t.ToDType(DType.F64).ToArray<double>();

    private static void AssertClose(double[] expected, double[] actual, double tolerance, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        double max = Math.Max(1e-300, expected.Max(Math.Abs));
        double worst = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max() / max;
        Assert.True(worst <= tolerance, $"{what}: relative error {worst:E3} > {tolerance:E1}");
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void Rfft2InFloat32MatchesTheDefiningSum(int h, int w, int planes)
    {
        using var forced = SpectralTests.Force("fft");
        using var scope = Tensor.Scope();
        var x = SpectralTests.RandomValues(planes * h * w, h * 13 + w).Select(v => (double)(float)v).ToArray();
        var t = Tensor.FromArray(x, [planes, h, w]).ToDType(DType.F32);
        foreach (var (norm, scale) in new (string?, double)[] { (null, 1), ("ortho", 1 / Math.Sqrt(h * w)), ("forward", 1.0 / (h * w)) })
        {
            var y = F.Rfft2(t, norm);
            Assert.Equal([planes, h, w / 2 + 1, 2], y.Shape);
            AssertClose(SpectralTests.NaiveRfft2(x, planes, h, w, scale), Doubles(y), 1e-5, $"rfft2 F32 {h}x{w} {norm}");
        }
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void Irfft2InFloat32MatchesTheSpecFormula(int h, int w, int planes)
    {
        using var forced = SpectralTests.Force("fft");
        using var scope = Tensor.Scope();
        int k = w / 2 + 1;
        var spec = SpectralTests.RandomValues(planes * h * k * 2, h * 23 + w).Select(v => (double)(float)v).ToArray();
        var t = Tensor.FromArray(spec, [planes, h, k, 2]).ToDType(DType.F32);
        foreach (var (norm, scale) in new (string?, double)[] { (null, 1.0 / (h * w)), ("ortho", 1 / Math.Sqrt(h * w)), ("forward", 1) })
        {
            var y = F.Irfft2(t, [h, w], norm);
            Assert.Equal([planes, h, w], y.Shape);
            AssertClose(SpectralTests.NaiveIrfft2(spec, planes, h, w, scale), Doubles(y), 1e-5, $"irfft2 F32 {h}x{w} {norm}");
        }
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void Rfft2GradientInFloat32MatchesFloat64(int h, int w, int planes)
    {
        using var forced = SpectralTests.Force("fft");
        using var scope = Tensor.Scope();
        int k = w / 2 + 1;
        var x = SpectralTests.RandomValues(planes * h * w, h * 29 + w);
        var g = SpectralTests.RandomValues(planes * h * k * 2, h * 31 + w).Select(v => (double)(float)v).ToArray();
        foreach (var norm in new string?[] { null, "ortho", "forward" })
        {
            double[] Grad(DType dtype)
            {
                var s = Tensor.FromArray(x, [planes, h, w]).ToDType(dtype).RequiresGradInPlace();
                F.Rfft2(s, norm).Backward(Tensor.FromArray(g, [planes, h, k, 2]).ToDType(dtype));
                return Doubles(s.Grad!);
            }
            AssertClose(Grad(DType.F64), Grad(DType.F32), 1e-5, $"rfft2 gradient F32 {h}x{w} {norm}");
        }
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void Irfft2GradientInFloat32MatchesFloat64(int h, int w, int planes)
    {
        using var forced = SpectralTests.Force("fft");
        using var scope = Tensor.Scope();
        int k = w / 2 + 1;
        var spec = SpectralTests.RandomValues(planes * h * k * 2, h * 17 + w);
        var g = SpectralTests.RandomValues(planes * h * w, h * 19 + w).Select(v => (double)(float)v).ToArray();
        foreach (var norm in new string?[] { null, "ortho", "forward" })
        {
            double[] Grad(DType dtype)
            {
                var s = Tensor.FromArray(spec, [planes, h, k, 2]).ToDType(dtype).RequiresGradInPlace();
                F.Irfft2(s, [h, w], norm).Backward(Tensor.FromArray(g, [planes, h, w]).ToDType(dtype));
                return Doubles(s.Grad!);
            }
            AssertClose(Grad(DType.F64), Grad(DType.F32), 1e-5, $"irfft2 gradient F32 {h}x{w} {norm}");
        }
    }

    [Fact]
    public void Float32BitsDoNotDependOnTheThreadCount()
    {
        int before = CpuParallel.ThreadCount;
        try
        {
            foreach (var (h, w, planes) in new[] { (32, 32, 11), (16, 16, 70), (13, 20, 40) })
            {
                float[][] Run(int threads)
                {
                    CpuParallel.ThreadCount = threads;
                    using var scope = Tensor.Scope();
                    var x = Tensor.Randn([planes, h, w], DType.F32, generator: new Engine.Randomness.Generator(3));
                    var s = Tensor.Randn([planes, h, w / 2 + 1, 2], DType.F32, generator: new Engine.Randomness.Generator(4)).RequiresGradInPlace();
                    var g = Tensor.Randn([planes, h, w], DType.F32, generator: new Engine.Randomness.Generator(5));
                    var gs = Tensor.Randn([planes, h, w / 2 + 1, 2], DType.F32, generator: new Engine.Randomness.Generator(6));
                    var y = F.Irfft2(s, [h, w], "ortho");
                    y.Backward(g);
                    x.RequiresGradInPlace();
                    var spectrum = F.Rfft2(x, "ortho");
                    spectrum.Backward(gs);
                    return [spectrum.ToArray<float>(), s.Grad!.ToArray<float>(), y.ToArray<float>(), x.Grad!.ToArray<float>()];
                }
                var one = Run(1);
                foreach (int threads in new[] { 2, 3 })
                {
                    var other = Run(threads);
                    for (int i = 0; i < one.Length; i++) Assert.Equal(one[i], other[i]);
                }
            }
        }
        finally { CpuParallel.ThreadCount = before; }
    }

    [Fact]
    public void ThePlaneKernelAndTheGeneralPathAgreeAtTheBenchmarkShape()
    {
        using var scope = Tensor.Scope();
        var x = Tensor.Randn([4, 32, 32], DType.F32, generator: new Engine.Randomness.Generator(8));
        var spectrum = Tensor.Randn([4, 32, 17, 2], DType.F32, generator: new Engine.Randomness.Generator(9));
        float[][] Run() => [F.Rfft2(x, "ortho").ToArray<float>(), F.Irfft2(spectrum, [32, 32], "ortho").ToArray<float>()];
        var plane = Run();
        float[][] general;
        RfftPlanesF32.Enabled = false;
        try { general = Run(); }
        finally { RfftPlanesF32.Enabled = true; }
        for (int i = 0; i < plane.Length; i++)
            AssertClose(general[i].Select(v => (double)v).ToArray(), plane[i].Select(v => (double)v).ToArray(), 2e-6, $"plane kernel against the general path ({i})");
    }
}
