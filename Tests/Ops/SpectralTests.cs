using Xunit;
using F = Engine.Ops.Functional;

namespace Engine.Tests.Ops;

/// <summary>
/// rfft2 / irfft2 against the defining sums (the spec's formulas, non-Hermitian inverse included), on
/// every path (dense 2-D matrix; W pass + H pass by GEMM; W pass + H pass by FFT), each forced on every
/// size; the complex pieces of the AFF mixer against loops; and the error messages.
/// </summary>
public class SpectralTests
{
    private static readonly (int H, int W)[] SizeList = [(1, 1), (1, 2), (2, 3), (3, 6), (4, 4), (4, 5), (5, 7), (6, 8), (8, 8), (9, 9), (7, 12), (16, 5), (11, 16)];

    public static TheoryData<int, int, string> Sizes()
    {
        var data = new TheoryData<int, int, string>();
        foreach (var (h, w) in SizeList)
            foreach (var path in new[] { "dense", "gemm", "fft" }) data.Add(h, w, path);
        return data;
    }

    /// <summary>Forces one DFT path on this thread until disposed.</summary>
    internal static IDisposable Force(string path)
    {
        Engine.Ops.RfftBasis.DenseMaxPixels = path == "dense" ? 1024 : 0;
        Engine.Ops.RfftKernels.FftMinRows = path == "fft" ? 1 : 1 << 20;
        return new Restore();
    }

    private sealed class Restore : IDisposable
    {
        public void Dispose() { Engine.Ops.RfftBasis.DenseMaxPixels = 200; Engine.Ops.RfftKernels.FftMinRows = 8; }
    }

    internal static double[] RandomValues(int count, int seed)
    {
        var rng = new System.Random(seed);
        return Enumerable.Range(0, count).Select(_ => rng.NextDouble() * 2 - 1).ToArray();
    }

    /// <summary>X[u,k] = scale Σ x[n,m] e^{−2πi(un/H + km/W)}, as (re, im) pairs.</summary>
    internal static double[] NaiveRfft2(double[] x, int planes, int h, int w, double scale)
    {
        int k2 = w / 2 + 1;
        var y = new double[planes * h * k2 * 2];
        for (int p = 0; p < planes; p++)
            for (int u = 0; u < h; u++)
                for (int k = 0; k < k2; k++)
                {
                    double re = 0, im = 0;
                    for (int n = 0; n < h; n++)
                        for (int m = 0; m < w; m++)
                        {
                            double a = 2 * Math.PI * ((double)(u * n % h) / h + (double)(k * m % w) / w);
                            double v = x[(p * h + n) * w + m];
                            re += v * Math.Cos(a); im -= v * Math.Sin(a);
                        }
                    int at = ((p * h + u) * k2 + k) * 2;
                    y[at] = scale * re; y[at + 1] = scale * im;
                }
        return y;
    }

    /// <summary>The spec's irfft2 of a half spectrum that need not be Hermitian: scale Re Σ c_k Y e^{+2πi(...)}.</summary>
    internal static double[] NaiveIrfft2(double[] spec, int planes, int h, int w, double scale)
    {
        int k2 = w / 2 + 1;
        var y = new double[planes * h * w];
        for (int p = 0; p < planes; p++)
            for (int n = 0; n < h; n++)
                for (int m = 0; m < w; m++)
                {
                    double sum = 0;
                    for (int u = 0; u < h; u++)
                        for (int k = 0; k < k2; k++)
                        {
                            double c = k == 0 || (w % 2 == 0 && k == w / 2) ? 1 : 2;
                            double a = 2 * Math.PI * ((double)(u * n % h) / h + (double)(k * m % w) / w);
                            int at = ((p * h + u) * k2 + k) * 2;
                            sum += c * (spec[at] * Math.Cos(a) - spec[at + 1] * Math.Sin(a));
                        }
                    y[(p * h + n) * w + m] = scale * sum;
                }
        return y;
    }

