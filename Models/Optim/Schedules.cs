using System.Globalization;

namespace Engine.Models.Optim;

/// <summary>
/// A per-step learning-rate schedule. Call <see cref="Step"/> once per optimizer step, before
/// <see cref="Optimizer.Step()"/>: it sets every group's lr for step t (t counts from 0) and advances t.
/// A group follows the schedule scaled by its <c>lr_scale</c> option when it has one (timm's
/// convention), else by the ratio of its own base lr to the optimizer's default lr, so groups created
/// with the default lr follow the schedule exactly and a group created with 10x the default gets 10x
/// the schedule. The base lr is recorded in the group as <c>initial_lr</c> the first time, as PyTorch's
/// schedulers do.
/// </summary>
public abstract class LrSchedule
{
    /// <summary>The group option holding a group's base learning rate.</summary>
    public const string InitialLrKey = "initial_lr";

    /// <summary>The group option multiplying the schedule for that group (timm's <c>lr_scale</c>).</summary>
    public const string LrScaleKey = "lr_scale";

    /// <summary>t: the number of steps applied so far, and the step the next <see cref="Step"/> sets the lr for.</summary>
    public long StepCount { get; set; }

    /// <summary>The learning rate of a group with scale 1 at step <paramref name="t"/>.</summary>
    public abstract double LrAt(long t);

    /// <summary>Sets each group's lr for step <see cref="StepCount"/>, then advances it. Returns the unscaled lr it applied.</summary>
    public double Step(Optimizer optimizer)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        double lr = LrAt(StepCount);
        double defaultLr = optimizer.Defaults.TryGetValue("lr", out var d) && d is double dd ? dd : 0;
        foreach (var group in optimizer.ParamGroups)
        {
            group.SetDefault(InitialLrKey, group.Lr);
            double scale = group.Contains(LrScaleKey) ? group.GetDouble(LrScaleKey)
                : defaultLr == 0 ? 1 : group.GetDouble(InitialLrKey) / defaultLr;
            group.Lr = lr * scale;
        }
        StepCount++;
        return lr;
    }

    /// <summary>The schedule's hyper-parameters and its position <c>t</c>.</summary>
    public abstract Dictionary<string, double> StateDict();

    /// <summary>Restores what <see cref="StateDict"/> returned (hyper-parameters included, as PyTorch's schedulers do).</summary>
    public abstract void LoadStateDict(IReadOnlyDictionary<string, double> state);

    /// <summary>Reads one entry of a state dict, naming the schedule and the key when it is missing.</summary>
    protected static double Get(IReadOnlyDictionary<string, double> state, string key, string schedule) =>
        state.TryGetValue(key, out var v) ? v
            : throw new ArgumentException($"{schedule}: the state dict has no '{key}' (it has {string.Join(", ", state.Keys)}).");
}

/// <summary>
/// Linear warmup then cosine decay, per step:
/// lr(t) = warmup_lr_init + (lr - warmup_lr_init) * t / warmup_steps for t &lt; warmup_steps; else
/// min_lr + 0.5 * (lr - min_lr) * (1 + cos(pi * (t - warmup_steps) / (steps - warmup_steps))), and
/// min_lr from t = steps on. The arithmetic follows the formula's order exactly, so the values are
/// bit-identical to Python's.
/// </summary>
public sealed class WarmupCosine : LrSchedule
{
    /// <summary>Creates the schedule; <paramref name="totalSteps"/> must exceed <paramref name="warmupSteps"/>.</summary>
    public WarmupCosine(double lr, long warmupSteps, double warmupLrInit, double minLr, long totalSteps)
    {
        Check(lr, warmupSteps, warmupLrInit, minLr, totalSteps);
        (Lr, WarmupSteps, WarmupLrInit, MinLr, TotalSteps) = (lr, warmupSteps, warmupLrInit, minLr, totalSteps);
    }

    private static void Check(double lr, long warmupSteps, double warmupLrInit, double minLr, long totalSteps)
    {
        if (!(lr >= 0)) throw new ArgumentException($"WarmupCosine: lr must be >= 0, got {lr}.");
        if (!(warmupLrInit >= 0)) throw new ArgumentException($"WarmupCosine: warmupLrInit must be >= 0, got {warmupLrInit}.");
        if (!(minLr >= 0)) throw new ArgumentException($"WarmupCosine: minLr must be >= 0, got {minLr}.");
        if (warmupSteps < 0) throw new ArgumentException($"WarmupCosine: warmupSteps must be >= 0, got {warmupSteps}.");
        if (totalSteps <= warmupSteps) throw new ArgumentException($"WarmupCosine: totalSteps ({totalSteps}) must be larger than warmupSteps ({warmupSteps}).");
    }

    /// <summary>Peak learning rate, reached at t = warmup_steps.</summary>
    public double Lr { get; private set; }

    /// <summary>Steps of linear warmup.</summary>
    public long WarmupSteps { get; private set; }

    /// <summary>Learning rate at t = 0.</summary>
    public double WarmupLrInit { get; private set; }

    /// <summary>Learning rate at the end of the cosine, and after it.</summary>
    public double MinLr { get; private set; }

    /// <summary>Steps of the whole schedule (warmup included).</summary>
    public long TotalSteps { get; private set; }

    /// <inheritdoc/>
    public override double LrAt(long t)
    {
        if (t < WarmupSteps) return WarmupLrInit + (Lr - WarmupLrInit) * t / WarmupSteps;
        if (t >= TotalSteps) return MinLr;
        return MinLr + 0.5 * (Lr - MinLr) * (1 + Math.Cos(Math.PI * (t - WarmupSteps) / (TotalSteps - WarmupSteps)));
    }

    /// <inheritdoc/>
    public override Dictionary<string, double> StateDict() => new()
    {
        ["t"] = StepCount, ["lr"] = Lr, ["warmup_steps"] = WarmupSteps,
        ["warmup_lr_init"] = WarmupLrInit, ["min_lr"] = MinLr, ["total_steps"] = TotalSteps,
    };

    /// <inheritdoc/>
    public override void LoadStateDict(IReadOnlyDictionary<string, double> state)
    {
        const string name = nameof(WarmupCosine);
        double t = Get(state, "t", name);
        double lr = Get(state, "lr", name), init = Get(state, "warmup_lr_init", name), min = Get(state, "min_lr", name);
        long warmup = ToLong(Get(state, "warmup_steps", name), "warmup_steps"), total = ToLong(Get(state, "total_steps", name), "total_steps");
        Check(lr, warmup, init, min, total);
        (Lr, WarmupSteps, WarmupLrInit, MinLr, TotalSteps) = (lr, warmup, init, min, total);
        StepCount = ToLong(t, "t");
    }

    private static long ToLong(double v, string key) => v >= 0 && v == Math.Floor(v) && v < 9e15 ? (long)v
        : throw new ArgumentException($"WarmupCosine: '{key}' in the state dict is {v.ToString(CultureInfo.InvariantCulture)}, not a step count.");
}
