using Engine.Autograd;
using Engine.Models.Optim;
using Engine.Randomness;
using Xunit;

namespace Engine.Tests.Models;

/// <summary>Optimizer behaviour beyond the golden cases: groups, state dicts, validation, the fallback path, dtypes.</summary>
public class OptimizerTests
{
    internal static readonly Func<IEnumerable<ParamGroup>, Optimizer>[] Factories =
    [
        gs => new Sgd(gs, lr: 0.1, momentum: 0.9, dampening: 0.1, weightDecay: 1e-3),
        gs => new Sgd(gs, lr: 0.05, momentum: 0.8, weightDecay: 1e-2, nesterov: true),
        gs => new Sgd(gs, lr: 0.3),
        gs => new AdamW(gs, lr: 0.01, betas: (0.8, 0.95), eps: 1e-6, weightDecay: 0.1),
        gs => new AdamW(gs, lr: 0.02, weightDecay: 0.05, amsgrad: true),
    ];

    public static TheoryData<int> FactoryIndices() => [.. Enumerable.Range(0, Factories.Length)];

    /// <summary>Fresh parameters with fixed values: a matrix, a vector and a scalar, as F64 leaves.</summary>
    internal static Tensor[] Params(ulong seed, DType dtype = DType.F64)
    {
        var g = new Generator(seed);
        return [Owned(Tensor.Randn([4, 3], dtype, generator: g)), Owned(Tensor.Randn([5], dtype, generator: g)), Owned(Tensor.Randn([], dtype, generator: g))];
    }

    private static Tensor Owned(Tensor t) => t.RequiresGradInPlace();

    /// <summary>Sets the gradient of step <paramref name="step"/>: a fixed function of the step and the parameter index.</summary>
    internal static void SetGrads(Tensor[] ps, int step)
    {
        var g = new Generator(1000 + (ulong)step);
        foreach (var p in ps) p.Grad = Tensor.Randn(p.Shape, p.DType, generator: g);
    }

    private static ParamGroup[] TwoGroups(Tensor[] ps) => [new ParamGroup(ps[..2]), new ParamGroup(ps[2..], lr: 0.07, weightDecay: 0)];

    private static double[][] Values(Tensor[] ps) => ps.Select(p => p.ToArray<double>()).ToArray();

    [Theory]
    [MemberData(nameof(FactoryIndices))]
    public void ResumingFromAStateDictContinuesExactlyAsIfUninterrupted(int factory)
    {
        using var scope = Tensor.Scope();
        var straight = Params(1);
        using var a = Factories[factory](TwoGroups(straight));
        for (int s = 0; s < 6; s++)
        {
            SetGrads(straight, s);
            a.Step();
        }

        var first = Params(1);
        using var b = Factories[factory](TwoGroups(first));
        for (int s = 0; s < 3; s++)
        {
            SetGrads(first, s);
            b.Step();
        }
        using var saved = b.StateDict();
        var resumed = first.Select(p => Owned(p.Detach().Clone())).ToArray();
        using var c = Factories[factory](TwoGroups(Params(99)).Select((g, i) => new ParamGroup(i == 0 ? resumed[..2] : resumed[2..])));
        c.LoadStateDict(saved);
        for (int s = 3; s < 6; s++)
        {
            SetGrads(resumed, s);
            c.Step();
        }
        Assert.Equal(Values(straight), Values(resumed));
        Assert.Equal(0.07, c.ParamGroups[1].Lr);
    }

    [Theory]
    [MemberData(nameof(FactoryIndices))]
    public void GroupsWithTheirOwnLrAndWeightDecayMatchSeparateOptimizers(int factory)
    {
        using var scope = Tensor.Scope();
        var together = Params(2);
        var apart = Params(2);
        using var joint = Factories[factory]([new ParamGroup(together[..2], lr: 0.03, weightDecay: 0.2), new ParamGroup(together[2..])]);
        using var left = Factories[factory]([new ParamGroup(apart[..2], lr: 0.03, weightDecay: 0.2)]);
        using var right = Factories[factory]([new ParamGroup(apart[2..])]);
        Assert.Equal(0.03, joint.ParamGroups[0].Lr);
        Assert.Equal(joint.Defaults["lr"], joint.ParamGroups[1].Lr);
        for (int s = 0; s < 4; s++)
        {
            SetGrads(together, s);
            SetGrads(apart, s);
            joint.Step();
            left.Step();
            right.Step();
        }
        Assert.Equal(Values(apart), Values(together));
    }

