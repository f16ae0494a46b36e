using Engine.Cpu;
using FsCheck;
using FsCheck.Fluent;
using Xunit;

namespace Engine.Tests.Cpu;

/// <summary>
/// Fft.Transform against a naive O(n^2) DFT computed in double, over random lengths (primes, 1, 2,
/// smooth and Bluestein lengths), batches and directions; plus the transform's algebraic identities.
/// </summary>
[Xunit.Collection(Engine.Tests.Support.SerialCollection.Name)]
public class FftTests
{
    public sealed record Case(int N, int Batch, bool Inverse, int Seed)
    {
        public override string ToString() => $"Case(n: {N}, batch: {Batch}, inverse: {Inverse}, seed: {Seed})";
    }

    private static readonly Gen<int> Length = Gen.Frequency(
        (6, Gen.Choose(1, 200)),
        (3, Gen.Elements(1, 2, 3, 4, 5, 7, 8, 16, 29, 31, 37, 60, 64, 97, 100, 127, 128, 131, 149, 192, 197, 199)));

    private static readonly Gen<Case> Cases =
        from n in Length
        from batch in Gen.Choose(0, 4)
        from inverse in Gen.Elements(false, true)
        from seed in Gen.Choose(0, int.MaxValue)
        select new Case(n, batch, inverse, seed);

