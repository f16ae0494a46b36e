using Engine.Models.Optim;
using Xunit;

namespace Engine.Tests.Models;

public class ScheduleTests
{
    private static WarmupCosine Schedule() => new(lr: 0.1, warmupSteps: 4, warmupLrInit: 1e-4, minLr: 1e-3, totalSteps: 12);

    [Fact]
    public void WarmsUpLinearlyThenFollowsTheCosineDownToMinLr()
    {
        var s = Schedule();
        Assert.Equal(1e-4, s.LrAt(0));
        Assert.Equal(1e-4 + (0.1 - 1e-4) * 2 / 4, s.LrAt(2));
        Assert.Equal(0.1, s.LrAt(4));
        Assert.Equal(1e-3 + 0.5 * (0.1 - 1e-3), s.LrAt(8), 1e-16);
        Assert.Equal(1e-3, s.LrAt(12), 1e-18);
        Assert.Equal(1e-3, s.LrAt(1000));
        for (int t = 1; t <= 4; t++) Assert.True(s.LrAt(t) > s.LrAt(t - 1));
        for (int t = 5; t <= 12; t++) Assert.True(s.LrAt(t) < s.LrAt(t - 1));
        var noWarmup = new WarmupCosine(0.5, 0, 0, 0, 10);
        Assert.Equal(0.5, noWarmup.LrAt(0));
    }

    [Fact]
    public void StepSetsEveryGroupsLrThenAdvances()
    {
        using var scope = Tensor.Scope();
        var ps = OptimizerTests.Params(1);
        using var opt = new AdamW([new ParamGroup(ps[..1]), new ParamGroup(ps[1..2], lr: 2e-3), new ParamGroup(ps[2..]) { ["lr_scale"] = 0.25 }], lr: 1e-3);
        var s = Schedule();
        for (int t = 0; t < 6; t++)
        {
            double lr = s.Step(opt);
            Assert.Equal(s.LrAt(t), lr);
            Assert.Equal(t + 1, s.StepCount);
            Assert.Equal(lr, opt.ParamGroups[0].Lr);
            Assert.Equal(lr * 2, opt.ParamGroups[1].Lr, 1e-18);
            Assert.Equal(lr * 0.25, opt.ParamGroups[2].Lr);
        }
        Assert.Equal(1e-3, opt.ParamGroups[0].GetDouble("initial_lr"));
        Assert.Equal(2e-3, opt.ParamGroups[1].GetDouble("initial_lr"));
    }

    [Fact]
    public void StateDictRestoresThePosition()
    {
        using var scope = Tensor.Scope();
        var s = Schedule();
        var ps = OptimizerTests.Params(2);
        using var opt = new Sgd(ps, lr: 0.1);
        for (int t = 0; t < 5; t++) s.Step(opt);
        var state = s.StateDict();
        Assert.Equal(5, state["t"]);
        var resumed = new WarmupCosine(1, 1, 0, 0, 2);
        resumed.LoadStateDict(state);
        Assert.Equal(5, resumed.StepCount);
        for (int t = 0; t < 20; t++) Assert.Equal(s.LrAt(t), resumed.LrAt(t));
        Assert.Equal(s.Step(opt), resumed.Step(opt));
        state.Remove("min_lr");
        Assert.Contains("no 'min_lr'", Assert.Throws<ArgumentException>(() => resumed.LoadStateDict(state)).Message);
    }

    [Fact]
    public void RefusesImpossibleSchedules()
    {
        Assert.Contains("larger than warmupSteps", Assert.Throws<ArgumentException>(() => new WarmupCosine(0.1, 5, 0, 0, 5)).Message);
        Assert.Contains("warmupSteps must be >= 0", Assert.Throws<ArgumentException>(() => new WarmupCosine(0.1, -1, 0, 0, 5)).Message);
        Assert.Contains("lr must be >= 0", Assert.Throws<ArgumentException>(() => new WarmupCosine(-0.1, 1, 0, 0, 5)).Message);
        Assert.Contains("minLr", Assert.Throws<ArgumentException>(() => new WarmupCosine(0.1, 1, 0, double.NaN, 5)).Message);
    }
}
