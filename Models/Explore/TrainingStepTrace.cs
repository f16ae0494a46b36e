using Engine.Autograd;
using Engine.Diagnostics;
using Engine.Models.Nn;
using Engine.Models.Optim;
using Engine.Ops;

namespace Engine.Models.Explore;

/// <summary>
/// One training step (forward, cross-entropy, backward, AdamW update) run under a <see cref="Profiler"/>, with
/// its tape kept for printing. The step's tensors are freed when it ends, as in training; the trace keeps only
/// the loss, whose nodes hold the shapes, saved sizes and times. The model's weights change: the trace takes
/// <c>warmupSteps + 1</c> optimizer steps. The step runs where the images are (the model and labels must be
/// there too); on a GPU the profile's times are the device's, from CUDA events (see <see cref="Profiler"/>).
/// </summary>
public sealed class TrainingStepTrace : IDisposable
{
    private TrainingStepTrace(Tensor loss, Profiler profile)
    {
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

    /// <summary>The device the step ran on.</summary>
    public Device Device => Profile.Device;

    /// <summary>The tape as a table (see <see cref="TapePrinter.Format"/>); on a GPU with the profile's device times.</summary>
    public string Table => TapePrinter.Format(Loss, DeviceTimes);

    /// <summary>The tape as a Graphviz DOT graph.</summary>
    public string Dot => TapePrinter.ToDot(Loss);

    /// <summary>The tape summed by op kind (times as in <see cref="Table"/>).</summary>
    public string Summary => TapePrinter.Summary(Loss, DeviceTimes);

    // The nodes' own times are host stopwatch readings, which on a GPU measure queueing, not running.
    private IReadOnlyDictionary<long, (double Forward, double Backward)>? DeviceTimes =>
        Device.Type == DeviceType.Cpu ? null : Profile.NodeTimes();

    /// <summary>
    /// Runs <paramref name="warmupSteps"/> untraced steps (so the optimizer state exists and the allocator's
    /// cache is warm, as in the middle of a training run), then one traced step on the same batch.
    /// </summary>
    public static TrainingStepTrace Run(Module<Tensor, Tensor> model, Tensor images, Tensor labels, int warmupSteps = 1, double lr = 2e-3, double labelSmoothing = 0.1)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(warmupSteps);
        NameParameters(model);
        var device = images.Device;
        if (labels.Device != device)
            throw new ArgumentException($"TrainingStepTrace: the images are on {device} but the labels are on {labels.Device}; move both to one device.");
        if (model.Parameters().FirstOrDefault(p => p.Device != device) is { } stray)
            throw new ArgumentException($"TrainingStepTrace: the images are on {device} but the model's parameter {stray.Name ?? "(unnamed)"} {Layout.Format(stray.Shape)} is on {stray.Device}; move the model with ToDevice({device}).");
        model.Train();
        using var optimizer = new AdamW(model.Parameters().ToList(), lr: lr, weightDecay: 0.05);
        for (int i = 0; i < warmupSteps; i++)
        {
            using var warm = Tensor.Scope();
            Step(model, optimizer, images, labels, labelSmoothing, null);
        }
        using var scope = Tensor.Scope();
        using var profile = Profiler.Start(device);
        var loss = Step(model, optimizer, images, labels, labelSmoothing, profile).DetachFromScope();
        profile.Stop();
        return new TrainingStepTrace(loss, profile);
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
    public void Dispose() => Loss.Dispose();
}