    [Theory]
    [MemberData(nameof(FactoryIndices))]
    public void StridedParametersTakeTheTensorOpPathAndAgreeWithTheFusedKernel(int factory)
    {
        using var scope = Tensor.Scope();
        var fused = Params(3);
        // The same values as a transposed view: not contiguous, so the update is composed from tensor ops.
        var strided = fused.Select(p => Owned(p.Rank == 2 ? p.Detach().T.Contiguous().T.Detach() : p.Detach().Clone())).ToArray();
        Assert.False(strided[0].IsContiguous);
        using var f = Factories[factory]([new ParamGroup(fused)]);
        using var s = Factories[factory]([new ParamGroup(strided)]);
        for (int step = 0; step < 5; step++)
        {
            SetGrads(fused, step);
            SetGrads(strided, step);
            f.Step();
            s.Step();
        }
        var a = Values(fused).SelectMany(v => v).ToArray();
        var b = Values(strided).SelectMany(v => v).ToArray();
        for (int i = 0; i < a.Length; i++) Assert.Equal(a[i], b[i], 1e-13);
    }

    [Theory]
    [MemberData(nameof(FactoryIndices))]
    public void Float32ParametersFollowTheFloat64Trajectory(int factory)
    {
        using var scope = Tensor.Scope();
        var f64 = Params(4);
        var f32 = f64.Select(p => Owned(p.Detach().ToDType(DType.F32))).ToArray();
        using var a = Factories[factory]([new ParamGroup(f64)]);
        using var b = Factories[factory]([new ParamGroup(f32)]);
        for (int s = 0; s < 5; s++)
        {
            SetGrads(f64, s);
            SetGrads(f32, s);
            a.Step();
            b.Step();
        }
        Assert.All(f32, p => Assert.Equal(DType.F32, p.DType));
        var x = Values(f64).SelectMany(v => v).ToArray();
        var y = Values(f32).SelectMany(v => v).ToArray();
        for (int i = 0; i < x.Length; i++) Assert.Equal(x[i], y[i], 2e-5);
    }

    [Fact]
    public void StepUpdatesInPlaceBumpsTheVersionAndSkipsParametersWithoutGradients()
    {
        using var scope = Tensor.Scope();
        var ps = Params(5);
        using var opt = new AdamW(ps);
        var storages = ps.Select(p => p.Storage).ToArray();
        var versions = ps.Select(p => p.Storage.Version).ToArray();
        var before = Values(ps);
        ps[0].Grad = Tensor.OnesLike(ps[0]);
        opt.Step();
        Assert.Same(storages[0], ps[0].Storage);
        Assert.True(ps[0].Storage.Version > versions[0]);
        Assert.NotEqual(before[0], ps[0].ToArray<double>());
        Assert.Equal(before[1], ps[1].ToArray<double>());
        Assert.Equal(versions[1], ps[1].Storage.Version);
        using var state = opt.StateDict();
        Assert.Equal([0], state.State.Keys);
        Assert.Equal(1.0, state.State[0]["step"].Item());
    }

    [Fact]
    public void ZeroGradZeroesInPlaceOrDropsTheGradients()
    {
        using var scope = Tensor.Scope();
        var ps = Params(6);
        using var opt = new Sgd(ps, lr: 0.1);
        SetGrads(ps, 0);
        var grad = ps[0].Grad!;
        opt.ZeroGrad();
        Assert.Same(grad, ps[0].Grad);
        Assert.All(ps, p => Assert.All(p.Grad!.ToArray<double>(), v => Assert.Equal(0, v)));
        opt.ZeroGrad(setToNone: true);
        Assert.All(ps, p => Assert.Null(p.Grad));
    }

