using Engine.Models.Nn;
using Xunit;

namespace Engine.Tests.Models;

public class ModuleTests
{
    /// <summary>A small module tree with a parameter, an optional (null) parameter, a buffer and children.</summary>
    private sealed class Block : Module<Tensor, Tensor>
    {
        public Block(int n)
        {
            RegisterParameter("weight", Tensor.Ones([n], DType.F64));
            RegisterParameter("bias", null);
            RegisterBuffer("running_mean", Tensor.Zeros([n], DType.F64));
            RegisterBuffer("scratch", Tensor.Zeros([n], DType.F64), persistent: false);
        }

        public Tensor Weight => GetParameter("weight")!;

        public override Tensor Forward(Tensor input) => input * Weight;
    }

    private sealed class Net : Module<Tensor, Tensor>
    {
        public Net()
        {
            RegisterParameter("scale", Tensor.Full([1], 2.0, DType.F64));
            RegisterModule("layers", new Sequential(new Block(3), new Block(3)));
        }

        public override Tensor Forward(Tensor input) => ((Sequential)NamedChildren().First().Module).Call(input) * GetParameter("scale")!;
    }

    [Fact]
    public void StateDictUsesPyTorchDottedNamesAndOrder()
    {
        using var net = new Net();
        Assert.Equal(
            new[] { "scale", "layers.0.weight", "layers.0.running_mean", "layers.1.weight", "layers.1.running_mean" },
            net.StateDict().Keys.ToArray());
        Assert.Equal(new[] { "scale", "layers.0.weight", "layers.1.weight" }, net.NamedParameters().Select(p => p.Name).ToArray());
        Assert.Equal(7, net.ParameterCount());
        Assert.Equal(4, net.NamedBuffers().Count(b => b.Name.EndsWith("running_mean") || b.Name.EndsWith("scratch")));
    }

    [Fact]
    public void LoadStateDictReportsMissingAndUnexpectedKeys()
    {
        using var net = new Net();
        using var scope = Tensor.Scope();
        var state = new Dictionary<string, Tensor>
        {
            ["scale"] = Tensor.Full([1], 5.0, DType.F64),
            ["layers.0.weight"] = Tensor.Full([3], 7.0, DType.F32),   // converted on load
            ["layers.9.weight"] = Tensor.Zeros([3], DType.F64),
        };
        var strictError = Assert.Throws<ArgumentException>(() => net.LoadStateDict(state));
        Assert.StartsWith("Error(s) in loading state_dict for Net:\n\t", strictError.Message);
        Assert.Contains("\n\tMissing key(s) in state_dict: \"layers.0.running_mean\", \"layers.1.weight\", \"layers.1.running_mean\". ", strictError.Message);
        Assert.Contains("\n\tUnexpected key(s) in state_dict: \"layers.9.weight\". ", strictError.Message);
        Assert.Equal(2.0, net.StateDict()["scale"].Item()); // the failed load copied nothing

        var result = net.LoadStateDict(state, strict: false);
        Assert.Equal(new[] { "layers.0.running_mean", "layers.1.weight", "layers.1.running_mean" }, result.MissingKeys);
        Assert.Equal(new[] { "layers.9.weight" }, result.UnexpectedKeys);
        Assert.Equal(5.0, net.StateDict()["scale"].Item());
        Assert.Equal(new[] { 7.0, 7, 7 }, net.StateDict()["layers.0.weight"].ToArray<double>());
    }

    [Fact]
    public void LoadStateDictRefusesShapeMismatchesNamingTheKey()
    {
        using var net = new Net();
        using var scope = Tensor.Scope();
        var state = net.StateDict().ToDictionary(kv => kv.Key, kv => kv.Value.Clone());
        state["layers.1.weight"] = Tensor.Zeros([4], DType.F64);
        var e = Assert.Throws<ArgumentException>(() => net.LoadStateDict(state));
        Assert.Contains("size mismatch for layers.1.weight: copying a param with shape torch.Size([4]) from checkpoint, the shape in current model is torch.Size([3]).", e.Message);
        // As PyTorch: a shape mismatch is an error even when missing and unexpected keys are allowed.
        Assert.Throws<ArgumentException>(() => net.LoadStateDict(state, strict: false));
    }

