namespace Engine.Ops;

/// <summary>
/// How a classification loss sees its input: (outer, classes, inner) with the classes at dim 1 (dim 0 for an
/// unbatched (C) input), one loss per position (outer × inner), and the reduction that combines them.
/// </summary>
internal sealed class LossGeometry
{
    public required long Outer { get; init; }
    public required int Classes { get; init; }
    public required long Inner { get; init; }
    public required string Reduction { get; init; }

    /// <summary>The shape of the per-position losses: the input's without the class dimension.</summary>
    public required int[] PositionShape { get; init; }

    public long Positions => Outer * Inner;

    /// <summary>Checks what cross-entropy and nll_loss have in common: input, weight, reduction, devices.</summary>
    public static LossGeometry Of(string op, Tensor input, Tensor target, Tensor? weight, string reduction)
    {
        FamilyGuards.Float(op, input);
        ArgumentNullException.ThrowIfNull(target);
        target.ThrowIfDisposed(op);
        FamilyGuards.Reduction(op, reduction);
        if (input.Rank < 1)
            throw new ArgumentException($"{op}: expected 1 or more dimensions for the input (got 0; input shape {FamilyGuards.Shape(input)}, target shape {FamilyGuards.Shape(target)}).");
        FamilyGuards.SameDevice(op, input, target, "input", "target");
        var shape = input.Layout.Shape;
        int classDim = shape.Length == 1 ? 0 : 1;
        int classes = shape[classDim];
        if (weight is not null)
        {
            FamilyGuards.Float(op, weight, "weight");
            FamilyGuards.SameDevice(op, input, weight, "input", "weight");
            if (weight.Rank != 1 || weight.Layout.Shape[0] != classes)
                throw new ArgumentException($"{op}: weight tensor should be defined either for all {classes} classes or no classes but got weight tensor of shape: {FamilyGuards.Shape(weight)} (input shape {FamilyGuards.Shape(input)}).");
            if (weight.DType != input.DType)
                throw new ArgumentException($"{op}: expected weight to have the input's dtype {input.DType.TorchName()}, got {weight.DType.TorchName()} (shape {FamilyGuards.Shape(weight)}).");
        }
        long inner = 1;
        for (int i = 2; i < shape.Length; i++) inner *= shape[i];
        return new LossGeometry
        {
            Outer = shape.Length == 1 ? 1 : shape[0],
            Classes = classes,
            Inner = inner,
            Reduction = reduction,
            PositionShape = shape.Where((_, i) => i != classDim).ToArray(),
        };
    }

    /// <summary>Class-index targets: I64, with the input's shape less the class dimension.</summary>
    public void CheckClassTarget(string op, Tensor input, Tensor target)
    {
        string shapes = $"input shape {FamilyGuards.Shape(input)}, target shape {FamilyGuards.Shape(target)}";
        if (target.DType != DType.I64)
            throw new ArgumentException($"{op}: expected scalar type Long for class-index targets but found {target.DType.TorchName()} ({shapes}); " +
                "soft targets (class probabilities) must have the input's shape.");
        if (input.Rank >= 2 && target.Rank >= 1 && target.Layout.Shape[0] != input.Layout.Shape[0])
            throw new ArgumentException($"{op}: expected input batch_size ({input.Layout.Shape[0]}) to match target batch_size ({target.Layout.Shape[0]}) ({shapes}).");
        if (!target.Layout.Shape.AsSpan().SequenceEqual(PositionShape))
            throw new ArgumentException($"{op}: expected target size {Layout.Format(PositionShape)}, got {FamilyGuards.Shape(target)} ({shapes}).");
    }
}

/// <summary>
/// One evaluation of a classification loss: its geometry, hyper-parameters, and for messages the op and the shapes
/// ("input shape [..], target shape [..]").
/// </summary>
internal sealed record LossProblem(LossGeometry Geometry, bool Soft, long IgnoreIndex, double Smoothing, bool LogProbabilities, string Op, string Shapes)
{
    /// <summary>The error for a class index outside [0, C) that is not the ignore index, the same on every device.</summary>
    public IndexOutOfRangeException TargetOutOfBounds(long value) =>
        new($"{Op}: Target {value} is out of bounds: expected class indices in [0, {Geometry.Classes}) or the ignore index {IgnoreIndex} ({Shapes}).");
}