    private static void ForAll(Func<Case, bool> property, int tests = 150) =>
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(tests), Prop.ForAll(Arb.From(Cases), property));

    [Fact]
    public void Double_MatchesNaiveDft() => ForAll(c =>
    {
        var (re, im) = Random(c.N * c.Batch, c.Seed);
        var (er, ei) = NaiveDft(re, im, c.N, c.Batch, c.Inverse);
        Fft.Transform(re, im, c.N, c.Batch, c.Inverse);
        AssertClose(er, ei, re, im, 1e-12, c.ToString());
        return true;
    });

    [Fact]
    public void ScalarPasses_MatchNaiveDft()
    {
        // The radix-2/4 passes have a vector path; this checks the scalar one that other machines take.
        bool saved = Butterflies.ForceScalar;
        try
        {
            Butterflies.ForceScalar = true;
            Double_MatchesNaiveDft();
        }
        finally { Butterflies.ForceScalar = saved; }
    }

    [Fact]
    public void Float_MatchesNaiveDft() => ForAll(c =>
    {
        var (re, im) = Random(c.N * c.Batch, c.Seed);
        float[] fr = ToFloat(re), fi = ToFloat(im);
        var (er, ei) = NaiveDft(ToDouble(fr), ToDouble(fi), c.N, c.Batch, c.Inverse);
        Fft.Transform(fr, fi, c.N, c.Batch, c.Inverse);
        AssertClose(er, ei, ToDouble(fr), ToDouble(fi), 1e-6, c.ToString());
        return true;
    });

    [Fact]
    public void Float_AgreesWithDouble() => ForAll(c =>
    {
        var (re, im) = Random(c.N * c.Batch, c.Seed);
        float[] fr = ToFloat(re), fi = ToFloat(im);
        double[] dr = ToDouble(fr), di = ToDouble(fi);
        Fft.Transform(fr, fi, c.N, c.Batch, c.Inverse);
        Fft.Transform(dr, di, c.N, c.Batch, c.Inverse);
        AssertClose(dr, di, ToDouble(fr), ToDouble(fi), 1e-6, c.ToString());
        return true;
    });

    [Fact]
    public void InverseOfForward_IsNTimesInput() => ForAll(c =>
    {
        var (re, im) = Random(c.N * c.Batch, c.Seed);
        double[] r = (double[])re.Clone(), i = (double[])im.Clone();
        Fft.Transform(r, i, c.N, c.Batch, c.Inverse);
        Fft.Transform(r, i, c.N, c.Batch, !c.Inverse);
        AssertClose(Scale(re, c.N), Scale(im, c.N), r, i, 1e-12, c.ToString());
        return true;
    });

    [Fact]
    public void Parseval_EnergyScalesByN() => ForAll(c =>
    {
        var (re, im) = Random(c.N * c.Batch, c.Seed);
        double[] r = (double[])re.Clone(), i = (double[])im.Clone();
        Fft.Transform(r, i, c.N, c.Batch, c.Inverse);
        for (int b = 0; b < c.Batch; b++)
        {
            double before = 0, after = 0;
            for (int k = b * c.N; k < (b + 1) * c.N; k++)
            {
                before += re[k] * re[k] + im[k] * im[k];
                after += r[k] * r[k] + i[k] * i[k];
            }
            if (Math.Abs(after - c.N * before) > 1e-11 * c.N * before)
                throw new Exception($"{c}: row {b} has energy {after}, expected n x {before} = {c.N * before}");
        }
        return true;
    });

    [Fact]
    public void Linearity() => ForAll(c =>
    {
        var (xr, xi) = Random(c.N * c.Batch, c.Seed);
        var (yr, yi) = Random(c.N * c.Batch, c.Seed ^ 0x5bd1e995);
        const double a = 0.75, b = -2.5;
        double[] zr = xr.Zip(yr, (x, y) => a * x + b * y).ToArray(), zi = xi.Zip(yi, (x, y) => a * x + b * y).ToArray();
        Fft.Transform(xr, xi, c.N, c.Batch, c.Inverse);
        Fft.Transform(yr, yi, c.N, c.Batch, c.Inverse);
        Fft.Transform(zr, zi, c.N, c.Batch, c.Inverse);
        double[] er = xr.Zip(yr, (x, y) => a * x + b * y).ToArray(), ei = xi.Zip(yi, (x, y) => a * x + b * y).ToArray();
        AssertClose(er, ei, zr, zi, 1e-12, c.ToString());
        return true;
    });

    [Theory]
    [InlineData(1024)] // radix 4 only
    [InlineData(1000)] // 4 x 2 x 5^3
    [InlineData(1031)] // prime: Bluestein with m = 4096
    [InlineData(4096)]
    [InlineData(2 * 1031)] // 2 x prime: Bluestein
    [InlineData(29 * 31)] // two direct prime radices
    public void LargeLengths_MatchNaiveDft(int n)
    {
        // The naive reference is O(n^2): above 2048 one direction is enough.
        foreach (bool inverse in n > 2048 ? new[] { false } : new[] { false, true })
        {
            var (re, im) = Random(n, n);
            float[] fr = ToFloat(re), fi = ToFloat(im);
            var (er, ei) = NaiveDft(re, im, n, 1, inverse);
            Fft.Transform(re, im, n, 1, inverse);
            AssertClose(er, ei, re, im, 1e-12, $"double n={n} inverse={inverse}");

            var (fer, fei) = NaiveDft(ToDouble(fr), ToDouble(fi), n, 1, inverse);
            Fft.Transform(fr, fi, n, 1, inverse);
            AssertClose(fer, fei, ToDouble(fr), ToDouble(fi), 1e-6, $"float n={n} inverse={inverse}");
        }
    }

    [Fact]
    public void KnownValues_ImpulseAndConstant()
    {
        // An impulse transforms to all ones; a constant to n at frequency 0.
        double[] re = [1, 0, 0, 0, 0, 0, 0], im = new double[7];
        Fft.Transform(re, im, 7, 1, inverse: false);
        Assert.All(re, x => Assert.Equal(1.0, x, 1e-15));
        Assert.All(im, x => Assert.Equal(0.0, x, 1e-15));
        re = [2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2];
        im = new double[12];
        Fft.Transform(re, im, 12, 1, inverse: true);
        Assert.Equal(24.0, re[0], 1e-13);
        for (int k = 1; k < 12; k++) Assert.Equal(0.0, Math.Abs(re[k]) + Math.Abs(im[k]), 1e-13);
    }

    [Theory]
    [InlineData(100, 64)] // mixed radix
    [InlineData(97, 64)]  // Bluestein
    public void ResultBitsDoNotDependOnThreadCount(int n, int batch)
    {
        int saved = CpuParallel.ThreadCount;
        try
        {
            var (re, im) = Random(n * batch, 7);
            double[] r1 = (double[])re.Clone(), i1 = (double[])im.Clone(), r2 = (double[])re.Clone(), i2 = (double[])im.Clone();
            float[] f1r = ToFloat(re), f1i = ToFloat(im), f2r = ToFloat(re), f2i = ToFloat(im);
            CpuParallel.ThreadCount = 1;
            Fft.Transform(r1, i1, n, batch, false);
            Fft.Transform(f1r, f1i, n, batch, true);
            CpuParallel.ThreadCount = 3;
            Fft.Transform(r2, i2, n, batch, false);
            Fft.Transform(f2r, f2i, n, batch, true);
            Assert.Equal(r1, r2);
            Assert.Equal(i1, i2);
            Assert.Equal(f1r, f2r);
            Assert.Equal(f1i, f2i);
        }
        finally { CpuParallel.ThreadCount = saved; }
    }

    [Fact]
    public void ConcurrentFirstUse_OfManyLengths_GivesCorrectResults()
    {
        // Plans are built lazily; threads racing to build the same length must all get a working one.
        Parallel.For(0, 32, t =>
        {
            int n = 100 + t % 16 * 37; // a mix of smooth and Bluestein lengths, each built by several threads
            var (re, im) = Random(n, t);
            var (er, ei) = NaiveDft(re, im, n, 1, false);
            Fft.Transform(re, im, n, 1, false);
            AssertClose(er, ei, re, im, 1e-12, $"n={n}");
        });
    }

    [Fact]
    public void OnlyTheFirstNTimesBatchElementsAreTouched()
    {
        double[] re = [1, 2, 3, 4, 5, 99], im = [0, 0, 0, 0, 0, 98];
        Fft.Transform(re, im, 5, 1, false);
        Assert.Equal(99, re[5]);
        Assert.Equal(98, im[5]);
        Fft.Transform(Span<float>.Empty, Span<float>.Empty, 8, 0, false);
    }

    [Fact]
    public void BadArguments_ThrowWithTheSizes()
    {
        var e1 = Assert.Throws<ArgumentOutOfRangeException>(() => Fft.Transform(new double[4], new double[4], 0, 1, false));
        Assert.Contains("Fft.Transform", e1.Message);
        Assert.Contains("n=0", e1.Message);
        var e2 = Assert.Throws<ArgumentOutOfRangeException>(() => Fft.Transform(new float[4], new float[4], 4, -1, false));
        Assert.Contains("Fft.Transform", e2.Message);
        Assert.Contains("batch=-1", e2.Message);
        var e3 = Assert.Throws<ArgumentException>(() => Fft.Transform(new double[11], new double[12], 4, 3, false));
        Assert.Contains("Fft.Transform: re has 11", e3.Message);
        Assert.Contains("n=4 x batch=3 needs 12", e3.Message);
        var e4 = Assert.Throws<ArgumentException>(() => Fft.Transform(new float[12], new float[5], 4, 3, true));
        Assert.Contains("Fft.Transform: im has 5", e4.Message);
    }

    // ---- helpers ----

    private static (double[] Re, double[] Im) Random(int count, int seed)
    {
        var rng = new Random(seed);
        var re = new double[count];
        var im = new double[count];
        for (int i = 0; i < count; i++) { re[i] = rng.NextDouble() * 2 - 1; im[i] = rng.NextDouble() * 2 - 1; }
        return (re, im);
    }

    /// <summary>The definition, with each root of unity computed from the exactly reduced angle jk mod n.</summary>
    private static (double[] Re, double[] Im) NaiveDft(double[] re, double[] im, int n, int batch, bool inverse)
    {
        var rootRe = new double[n];
        var rootIm = new double[n];
        for (int k = 0; k < n; k++)
            (rootIm[k], rootRe[k]) = double.SinCosPi((inverse ? 2.0 : -2.0) * k / n);
        var outRe = new double[n * batch];
        var outIm = new double[n * batch];
        for (int b = 0; b < batch; b++)
            for (int k = 0; k < n; k++)
            {
                double sr = 0, si = 0;
                for (int j = 0; j < n; j++)
                {
                    int r = (int)((long)j * k % n);
                    double xr = re[b * n + j], xi = im[b * n + j];
                    sr += xr * rootRe[r] - xi * rootIm[r];
                    si += xr * rootIm[r] + xi * rootRe[r];
                }
                outRe[b * n + k] = sr;
                outIm[b * n + k] = si;
            }
        return (outRe, outIm);
    }

    /// <summary>Every element within tolerance x the largest expected magnitude.</summary>
    private static void AssertClose(double[] er, double[] ei, double[] gr, double[] gi, double tolerance, string what)
    {
        int n = er.Length;
        double scale = 0;
        for (int k = 0; k < n; k++) scale = Math.Max(scale, Math.Sqrt(er[k] * er[k] + ei[k] * ei[k]));
        double limit = tolerance * Math.Max(scale, 1e-300);
        for (int k = 0; k < n; k++)
        {
            double err = Math.Sqrt(Math.Pow(gr[k] - er[k], 2) + Math.Pow(gi[k] - ei[k], 2));
            if (!(err <= limit))
                throw new Exception($"{what}: element {k} is ({gr[k]}, {gi[k]}), expected ({er[k]}, {ei[k]}); error {err} > {limit}");
        }
    }

    private static double[] Scale(double[] x, double s) => x.Select(v => v * s).ToArray();
    private static float[] ToFloat(double[] x) => x.Select(v => (float)v).ToArray();
    private static double[] ToDouble(float[] x) => x.Select(v => (double)v).ToArray();
}