    [Fact]
    public void TrainEvalApplyAndHooks()
    {
        using var net = new Net();
        net.Eval();
        Assert.All(net.NamedModules(), m => Assert.False(m.Module.Training));
        net.Train();
        Assert.All(net.NamedModules(), m => Assert.True(m.Module.Training));

        var visited = new List<string>();
        net.Apply(m => visited.Add(m.GetType().Name));
        Assert.Equal(new[] { "Block", "Block", "Sequential", "Net" }, visited);

        using var scope = Tensor.Scope();
        Tensor? seen = null;
        using (net.RegisterForwardHook((m, input, output) => seen = output))
        {
            var y = net.Call(Tensor.Ones([3], DType.F64));
            Assert.Same(y, seen);
        }
        seen = null;
        net.Call(Tensor.Ones([3], DType.F64));
        Assert.Null(seen);
    }

    [Fact]
    public void ParametersSurviveScopesAndTrain()
    {
        using var net = new Net();
        for (int i = 0; i < 3; i++)
        {
            using var scope = Tensor.Scope();
            var loss = net.Call(Tensor.Ones([3], DType.F64)).Sum();
            loss.Backward();
        }
        Assert.All(net.Parameters(), p => Assert.False(p.IsDisposed));
        Assert.Equal(3 * 3 * 2.0, net.StateDict()["layers.0.weight"].Grad!.Sum().Item(), 12);
        net.ZeroGrad();
        Assert.All(net.Parameters(), p => Assert.Null(p.Grad));
    }

    [Fact]
    public void ToDTypeConvertsParametersAndBuffers()
    {
        using var net = new Net();
        net.ToDType(DType.F32);
        Assert.All(net.StateDict().Values, t => Assert.Equal(DType.F32, t.DType));
        Assert.All(net.Parameters(), p => Assert.True(p.RequiresGrad));
    }

    [Fact]
    public void ToDTypeKeepsFrozenParametersFrozen()
    {
        using var net = new Net();
        var first = net.Parameters().First();
        first.RequiresGrad = false;
        net.ToDType(DType.F32);
        Assert.False(net.Parameters().First().RequiresGrad);
        Assert.All(net.Parameters().Skip(1), p => Assert.True(p.RequiresGrad));
    }

    [Fact]
    public void BadNamesAreRefused()
    {
        Assert.Throws<ArgumentException>(() => new BadModule("a.b"));
        Assert.Throws<ArgumentException>(() => new BadModule(""));
    }

    private sealed class BadModule : Module
    {
        public BadModule(string name) => RegisterParameter(name, Tensor.Zeros([1]));
    }
}

public class InitTests
{
    [Fact]
    public void FansFollowPyTorch()
    {
        using var scope = Tensor.Scope();
        Assert.Equal((3L * 9, 8L * 9), Init.Fans(Tensor.Zeros([8, 3, 3, 3])));
        Assert.Throws<ArgumentException>(() => Init.Fans(Tensor.Zeros([5])));
    }

    [Fact]
    public void KaimingAndXavierHaveTheRightSpread()
    {
        using var scope = Tensor.Scope();
        var g = new Engine.Randomness.Generator(3);
        var w = Init.KaimingNormal(Tensor.Zeros([512, 256], DType.F64), nonlinearity: "relu", generator: g);
        Assert.Equal(Math.Sqrt(2.0 / 256), w.Std().Item(), 3);
        var u = Init.XavierUniform(Tensor.Zeros([300, 200], DType.F64), generator: g);
        double bound = Math.Sqrt(6.0 / 500);
        Assert.True(u.Max().Item() <= bound && u.Min().Item() >= -bound);
        Assert.Equal(bound / Math.Sqrt(3), u.Std().Item(), 3);
        var d = Tensor.Zeros([64, 16, 3, 3], DType.F64);
        var bias = Tensor.Zeros([64], DType.F64);
        Init.DefaultLinearOrConv(d, bias, g);
        double b = 1 / Math.Sqrt(16 * 9);
        Assert.True(d.Abs().Max().Item() <= b && bias.Abs().Max().Item() <= b);
        Assert.True(d.Abs().Max().Item() > 0.9 * b);
    }

    [Fact]
    public void TruncNormalStaysInsideItsBounds()
    {
        using var scope = Tensor.Scope();
        var t = Init.TruncNormal(Tensor.Zeros([20000], DType.F64), std: 0.02, a: -0.04, b: 0.04, generator: new Engine.Randomness.Generator(1));
        Assert.True(t.Max().Item() <= 0.04 && t.Min().Item() >= -0.04);
        // Truncated at ±2σ the standard deviation is 0.8796σ.
        Assert.Equal(0.02 * 0.8796, t.Std().Item(), 3);
    }
}
