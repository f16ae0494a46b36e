namespace Engine.Autograd;

/// <summary>Settings for <see cref="GradCheck.Check"/>.</summary>
public sealed record GradCheckOptions
{
    /// <summary>Central difference step.</summary>
    public double Step { get; init; } = 1e-6;

    /// <summary>Absolute tolerance.</summary>
    public double AbsoluteTolerance { get; init; } = 1e-5;

    /// <summary>Relative tolerance (to the finite-difference value).</summary>
    public double RelativeTolerance { get; init; } = 1e-3;

    /// <summary>Indices of the inputs to check; every floating-point input when null.</summary>
    public int[]? Inputs { get; init; }

    /// <summary>Seed of the random projection applied to non-scalar outputs.</summary>
    public ulong Seed { get; init; } = 1234;
}

/// <summary>The outcome of a gradient check: whether it passed, and the worst element found.</summary>
public sealed record GradCheckResult(bool Passed, int WorstInput, int[] WorstIndex, double Analytic, double Numeric, double AbsoluteError, int ElementsChecked)
{
    /// <inheritdoc/>
    public override string ToString() => Passed
        ? $"gradcheck passed ({ElementsChecked} elements; worst |analytic - numeric| = {AbsoluteError:E3})"
        : $"gradcheck failed at input {WorstInput}, index {Layout.Format(WorstIndex)}: analytic {Analytic:R} vs numeric {Numeric:R} (|diff| = {AbsoluteError:E3})";
}

/// <summary>
/// Compares the tape's gradients with float64 central differences. A non-scalar output y is reduced to
/// the scalar sum(y * v) with a fixed random v, so every output element takes part with its own weight.
/// </summary>
public static class GradCheck
{
    /// <summary>
    /// Checks the gradients of <paramref name="function"/> at <paramref name="inputs"/>. The inputs must be
    /// F64 leaves (any strides, no overlapping elements); the function must not change them.
    /// </summary>
    public static GradCheckResult Check(Func<Tensor[], Tensor> function, Tensor[] inputs, GradCheckOptions? options = null)
    {
        options ??= new GradCheckOptions();
        var check = options.Inputs ?? Enumerable.Range(0, inputs.Length).Where(i => inputs[i].DType.IsFloatingPoint()).ToArray();
        foreach (var i in check)
        {
            if (inputs[i].DType != DType.F64)
                throw new ArgumentException($"gradcheck: input {i} is {inputs[i].DType.TorchName()}; gradient checks run in float64.");
            if (!inputs[i].IsLeaf)
                throw new ArgumentException($"gradcheck: input {i} must be a leaf tensor.");
            if (inputs[i].Layout.Strides.Where((s, d) => s == 0 && inputs[i].Layout.Shape[d] > 1).Any())
                throw new ArgumentException($"gradcheck: input {i} has overlapping elements (a zero stride); expand inside the function instead.");
        }

        var previous = check.Select(i => inputs[i].RequiresGrad).ToArray();
        try
        {
            using var scope = Tensor.Scope();
            foreach (var i in check) { inputs[i].ZeroGrad(); inputs[i].RequiresGrad = true; }

            // Analytic gradients from the tape.
            Tensor? weights = null;
            var y = function(inputs);
            if (y.NumEl != 1)
                weights = Tensor.Randn(y.Layout.Shape, DType.F64, y.Device, new Randomness.Generator(options.Seed));
            var loss = weights is null ? y.Sum() : y.Mul(weights).Sum();
            loss.Backward();
            var analytic = check.Select(i => inputs[i].Grad?.ToArray<double>() ?? new double[inputs[i].NumEl]).ToArray();

            double Evaluate()
            {
                using var inner = Tensor.Scope();
                using var noGrad = Tape.NoGrad();
                var o = function(inputs);
                var l = weights is null ? o.Sum() : o.Mul(weights).Sum();
                return l.Item();
            }

            int worstInput = -1; long worstFlat = 0;
            double worstA = 0, worstN = 0, worstErr = 0, worstExcess = double.NegativeInfinity;
            int count = 0;
            for (int c = 0; c < check.Length; c++)
            {
                var x = inputs[check[c]];
                for (long e = 0; e < x.NumEl; e++)
                {
                    double original = ReadFlat(x, e);
                    WriteFlat(x, e, original + options.Step);
                    double plus = Evaluate();
                    WriteFlat(x, e, original - options.Step);
                    double minus = Evaluate();
                    WriteFlat(x, e, original);
                    double numeric = (plus - minus) / (2 * options.Step);
                    double a = analytic[c][e];
                    double err = Math.Abs(a - numeric);
                    double excess = double.IsNaN(err) ? double.PositiveInfinity : err - options.AbsoluteTolerance - options.RelativeTolerance * Math.Abs(numeric);
                    count++;
                    if (excess > worstExcess)
                    {
                        worstExcess = excess; worstInput = check[c]; worstFlat = e;
                        worstA = a; worstN = numeric; worstErr = err;
                    }
                }
            }
            var index = worstInput >= 0 ? Unflatten(worstFlat, inputs[worstInput].Layout.Shape) : [];
            return new GradCheckResult(worstExcess <= 0 || count == 0, worstInput, index, worstA, worstN, worstErr, count);
        }
        finally
        {
            for (int c = 0; c < check.Length; c++)
            {
                inputs[check[c]].ZeroGrad();
                inputs[check[c]].RequiresGrad = previous[c];
            }
        }
    }

    private static int[] Unflatten(long flat, int[] shape)
    {
        var index = new int[shape.Length];
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            index[d] = (int)(flat % shape[d]);
            flat /= shape[d];
        }
        return index;
    }

    private static unsafe double* Address(Tensor x, long flat)
    {
        var idx = Unflatten(flat, x.Layout.Shape);
        long off = x.Offset;
        for (int d = 0; d < idx.Length; d++) off += idx[d] * x.Layout.Strides[d];
        return (double*)((CpuStorage)x.Storage).Pointer + off;
    }

    private static unsafe double ReadFlat(Tensor x, long flat) => *Address(x, flat);

    // Perturbation writes straight into the storage: it is not an operation on the tape, and it does
    // not bump the version counter, since the tape of the analytic pass is already gone.
    private static unsafe void WriteFlat(Tensor x, long flat, double value) => *Address(x, flat) = value;
}
