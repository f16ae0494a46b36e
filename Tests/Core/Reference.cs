using FsCheck;
using FsCheck.Fluent;
using Xunit;

namespace Engine.Tests.Core;

/// <summary>
/// Plain-loop reference machinery for the core tests: row-major index arithmetic, random data, and
/// tensors that hold given logical values behind non-contiguous layouts. Nothing here calls the
/// engine's kernels except to build inputs and read results back.
/// </summary>
public static class Reference
{
    /// <summary>Tests that modify process-wide settings (thread count, default dtype, default generator) run alone in this collection.</summary>
    public const string GlobalState = "Core global state";

    public static long Count(int[] shape)
    {
        long n = 1;
        foreach (var d in shape) n *= d;
        return n;
    }

    public static int[] Unravel(long flat, int[] shape)
    {
        var idx = new int[shape.Length];
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            idx[d] = (int)(flat % shape[d]);
            flat /= shape[d];
        }
        return idx;
    }

    public static long Ravel(int[] idx, int[] shape)
    {
        long flat = 0;
        for (int d = 0; d < shape.Length; d++) flat = flat * shape[d] + idx[d];
        return flat;
    }

    /// <summary>The flat position in <paramref name="shape"/> read by output index <paramref name="outIdx"/> under NumPy broadcasting.</summary>
    public static long BroadcastSource(int[] outIdx, int[] shape)
    {
        int lead = outIdx.Length - shape.Length;
        long flat = 0;
        for (int d = 0; d < shape.Length; d++)
            flat = flat * shape[d] + (shape[d] == 1 ? 0 : outIdx[lead + d]);
        return flat;
    }

    public static int[] BroadcastShape(int[] a, int[] b)
    {
        int rank = Math.Max(a.Length, b.Length);
        var r = new int[rank];
        for (int i = 0; i < rank; i++)
        {
            int da = i - (rank - a.Length) >= 0 ? a[i - (rank - a.Length)] : 1;
            int db = i - (rank - b.Length) >= 0 ? b[i - (rank - b.Length)] : 1;
            r[i] = da == 1 ? db : da;
        }
        return r;
    }

    public static double[] RandomDoubles(System.Random rng, long n, double lo = -3, double hi = 3)
    {
        var v = new double[n];
        for (long i = 0; i < n; i++) v[i] = lo + (hi - lo) * rng.NextDouble();
        return v;
    }

    /// <summary>Values exactly representable in F32, so F32 and F64 tensors hold the same numbers.</summary>
    public static double[] RandomF32Doubles(System.Random rng, long n, double lo = -3, double hi = 3) =>
        RandomDoubles(rng, n, lo, hi).Select(v => (double)(float)v).ToArray();

    /// <summary>A contiguous tensor of <paramref name="dtype"/> holding <paramref name="values"/> in row-major order.</summary>
    public static Tensor Make(double[] values, int[] shape, DType dtype) => dtype switch
    {
        DType.F64 => Tensor.FromArray(values, shape),
        DType.F32 => Tensor.FromArray(values.Select(v => (float)v).ToArray(), shape),
        DType.I64 => Tensor.FromArray(values.Select(v => (long)v).ToArray(), shape),
        _ => Tensor.FromArray(values.Select(v => v != 0).ToArray(), shape),
    };

    /// <summary>How <see cref="Strided"/> lays the values out.</summary>
    public enum Kind
    {
        /// <summary>Row-major, no gaps.</summary>
        Contiguous,
        /// <summary>Every other element of a wider buffer along the last dimension, with an offset.</summary>
        Stepped,
        /// <summary>Stored with the dimensions reversed and permuted back (a transposed view).</summary>
        Permuted,
    }

    /// <summary>
    /// A tensor whose logical row-major values are <paramref name="values"/> but whose layout is
    /// <paramref name="kind"/>. Stepped and permuted layouts are non-contiguous whenever the shape allows.
    /// </summary>
    public static Tensor Strided(double[] values, int[] shape, DType dtype, Kind kind)
    {
        if (shape.Length == 0 || kind == Kind.Contiguous) return Make(values, shape, dtype);
        if (kind == Kind.Stepped)
        {
            var wide = (int[])shape.Clone();
            wide[^1] = 2 * shape[^1] + 1;
            var data = new double[Count(wide)];
            Array.Fill(data, 9999); // poison: must never be read
            for (long f = 0; f < values.Length; f++)
            {
                var idx = Unravel(f, shape);
                idx[^1] = 2 * idx[^1] + 1;
                data[Ravel(idx, wide)] = values[f];
            }
            using var w = Make(data, wide, dtype);
            return w.Slice(-1, 1, null, 2);
        }
        var rev = shape.Reverse().ToArray();
        var p = new double[values.Length];
        for (long f = 0; f < values.Length; f++)
        {
            var idx = Unravel(f, shape);
            p[Ravel(idx.Reverse().ToArray(), rev)] = values[f];
        }
        using var pt = Make(p, rev, dtype);
        return pt.Permute(Enumerable.Range(0, shape.Length).Reverse().ToArray());
    }

    public static readonly Kind[] AllKinds = [Kind.Contiguous, Kind.Stepped, Kind.Permuted];

    /// <summary>Asserts elementwise closeness with a relative and absolute tolerance, treating NaNs as equal.</summary>
    public static void Close(double[] expected, double[] actual, double rtol, double atol, string? what = null)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double e = expected[i], a = actual[i];
            if (double.IsNaN(e) && double.IsNaN(a)) continue;
            if (e == a) continue;
            if (!(Math.Abs(e - a) <= atol + rtol * Math.Abs(e)))
                Assert.Fail($"{what ?? "value"} at flat index {i}: expected {e:R}, got {a:R} (|diff| {Math.Abs(e - a):E3})");
        }
    }

    /// <summary>Asserts bitwise equality of two double arrays (so the sign of zero counts); any NaN equals any NaN.</summary>
    public static void Bitwise(double[] expected, double[] actual, string? what = null)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            if (BitConverter.DoubleToInt64Bits(expected[i]) != BitConverter.DoubleToInt64Bits(actual[i])
                && !(double.IsNaN(expected[i]) && double.IsNaN(actual[i])))
                Assert.Fail($"{what ?? "value"} at flat index {i}: expected {expected[i]:R}, got {actual[i]:R}");
    }

    /// <summary>Random shapes of rank 0..maxRank with sizes 1..maxSize (sizes drawn per dimension).</summary>
    public static Gen<int[]> ShapeGen(int minRank, int maxRank, int maxSize) =>
        from rank in Gen.Choose(minRank, maxRank)
        from dims in Gen.ArrayOf(Gen.Choose(1, maxSize), rank)
        select dims;

    /// <summary>A random shape and a seed for the values: the input of most reference properties.</summary>
    public static Gen<(int[] Shape, int Seed)> ShapeAndSeed(int minRank, int maxRank, int maxSize) =>
        from shape in ShapeGen(minRank, maxRank, maxSize)
        from seed in Gen.Choose(0, 1 << 30)
        select (shape, seed);

    /// <summary>Runs an FsCheck property with a fixed number of cases, throwing on failure.</summary>
    public static void Check<T>(Gen<T> gen, Func<T, bool> property, int maxTest = 100) =>
        Prop.ForAll(Arb.From(gen), property).Check(Config.QuickThrowOnFailure.WithMaxTest(maxTest));
}
