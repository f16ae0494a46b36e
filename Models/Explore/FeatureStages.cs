using Engine.Autograd;
using Engine.Models.Data;
using Engine.Models.Nn;

namespace Engine.Models.Explore;

/// <summary>A module whose output is a feature map, named by its dotted path in the model.</summary>
/// <param name="Path">The module's path ("stages.2", "features").</param>
/// <param name="ChannelsLast">True when the output is laid out (N, H, W, C) rather than (N, C, H, W).</param>
public sealed record FeatureStage(string Path, bool ChannelsLast = false)
{
    /// <summary>The output shape for one image, once discovered (empty until then).</summary>
    public int[] OutputShape { get; init; } = [];

    /// <summary>Height and width of the feature map.</summary>
    public (int Height, int Width) Spatial => OutputShape.Length != 4 ? (0, 0)
        : ChannelsLast ? (OutputShape[1], OutputShape[2]) : (OutputShape[2], OutputShape[3]);
}

/// <summary>
/// A model that names its own feature stages, for tools that hook into them (receptive fields, pictures).
/// The list is ordered from the input to the output; its last entry is the default.
/// </summary>
public interface IFeatureStages
{
    /// <summary>The stages, input to output; paths as in <see cref="Module.NamedModules"/>.</summary>
    IReadOnlyList<FeatureStage> FeatureStages { get; }
}

/// <summary>Finds the feature stages of any <see cref="Module{TIn, TOut}"/> on tensors.</summary>
public static class FeatureStageFinder
{
    /// <summary>
    /// The model's stages with their output shapes: the model's own list when it implements
    /// <see cref="IFeatureStages"/>; otherwise, found by running one image through the model with a hook on
    /// every submodule: for each spatial size the feature maps pass through (larger than 1x1), the outermost
    /// module that last produced it, that is, the end of each resolution stage. The last entry is the default
    /// stage: the last feature map before pooling. The layout of a 4-d output is read from its shape (see
    /// <see cref="GuessLayout"/>).
    /// </summary>
    public static IReadOnlyList<FeatureStage> Find(Module<Tensor, Tensor> model, ImageShape input)
    {
        var calls = TraceOutputs(model, input);
        if (model is IFeatureStages own)
        {
            return own.FeatureStages.Select(s => s with
            {
                OutputShape = calls.LastOrDefault(c => c.Path == s.Path).Shape
                    ?? throw new InvalidOperationException($"explore: {model.GetType().Name} names the stage '{s.Path}', but no module at that path ran on a tensor."),
            }).ToList();
        }
        var lastPerSize = new List<FeatureStage>();
        foreach (var (path, shape) in calls)
        {
            if (path.Length == 0 || GuessLayout(shape, input) is not { } channelsLast) continue;
            var stage = new FeatureStage(path, channelsLast) { OutputShape = shape };
            var (h, w) = stage.Spatial;
            if (h * w <= 1) continue;
            lastPerSize.RemoveAll(e => e.Spatial == (h, w));
            lastPerSize.Add(stage);
        }
        return lastPerSize;
    }

    /// <summary>The stage at <paramref name="path"/>, or the default (the last) when it is null; an unknown path lists the known ones.</summary>
    public static FeatureStage Resolve(Module<Tensor, Tensor> model, ImageShape input, string? path)
    {
        var stages = Find(model, input);
        if (path is null)
            return stages.Count > 0 ? stages[^1]
                : throw new InvalidOperationException($"explore: {model.GetType().Name} produces no feature map larger than 1x1; name a module with --stage.");
        if (stages.FirstOrDefault(s => s.Path == path) is { } known) return known;
        var calls = TraceOutputs(model, input);
        var (_, shape) = calls.LastOrDefault(c => c.Path == path);
        if (shape is null)
            throw new ArgumentException($"explore: the model has no module '{path}' that runs on a tensor; its stages: {string.Join(", ", stages.Select(s => s.Path))}.");
        if (GuessLayout(shape, input) is not { } channelsLast)
            throw new ArgumentException($"explore: module '{path}' outputs shape {Layout.Format(shape)}, not a feature map (N, C, H, W) or (N, H, W, C).");
        return new FeatureStage(path, channelsLast) { OutputShape = shape };
    }

    /// <summary>
    /// Whether a module's output is a feature map, and which layout: (N, C, H, W) when its last two sizes have
    /// the input's aspect ratio (false), else (N, H, W, C) when the middle two have it (true), else null (not a
    /// feature map: tokens, logits). A map whose channel count happens to equal its width reads as (N, C, H, W);
    /// a model for which that guess is wrong names its stages with <see cref="IFeatureStages"/>.
    /// </summary>
    public static bool? GuessLayout(int[] shape, ImageShape input)
    {
        if (shape.Length != 4) return null;
        bool Aspect(int h, int w) => (long)h * input.Width == (long)w * input.Height;
        return Aspect(shape[2], shape[3]) ? false : Aspect(shape[1], shape[2]) ? true : null;
    }

    /// <summary>Every tensor-to-tensor module's output shape for one zero image, in the order the outputs were produced ('' is the model).</summary>
    public static IReadOnlyList<(string Path, int[] Shape)> TraceOutputs(Module<Tensor, Tensor> model, ImageShape input)
    {
        var calls = new List<(string Path, int[] Shape)>();
        var hooks = new List<IDisposable>();
        bool training = model.Training;
        try
        {
            foreach (var (name, module) in model.NamedModules())
                if (module is Module<Tensor, Tensor> m)
                    hooks.Add(m.RegisterForwardHook((_, _, output) => calls.Add((name, output.Shape))));
            model.Eval();
            using var scope = Tensor.Scope();
            using var noGrad = Tape.NoGrad();
            model.Call(Tensor.Zeros([1, input.Channels, input.Height, input.Width], ModelDType(model)));
        }
        finally
        {
            foreach (var h in hooks) h.Dispose();
            model.Train(training);
        }
        return calls;
    }

    /// <summary>The element type of the model's parameters (float32 for a model without any).</summary>
    internal static DType ModelDType(Module model) => model.Parameters().FirstOrDefault()?.DType ?? DType.F32;
}
