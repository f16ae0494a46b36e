namespace Engine.Tests.Ops;

/// <summary>
/// The normalisations by plain loops in double: every element belongs to one statistics set and one
/// channel (for the affine parameters), and the sets' mean and biased variance are computed in two passes.
/// </summary>
public static class NormReference
{
    /// <summary>The output, and each set's mean and biased variance.</summary>
    public sealed record Result(double[] Y, double[] Mean, double[] Var);

    public static Result Normalize(double[] x, long sets, Func<long, (long Set, int Channel)> map,
        double[]? gamma, double[]? beta, Func<double, double> inverseSpread)
    {
        var mean = new double[sets]; var variance = new double[sets]; var count = new long[sets];
        for (long f = 0; f < x.Length; f++) { var s = map(f).Set; mean[s] += x[f]; count[s]++; }
        for (long s = 0; s < sets; s++) mean[s] /= count[s];
        for (long f = 0; f < x.Length; f++) { var s = map(f).Set; variance[s] += (x[f] - mean[s]) * (x[f] - mean[s]); }
        for (long s = 0; s < sets; s++) variance[s] /= count[s];
        var y = new double[x.Length];
        for (long f = 0; f < x.Length; f++)
        {
            var (s, ch) = map(f);
            y[f] = (x[f] - mean[s]) * inverseSpread(variance[s]) * (gamma?[ch] ?? 1) + (beta?[ch] ?? 0);
        }
        return new Result(y, mean, variance);
    }

    /// <summary>1/sqrt(var + eps): eps inside the square root, as PyTorch's norms.</summary>
    public static Func<double, double> EpsOnVariance(double eps) => v => 1 / Math.Sqrt(v + eps);

    /// <summary>1/(sqrt(var) + eps): AFFNet's channel layer norm.</summary>
    public static Func<double, double> EpsOnStd(double eps) => v => 1 / (Math.Sqrt(v) + eps);

    /// <summary>Layer norm: sets are rows of the trailing <paramref name="d"/> elements; channel = position in the row.</summary>
    public static Result LayerNorm(double[] x, int d, double[]? gamma, double[]? beta, double eps) =>
        Normalize(x, d == 0 ? 0 : x.Length / d, f => (f / d, (int)(f % d)), gamma, beta, EpsOnVariance(eps));

    /// <summary>(N, C, S) normalised over C at every (n, s).</summary>
    public static Result ChannelsFirst(double[] x, int n, int c, long s, double[]? gamma, double[]? beta, Func<double, double> inverseSpread) =>
        Normalize(x, n * s, f => (f / (c * s) * s + f % s, (int)(f / s % c)), gamma, beta, inverseSpread);

    /// <summary>(N, C, S) normalised per (n, group).</summary>
    public static Result Group(double[] x, int n, int c, long s, int groups, double[]? gamma, double[]? beta, double eps) =>
        Normalize(x, (long)n * groups, f => (f / (c * s) * groups + f / s % c / (c / groups), (int)(f / s % c)), gamma, beta, EpsOnVariance(eps));

    /// <summary>(N, C, S) normalised per channel with the batch statistics.</summary>
    public static Result BatchTraining(double[] x, int c, long s, double[]? gamma, double[]? beta, double eps) =>
        Normalize(x, c, f => (f / s % c, (int)(f / s % c)), gamma, beta, EpsOnVariance(eps));

    /// <summary>(N, C, S) normalised per channel with given statistics.</summary>
    public static double[] BatchEval(double[] x, int c, long s, double[] mean, double[] variance, double[]? gamma, double[]? beta, double eps)
    {
        var y = new double[x.Length];
        for (long f = 0; f < x.Length; f++)
        {
            int ch = (int)(f / s % c);
            y[f] = (x[f] - mean[ch]) / Math.Sqrt(variance[ch] + eps) * (gamma?[ch] ?? 1) + (beta?[ch] ?? 0);
        }
        return y;
    }
}
