using Engine.Autograd;
using Engine.Diagnostics;
using Engine.Models.Nn;
using Engine.Models.Optim;
using Engine.Ops;

namespace Engine.Models.Explore;

/// <summary>
/// One training step (forward, cross-entropy, backward, AdamW update) run under a <see cref="Profiler"/>, with
/// its tape kept for printing. The step's tensors live until the trace is disposed; dispose it on the thread
/// that ran it. The model's weights change: the trace takes <c>warmupSteps + 1</c> optimizer steps.
/// </summary>
public sealed class TrainingStepTrace : IDisposable
{
    private readonly TensorScope _scope;

    private TrainingStepTrace(TensorScope scope, Tensor loss, Profiler profile)
    {
        _scope = scope;
        Loss = loss;
        Profile = profile;
        LossValue = loss.Item();
    }

    /// <summary>The step's loss: the root of the tape (its backward has run).</summary>
    public Tensor Loss { get; }

    /// <summary>The loss as a number.</summary>
    public double LossValue { get; }

    /// <summary>Time and memory of the traced step, event by event.</summary>
    public Profiler Profile { get; }

    /// <summary>The tape's nodes in forward order.</summary>
    public IReadOnlyList<Node> Nodes => Tape.NodesOf(Loss);

    /// <summary>The tape as a table (see <see cref="TapePrinter.Format"/>).</summary>
    public string Table => TapePrinter.Format(Loss);

    /// <summary>The tape as a Graphviz DOT graph.</summary>
    public string Dot => TapePrinter.ToDot(Loss);

    /// <summary>The tape summed by op kind.</summary>
    public string Summary => TapePrinter.Summary(Loss);

    /// <summary>
    /// Runs <paramref name="warmupSteps"/> untraced steps (so the optimizer state exists and the allocator's
    /// cache is warm, as in the middle of a training run), then one traced step on the same batch.
    /// </summary>
    public static TrainingStepTrace Run(Module<Tensor, Tensor> model, Tensor images, Tensor labels, int warmupSteps = 1, double lr = 2e-3, double labelSmoothing = 0.1)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(warmupSteps);
        NameParameters(model);
        model.Train();
        using var optimizer = new AdamW(model.Parameters().ToList(), lr: lr, weightDecay: 0.05);
        for (int i = 0; i < warmupSteps; i++)
        {
            using var warm = Tensor.Scope();
            Step(model, optimizer, images, labels, labelSmoothing, null);
        }
        var scope = Tensor.Scope();
        var profile = Profiler.Start();
        try
        {
            var loss = Step(model, optimizer, images, labels, labelSmoothing, profile);
            profile.Stop();
            return new TrainingStepTrace(scope, loss, profile);
        }
        catch
        {
            profile.Stop();
            scope.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Names every unnamed parameter after its path in the model ("features.0.weight"), so that tape tables and
    /// graphs show where a leaf comes from instead of "leaf".
    /// </summary>
    public static void NameParameters(Module model)
    {
        foreach (var (name, p) in model.NamedParameters()) p.Name ??= name;
    }

    private static Tensor Step(Module<Tensor, Tensor> model, Optimizer optimizer, Tensor images, Tensor labels, double labelSmoothing, Profiler? profile)
    {
        var logits = model.Call(images);
        var loss = Functional.CrossEntropy(logits, labels, labelSmoothing: labelSmoothing);
        profile?.Mark("forward");
        loss.Backward();
        profile?.Mark("backward");
        optimizer.Step();
        optimizer.ZeroGrad(setToNone: true);
        profile?.Mark("optimizer");
        return loss;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        Profile.Stop();
        _scope.Dispose();
    }
}