    [Fact]
    public void MaximizeClimbsTheGradient()
    {
        using var scope = Tensor.Scope();
        var up = Params(7);
        var down = Params(7);
        using var a = new AdamW(up, lr: 0.1, maximize: true);
        using var b = new AdamW(down, lr: 0.1);
        using var c = new Sgd(up, lr: 0.1, momentum: 0.5, maximize: true);
        using var d = new Sgd(down, lr: 0.1, momentum: 0.5);
        for (int s = 0; s < 3; s++)
        {
            SetGrads(up, s);
            SetGrads(down, s);
            using (Tape.NoGrad()) foreach (var p in down) p.Grad!.MulInPlace(-1);
            a.Step(); b.Step(); c.Step(); d.Step();
        }
        Assert.Equal(Values(down), Values(up));
    }

    [Fact]
    public void StateDictHasPyTorchsStructure()
    {
        using var scope = Tensor.Scope();
        var ps = Params(8);
        using var opt = new AdamW([new ParamGroup(ps[..2]), new ParamGroup(ps[2..], weightDecay: 0)], lr: 0.01, amsgrad: true);
        SetGrads(ps, 0);
        opt.Step();
        using var state = opt.StateDict();
        Assert.Equal("AdamW", state.Kind);
        Assert.Equal([0, 1, 2], state.State.Keys);
        Assert.Equal(["exp_avg", "exp_avg_sq", "max_exp_avg_sq", "step"], state.State[1].Keys.Order());
        Assert.Equal([5], state.State[1]["exp_avg"].Shape);
        Assert.Equal(new[] { 0, 1 }, state.ParamGroups[0]["params"]);
        Assert.Equal(new[] { 2 }, state.ParamGroups[1]["params"]);
        var json = state.ParamGroupsToJson();
        Assert.Contains("\"betas\":[0.9,0.999]", json);
        Assert.Contains("\"amsgrad\":true", json);
        Assert.Contains("\"params\":[2]", json);
        var parsed = OptimizerStateJson(json);
        Assert.Equal(0.0, parsed[1]["weight_decay"]);
        Assert.Equal(new[] { 0.9, 0.999 }, parsed[0]["betas"]);

        // The state tensors are copies: stepping again does not change them.
        var copy = state.State[0]["exp_avg"].ToArray<double>();
        SetGrads(ps, 1);
        opt.Step();
        Assert.Equal(copy, state.State[0]["exp_avg"].ToArray<double>());

        using var sgd = new Sgd(ps, lr: 0.1);
        sgd.Step();
        using var plain = sgd.StateDict();
        Assert.Empty(plain.State);
    }

    private static List<Dictionary<string, object>> OptimizerStateJson(string json) => OptimizerState.ParamGroupsFromJson(json);

    [Fact]
    public void InvalidHyperParametersAreRefusedWithPyTorchsMessages()
    {
        using var scope = Tensor.Scope();
        var ps = Params(9);
        Assert.Equal("Invalid learning rate: -1", Assert.Throws<ArgumentException>(() => new Sgd(ps, lr: -1)).Message);
        Assert.Equal("Invalid momentum value: -0.5", Assert.Throws<ArgumentException>(() => new Sgd(ps, lr: 1, momentum: -0.5)).Message);
        Assert.Equal("Invalid weight_decay value: -1", Assert.Throws<ArgumentException>(() => new Sgd(ps, lr: 1, weightDecay: -1)).Message);
        Assert.Equal("Nesterov momentum requires a momentum and zero dampening", Assert.Throws<ArgumentException>(() => new Sgd(ps, lr: 1, momentum: 0.9, dampening: 0.1, nesterov: true)).Message);
        Assert.Equal("Invalid epsilon value: -1", Assert.Throws<ArgumentException>(() => new AdamW(ps, eps: -1)).Message);
        Assert.Equal("Invalid beta parameter at index 0: 1", Assert.Throws<ArgumentException>(() => new AdamW(ps, betas: (1, 0.9))).Message);
        Assert.Equal("Invalid beta parameter at index 1: -0.1", Assert.Throws<ArgumentException>(() => new AdamW(ps, betas: (0.9, -0.1))).Message);
        Assert.Contains("Invalid learning rate: -2", Assert.Throws<ArgumentException>(() => new AdamW([new ParamGroup(ps, lr: -2)])).Message);

        Assert.Contains("more than one parameter group", Assert.Throws<ArgumentException>(() => new Sgd([new ParamGroup(ps), new ParamGroup(ps[..1])], lr: 1)).Message);
        Assert.Contains("same tensor twice", Assert.Throws<ArgumentException>(() => new Sgd([ps[0], ps[0]], lr: 1)).Message);
        Assert.Contains("empty parameter list", Assert.Throws<ArgumentException>(() => new Sgd(Array.Empty<ParamGroup>(), lr: 1)).Message);
        var nonLeaf = ps[0] * 2;
        Assert.Contains("non-leaf", Assert.Throws<ArgumentException>(() => new Sgd([nonLeaf], lr: 1)).Message);
        Assert.Contains("torch.int64", Assert.Throws<ArgumentException>(() => new Sgd([Tensor.Zeros([2], DType.I64)], lr: 1)).Message);

        using var opt = new Sgd(ps, lr: 0.1);
        opt.ParamGroups[0].Lr = -3;
        Assert.Equal("Invalid learning rate: -3", Assert.Throws<ArgumentException>(() => opt.Step()).Message);
    }

