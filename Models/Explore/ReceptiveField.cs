using Engine.Models.Nn;

namespace Engine.Models.Explore;

/// <summary>
/// An effective receptive field: how much each input pixel moves the centre position of a feature map,
/// the mean over images of |d centre / d input| summed over the input channels (Luo et al. 2016; the
/// centre is the sum over channels at (H/2, W/2), as in RepLKNet's ERF script).
/// </summary>
public sealed class ReceptiveFieldMap
{
    internal ReceptiveFieldMap(FeatureStage stage, int height, int width, double[] values, int images)
    {
        Stage = stage;
        Height = height;
        Width = width;
        Values = values;
        Images = images;
    }

    /// <summary>The stage whose centre was differentiated.</summary>
    public FeatureStage Stage { get; }

    /// <summary>Input height.</summary>
    public int Height { get; }

    /// <summary>Input width.</summary>
    public int Width { get; }

    /// <summary>The map, row-major, <see cref="Height"/> x <see cref="Width"/>, all values ≥ 0.</summary>
    public IReadOnlyList<double> Values { get; }

    /// <summary>Number of images averaged.</summary>
    public int Images { get; }

    /// <summary>Largest value.</summary>
    public double Max => Values.Max();

    /// <summary>The value at row <paramref name="y"/>, column <paramref name="x"/>.</summary>
    public double this[int y, int x] => Values[y * Width + x];

    /// <summary>Number of pixels above <paramref name="relativeThreshold"/> times the maximum (0: every pixel with any influence).</summary>
    public int Support(double relativeThreshold = 0)
    {
        double cut = relativeThreshold * Max;
        return Values.Count(v => v > cut);
    }

    /// <summary>The smallest rectangle (inclusive rows and columns) holding every pixel above <paramref name="relativeThreshold"/> times the maximum; null when the map is all zero.</summary>
    public (int Top, int Left, int Bottom, int Right)? SupportBox(double relativeThreshold = 0)
    {
        double cut = relativeThreshold * Max;
        int top = int.MaxValue, left = int.MaxValue, bottom = -1, right = -1;
        for (int y = 0; y < Height; y++)
            for (int x = 0; x < Width; x++)
                if (this[y, x] > cut) (top, left, bottom, right) = (Math.Min(top, y), Math.Min(left, x), Math.Max(bottom, y), Math.Max(right, x));
        return bottom < 0 ? null : (top, left, bottom, right);
    }

    /// <summary>
    /// The area of the smallest square centred on the input's centre that holds <paramref name="fraction"/> of
    /// the map's total, as a fraction of the input's area (RepLKNet's "high-contribution area ratio").
    /// </summary>
    public double AreaRatio(double fraction)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(fraction);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(fraction, 1.0);
        double total = Values.Sum();
        if (total == 0) return 0;
        int cy = Height / 2, cx = Width / 2;
        for (int r = 0; ; r++)
        {
            int y0 = Math.Max(0, cy - r), y1 = Math.Min(Height - 1, cy + r), x0 = Math.Max(0, cx - r), x1 = Math.Min(Width - 1, cx + r);
            double inside = 0;
            for (int y = y0; y <= y1; y++)
                for (int x = x0; x <= x1; x++)
                    inside += this[y, x];
            bool whole = y0 == 0 && x0 == 0 && y1 == Height - 1 && x1 == Width - 1;
            if (inside >= fraction * total * (1 - 1e-12) || whole)
                return (double)(y1 - y0 + 1) * (x1 - x0 + 1) / ((double)Height * Width);
        }
    }

    /// <summary>Draws the map as a heat map (see <see cref="Heatmap.Render"/>).</summary>
    public RgbImage Render(int cellSize = 8, HeatmapScale scale = HeatmapScale.Linear) =>
        Heatmap.Render(Values.ToArray(), Height, Width, cellSize, scale);
}

/// <summary>Computes effective receptive fields of a model's feature stages.</summary>
public static class ReceptiveField
{
    /// <summary>
    /// The effective receptive field of <paramref name="stage"/> over <paramref name="images"/> (N, C, H, W),
    /// in evaluation mode, <paramref name="chunk"/> images per backward pass. Layers after the stage do not run.
    /// </summary>
    public static ReceptiveFieldMap Compute(Module<Tensor, Tensor> model, FeatureStage stage, Tensor images, int chunk = 32)
    {
        if (images.Rank != 4)
            throw new ArgumentException($"erf: images must be (N, C, H, W), got shape {Layout.Format(images.Shape)}.", nameof(images));
        ArgumentOutOfRangeException.ThrowIfLessThan(chunk, 1);
        var target = model.NamedModules().FirstOrDefault(m => m.Name == stage.Path).Module as Module<Tensor, Tensor>
            ?? throw new ArgumentException($"erf: the model has no tensor-to-tensor module at '{stage.Path}'.", nameof(stage));
        int n = images.Shape[0], height = images.Shape[2], width = images.Shape[3];
        var sum = new double[height * width];
        bool training = model.Training;
        var dtype = FeatureStageFinder.ModelDType(model);
        // The parameters' gradients are not wanted here: freezing them saves the weight gradients' work and
        // leaves whatever the caller accumulated untouched.
        var frozen = model.Parameters().Where(p => p.RequiresGrad).ToList();
        foreach (var p in frozen) p.RequiresGrad = false;
        model.Eval();
        try
        {
            for (int start = 0; start < n; start += chunk)
            {
                using var scope = Tensor.Scope();
                var x = images.Narrow(0, start, Math.Min(chunk, n - start)).ToDType(dtype).Clone().RequiresGradInPlace();
                var feature = RunUntil(model, target, x);
                if (feature.Rank != 4)
                    throw new InvalidOperationException($"erf: stage '{stage.Path}' produced shape {Layout.Format(feature.Shape)}, not a feature map.");
                var (hDim, wDim) = stage.ChannelsLast ? (1, 2) : (2, 3);
                var centre = feature.Narrow(hDim, feature.Shape[hDim] / 2, 1).Narrow(wDim, feature.Shape[wDim] / 2, 1);
                centre.Sum().Backward();
                var grad = (x.Grad ?? throw new InvalidOperationException($"erf: the centre of stage '{stage.Path}' does not depend on the input."))
                    .Abs().Sum([0, 1]).ToDType(DType.F64).ToArray<double>();
                for (int i = 0; i < sum.Length; i++) sum[i] += grad[i];
                x.Grad = null;
            }
        }
        finally
        {
            model.Train(training);
            foreach (var p in frozen) p.RequiresGrad = true;
        }
        for (int i = 0; i < sum.Length; i++) sum[i] /= n;
        return new ReceptiveFieldMap(stage, height, width, sum, n);
    }

    /// <summary>
    /// Runs the model until <paramref name="target"/> has produced its output and stops the forward pass there
    /// (by an exception from the hook, caught here). The output stays usable because a trainable forward keeps
    /// what it records in the caller's scope.
    /// </summary>
    private static Tensor RunUntil(Module<Tensor, Tensor> model, Module<Tensor, Tensor> target, Tensor x)
    {
        Tensor? captured = null;
        using (target.RegisterForwardHook((_, _, output) =>
        {
            captured = output;
            throw new StageReached();
        }))
        {
            try
            {
                model.Call(x);
            }
            catch (StageReached)
            {
            }
        }
        return captured ?? throw new InvalidOperationException("erf: the stage did not run during the forward pass.");
    }

    private sealed class StageReached : Exception
    {
    }
}