    private static void AssertClose(double[] expected, double[] actual, double tolerance, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        double max = Math.Max(1e-300, expected.Max(Math.Abs));
        double worst = expected.Zip(actual, (e, a) => Math.Abs(e - a)).DefaultIfEmpty(0).Max() / max;
        Assert.True(worst <= tolerance, $"{what}: relative error {worst:E3} > {tolerance:E1}");
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void Rfft2MatchesTheDefiningSumForEveryNorm(int h, int w, string path)
    {
        using var forced = Force(path);
        int planes = 3;
        var x = RandomValues(planes * h * w, h * 31 + w);
        using var t = Tensor.FromArray(x, [planes, h, w]);
        foreach (var (norm, scale) in new (string?, double)[] { (null, 1), ("ortho", 1 / Math.Sqrt(h * w)), ("forward", 1.0 / (h * w)) })
        {
            using var y = F.Rfft2(t, norm);
            Assert.Equal([planes, h, w / 2 + 1, 2], y.Shape);
            AssertClose(NaiveRfft2(x, planes, h, w, scale), y.ToArray<double>(), 1e-13, $"rfft2 {h}x{w} {norm}");
        }
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void Irfft2OfANonHermitianSpectrumMatchesTheSpecFormula(int h, int w, string path)
    {
        using var forced = Force(path);
        int planes = 2, k = w / 2 + 1;
        var spec = RandomValues(planes * h * k * 2, h * 17 + w);
        using var t = Tensor.FromArray(spec, [planes, h, k, 2]);
        foreach (var (norm, scale) in new (string?, double)[] { (null, 1.0 / (h * w)), ("ortho", 1 / Math.Sqrt(h * w)), ("forward", 1) })
        {
            using var y = F.Irfft2(t, [h, w], norm);
            Assert.Equal([planes, h, w], y.Shape);
            AssertClose(NaiveIrfft2(spec, planes, h, w, scale), y.ToArray<double>(), 1e-13, $"irfft2 {h}x{w} {norm}");
        }
    }

    [Theory]
    [InlineData(6, 8)]
    [InlineData(5, 7)]
    [InlineData(12, 9)]
    public void Irfft2InvertsRfft2AndFloat32AgreesWithFloat64(int h, int w)
    {
        var x = RandomValues(2 * h * w, 5);
        using var t = Tensor.FromArray(x, [2, h, w]);
        using var back = F.Irfft2(F.Rfft2(t, "ortho"), [h, w], "ortho");
        AssertClose(x, back.ToArray<double>(), 1e-13, "round trip");
        using var t32 = t.ToDType(DType.F32);
        using var y32 = F.Rfft2(t32, "ortho");
        using var y64 = F.Rfft2(t, "ortho");
        AssertClose(y64.ToArray<double>(), y32.ToDType(DType.F64).ToArray<double>(), 1e-5, "float32 rfft2");
    }

    [Fact]
    public void Irfft2DefaultWidthIsEven()
    {
        using var t = Tensor.Ones([3, 4, 2], DType.F64);
        using var y = F.Irfft2(t);
        Assert.Equal([3, 6], y.Shape);
    }

    [Theory]
    [InlineData(2, 3, 2, 3, 5)]
    [InlineData(1, 2, 17, 16, 7)]
    [InlineData(2, 2, 9, 3, 1)]
    public void ComplexGroupLinearMatchesLoops(int n, int g, int din, int dout, int p)
    {
        var x = RandomValues(n * g * din * p * 2, 1);
        var w = RandomValues(2 * g * din * dout, 2);
        var b = RandomValues(2 * g * dout, 3);
        using var xt = Tensor.FromArray(x, [n, g * din, p, 2]);
        using var wt = Tensor.FromArray(w, [2, g, din, dout]);
        using var bt = Tensor.FromArray(b, [2, g, dout]);
        using var y = F.ComplexGroupLinear(xt, wt, bt);
        var expected = new double[n * g * dout * p * 2];
        for (int s = 0; s < n; s++)
            for (int gr = 0; gr < g; gr++)
                for (int o = 0; o < dout; o++)
                    for (int q = 0; q < p; q++)
                    {
                        double re = b[gr * dout + o], im = b[g * dout + gr * dout + o];
                        for (int i = 0; i < din; i++)
                        {
                            int xi = (((s * g + gr) * din + i) * p + q) * 2;
                            double a = w[(gr * din + i) * dout + o], c = w[g * din * dout + (gr * din + i) * dout + o];
                            re += x[xi] * a - x[xi + 1] * c;
                            im += x[xi + 1] * a + x[xi] * c;
                        }
                        int yi = (((s * g + gr) * dout + o) * p + q) * 2;
                        expected[yi] = re; expected[yi + 1] = im;
                    }
        AssertClose(expected, y.ToArray<double>(), 1e-14, "complex group linear");
    }

    [Fact]
    public void ComplexMulIsTheComplexProduct()
    {
        using var a = Tensor.FromArray(new double[] { 1, 2, -3, 0.5 }, [2, 2]);
        using var b = Tensor.FromArray(new double[] { 3, -1, 2, 4 }, [2, 2]);
        using var y = F.ComplexMul(a, b);
        Assert.Equal(new double[] { 5, 5, -8, -11 }, y.ToArray<double>());
    }

    [Fact]
    public void BadInputsNameTheOpAndTheShapes()
    {
        using var x = Tensor.Zeros([2, 3], DType.F64);
        using var odd = Tensor.Zeros([2, 3, 3], DType.F64);
        using var spec = Tensor.Zeros([2, 4, 3, 2], DType.F64);
        Assert.Contains("fft_rfft2: expected an input with at least 2 dimensions, but got input of shape [3]",
            Assert.Throws<ArgumentException>(() => F.Rfft2(Tensor.Zeros([3], DType.F64))).Message);
        Assert.Contains("Invalid normalization mode: \"bogus\"", Assert.Throws<ArgumentException>(() => F.Rfft2(x, "bogus")).Message);
        Assert.Contains("fft_irfft2: expected a trailing dimension of size 2", Assert.Throws<ArgumentException>(() => F.Irfft2(odd)).Message);
        var wrongWidth = Assert.Throws<ArgumentException>(() => F.Irfft2(spec, [4, 7])).Message;
        Assert.Contains("fft_irfft2: an output width of 7 needs 4 spectrum columns, but the input has 3", wrongWidth);
        Assert.Contains("[2, 4, 3, 2]", wrongWidth);
        Assert.Contains("s[0] = 5", Assert.Throws<ArgumentException>(() => F.Irfft2(spec, [5, 4])).Message);
        using var w = Tensor.Zeros([2, 2, 3, 3], DType.F64);
        var msg = Assert.Throws<ArgumentException>(() => F.ComplexGroupLinear(spec, w)).Message;
        Assert.Contains("complex_group_linear", msg);
        Assert.Contains("input of shape [2, 4, 3, 2], weight of shape [2, 2, 3, 3]", msg);
        Assert.Contains("complex_mul", Assert.Throws<ArgumentException>(() => F.ComplexMul(spec, odd)).Message);
    }
}
