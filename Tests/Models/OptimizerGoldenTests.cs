using System.Text.Json;
using Engine.Models.Optim;
using Engine.Models.Serialization;
using Xunit;

namespace Engine.Tests.Models;

/// <summary>
/// Replays the optimizer cases of <c>golden/optim/optimizers.safetensors</c> (written by PyTorch 1.13): each
/// case gives the initial parameters, the gradient of each of 8 steps and the parameters after each step,
/// under the warmup-cosine schedule of the file's <c>schedule</c> metadata.
/// </summary>
public class OptimizerGoldenTests
{
    private const double Tolerance = 1e-12;

    public static TheoryData<string> Cases() => ["adamw", "adamw_amsgrad", "sgd_nesterov", "sgd_momentum"];

    private static Optimizer Build(JsonElement c, IEnumerable<ParamGroup> groups)
    {
        double lr = c.GetProperty("lr").GetDouble(), wd = c.GetProperty("weight_decay").GetDouble();
        return c.GetProperty("optimizer").GetString() switch
        {
            "AdamW" => new AdamW(groups, lr, (c.GetProperty("betas")[0].GetDouble(), c.GetProperty("betas")[1].GetDouble()),
                c.GetProperty("eps").GetDouble(), wd, c.GetProperty("amsgrad").GetBoolean()),
            "SGD" => new Sgd(groups, lr, c.GetProperty("momentum").GetDouble(), c.GetProperty("dampening").GetDouble(), wd,
                c.GetProperty("nesterov").GetBoolean()),
            var other => throw new InvalidOperationException($"unknown optimizer {other}"),
        };
    }

    /// <summary>Runs a case; returns the largest relative error over every parameter after every step.</summary>
    private static double Replay(string name, Func<Tensor[], IEnumerable<ParamGroup>> grouping, bool checkLrs = true)
    {
        using var scope = Tensor.Scope();
        using var file = SafeTensors.Read(GoldenFiles.Copied("optim/optimizers.safetensors"));
        var c = JsonDocument.Parse(file.Metadata["cases"]).RootElement.GetProperty(name);
        int steps = c.GetProperty("steps").GetInt32();
        var ps = Enumerable.Range(0, 2).Select(i => file[$"{name}.param0.{i}"].Clone().RequiresGradInPlace()).ToArray();
        using var opt = Build(c, grouping(ps));
        var schedule = new WarmupCosine(c.GetProperty("lr").GetDouble(), c.GetProperty("warmup_steps").GetInt32(),
            c.GetProperty("warmup_lr_init").GetDouble(), c.GetProperty("min_lr").GetDouble(), steps);
        var lrs = file[$"{name}.lr"].ToArray<double>();
        double worst = 0;
        for (int s = 0; s < steps; s++)
        {
            double lr = schedule.Step(opt);
            if (checkLrs) Assert.Equal(lrs[s], lr, 1e-17);
            for (int i = 0; i < ps.Length; i++) ps[i].Grad = file[$"{name}.grad.{s}.{i}"].Clone();
            opt.Step();
            for (int i = 0; i < ps.Length; i++)
            {
                var got = ps[i].ToArray<double>();
                var want = file[$"{name}.param.{s}.{i}"].ToArray<double>();
                for (int k = 0; k < got.Length; k++)
                    worst = Math.Max(worst, Math.Abs(got[k] - want[k]) / Math.Max(1, Math.Abs(want[k])));
            }
        }
        return worst;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesPyTorchEveryStep(string name)
    {
        double worst = Replay(name, ps => [new ParamGroup(ps)]);
        Assert.True(worst <= Tolerance, $"{name}: largest error {worst:E3} > {Tolerance:E0}");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ScheduleMatchesTheRecordedLrs(string name)
    {
        using var file = SafeTensors.Read(GoldenFiles.Copied("optim/optimizers.safetensors"));
        var c = JsonDocument.Parse(file.Metadata["cases"]).RootElement.GetProperty(name);
        var schedule = new WarmupCosine(c.GetProperty("lr").GetDouble(), c.GetProperty("warmup_steps").GetInt32(),
            c.GetProperty("warmup_lr_init").GetDouble(), c.GetProperty("min_lr").GetDouble(), c.GetProperty("steps").GetInt32());
        var lrs = file[$"{name}.lr"].ToArray<double>();
        // The formula is evaluated in Python's order, so the values are the same bits.
        for (int t = 0; t < lrs.Length; t++) Assert.Equal(lrs[t], schedule.LrAt(t));
        Assert.Contains("t counts steps from 0", file.Metadata["schedule"]);
    }

    /// <summary>
    /// The cases put every parameter (matrix and vector) in one group with weight decay: replaying them with
    /// the vector excluded from decay (as timm does for biases) misses the recorded values.
    /// </summary>
    [Theory]
    [InlineData("adamw")]
    [InlineData("adamw_amsgrad")]
    [InlineData("sgd_nesterov")]
    public void CasesDecayEveryParameter(string name)
    {
        double worst = Replay(name, ps => [new ParamGroup([ps[0]]), new ParamGroup([ps[1]], weightDecay: 0)], checkLrs: false);
        Assert.True(worst > 1e-7, $"{name}: without decay on the vector the error is only {worst:E3}");
    }
}
