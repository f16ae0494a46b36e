using System.Diagnostics;
using Engine.Autograd;
using Engine.Backends;
using Engine.Randomness;

namespace Engine.Ops;

public static partial class Functional
{
    /// <summary>
    /// Zeroes each element with probability <paramref name="p"/> and scales the rest by 1 / (1 - p), PyTorch's
    /// <c>F.dropout</c>. The mask comes from <see cref="Tensor.Rand"/> (counter-based), so a seed gives the same
    /// mask for any thread count; the backward multiplies by the same, saved mask. With p = 0, outside training,
    /// or on an empty tensor the input itself is returned (as PyTorch does); p = 1 gives zeros.
    /// </summary>
    public static Tensor Dropout(Tensor input, double p = 0.5, bool training = true, Generator? generator = null)
    {
        const string op = "dropout";
        FamilyGuards.Float(op, input);
        FamilyGuards.Probability(op, p, input);
        if (!training || p == 0 || input.NumEl == 0) return input;
        return DropoutFunction.Apply(op, input, input.Layout.Shape, 1 - p, 1 / (1 - p), generator);
    }

    /// <summary>
    /// Stochastic depth, timm's <c>drop_path</c>: drops whole samples (the mask has shape (N, 1, ..., 1)) with
    /// probability <paramref name="p"/>, and scales the kept ones by 1 / (1 - p) when <paramref name="scaleByKeep"/>.
    /// Identity (the input itself) outside training or when p = 0.
    /// </summary>
    public static Tensor DropPath(Tensor input, double p = 0.0, bool training = false, bool scaleByKeep = true, Generator? generator = null)
    {
        const string op = "drop_path";
        FamilyGuards.Float(op, input);
        FamilyGuards.Probability(op, p, input);
        if (input.Rank < 1)
            throw new ArgumentException($"{op}: expected an input with a batch dimension (rank >= 1), got shape {FamilyGuards.Shape(input)}.");
        if (!training || p == 0 || input.NumEl == 0) return input;
        var maskShape = input.Layout.Shape.Select((d, i) => i == 0 ? d : 1).ToArray();
        double keep = 1 - p;
        return DropoutFunction.Apply(op, input, maskShape, keep, scaleByKeep && keep > 0 ? 1 / keep : 1, generator);
    }
}

/// <summary>
/// y = x * mask with mask = (u &lt; keep) * scale, u uniform from the generator on the input's device; recorded as
/// one node. The uniform samples are the same bits on the CPU and on CUDA (the same Philox stream), and so are the
/// masks: <c>Dropout.Cpu.cs</c> and <c>Dropout.cu</c> make them with the same comparison in the same type.
/// </summary>
internal static class DropoutFunction
{
    public static Tensor Apply(string op, Tensor input, int[] maskShape, double keep, double scale, Generator? generator)
    {
        long t0 = Stopwatch.GetTimestamp();
        if (input.Device.Type == DeviceType.Cpu && input.IsContiguous && maskShape.AsSpan().SequenceEqual(input.Layout.Shape))
            return FusedCpu(op, input, keep, scale, generator, t0);
        var mask = Tensor.Rand(maskShape, input.DType, input.Device, generator);
        UniformToMask(op, mask, keep, scale);
        Tensor y;
        using (Tape.NoGrad()) y = input.Mul(mask);
        if (Tape.ShouldRecord(input))
        {
            var sm = Tape.Save(mask);
            Tape.Record(op, [input], [y], g => [g[0].Mul(sm.Value)], [sm], t0);
        }
        mask.Dispose();
        return y;
    }

    /// <summary>
    /// The CPU's one-pass form for a contiguous input and an elementwise mask: the same generator offset, mask and
    /// output bits as the three passes above (rand, mask, multiply), without the uniform samples ever reaching memory;
    /// the mask is written only when the backward needs it.
    /// </summary>
    private static Tensor FusedCpu(string op, Tensor input, double keep, double scale, Generator? generator, long t0)
    {
        var gen = generator ?? Generator.Default;
        ulong offset = gen.Reserve(Philox.BlocksFor(RandomDistribution.Uniform, input.DType, input.NumEl));
        bool record = Tape.ShouldRecord(input);
        var y = Tensor.Empty(input.Layout.Shape, input.DType, input.Device);
        var mask = record ? Tensor.Empty(input.Layout.Shape, input.DType, input.Device) : null;
        DropoutCpu.Fused(input, y, mask, gen.Seed, offset, keep, scale);
        if (mask is not null)
        {
            var sm = Tape.Save(mask);
            Tape.Record(op, [input], [y], g => [g[0].Mul(sm.Value)], [sm], t0);
            mask.Dispose();
        }
        return y;
    }

    private static void UniformToMask(string op, Tensor u, double keep, double scale)
    {
        switch (u.Device.Type)
        {
            case DeviceType.Cpu: DropoutCpu.UniformToMask(u, keep, scale); break;
            case DeviceType.Cuda: DropoutCuda.UniformToMask(u, keep, scale); break;
            default: throw Kernel.Missing(op, u);
        }
    }
}