    [Fact]
    public void LoadingAMismatchedStateDictFailsAndChangesNothing()
    {
        using var scope = Tensor.Scope();
        var ps = Params(10);
        using var opt = new AdamW([new ParamGroup(ps[..2]), new ParamGroup(ps[2..])], lr: 0.01);
        SetGrads(ps, 0);
        opt.Step();
        using var good = opt.StateDict();

        using var one = new AdamW(Params(11), lr: 0.5);
        Assert.Contains("different number of parameter groups", Assert.Throws<ArgumentException>(() => one.LoadStateDict(good)).Message);
        var other = Params(12);
        using var sized = new AdamW([new ParamGroup(other[..1]), new ParamGroup(other[1..])], lr: 0.5);
        Assert.Contains("doesn't match the size of optimizer's group", Assert.Throws<ArgumentException>(() => sized.LoadStateDict(good)).Message);
        using var sgd = new Sgd([new ParamGroup(other[..2]), new ParamGroup(other[2..])], lr: 0.5);
        Assert.Contains("saved by a AdamW optimizer", Assert.Throws<ArgumentException>(() => sgd.LoadStateDict(good)).Message);

        var reshaped = new[] { Owned(Tensor.Zeros([3, 4], DType.F64)), Owned(Tensor.Zeros([5], DType.F64)), Owned(Tensor.Zeros([], DType.F64)) };
        using var wrongShape = new AdamW([new ParamGroup(reshaped[..2]), new ParamGroup(reshaped[2..])], lr: 0.5);
        var e = Assert.Throws<ArgumentException>(() => wrongShape.LoadStateDict(good));
        Assert.Contains("has shape [4, 3] but the parameter has shape [3, 4]", e.Message);
        Assert.Equal(0.5, wrongShape.ParamGroups[0].Lr);
        using (var empty = wrongShape.StateDict()) Assert.Empty(empty.State);

        good.State[1].Remove("exp_avg_sq", out var removed);
        removed!.Dispose();
        var same = Params(10);
        using var fresh = new AdamW([new ParamGroup(same[..2]), new ParamGroup(same[2..])], lr: 0.5);
        Assert.Contains("has no 'exp_avg_sq'", Assert.Throws<ArgumentException>(() => fresh.LoadStateDict(good)).Message);
        Assert.Equal(0.5, fresh.ParamGroups[0].Lr);
    }

    [Fact]
    public void StepsKeepNoTensorsAliveBeyondTheState()
    {
        using var scope = Tensor.Scope();
        var ps = Params(13);
        using var opt = new AdamW(ps, amsgrad: true);
        SetGrads(ps, 0);
        opt.Step();
        long live = Tensor.LiveCount;
        for (int s = 1; s < 20; s++)
        {
            using var inner = Tensor.Scope();
            foreach (var p in ps) p.Grad!.Fill(s);
            opt.Step();
        }
        // Other tests run in parallel and create tensors too; ours would add at least one per step.
        Assert.True(Tensor.LiveCount - live < 19, $"live tensors grew by {Tensor.LiveCount - live}");
        // State created inside a scope survives it: the optimizer owns it.
        var more = Params(14);
        using var late = new Sgd(more, lr: 0.1, momentum: 0.9);
        using (Tensor.Scope())
        {
            SetGrads(more, 0);
            late.Step();
        }
        SetGrads(more, 1);
        late.Step();
        using var state = late.StateDict();
        Assert.Equal(3, state.State.Count);
    }
}
