using Engine.Models.Data;
using Engine.Models.Explore;
using Engine.Models.Nn;
using Engine.Models.Zoo;
using Engine.Randomness;
using Xunit;

namespace Engine.Tests.Explore;

public class ReceptiveFieldTests
{
    private const int Size = 16;

    /// <summary>Convolutions only (no nonlinearity, so no input can switch a path off), channels 3 -> 4 -> 4 ...</summary>
    private sealed class ConvStack : Module<Tensor, Tensor>
    {
        private readonly Sequential _layers;

        public ConvStack(int depth, int kernel, int dilation = 1, bool channelsLastOutput = false)
        {
            var g = new Generator(7);
            _layers = RegisterModule("layers", new Sequential());
            for (int i = 0; i < depth; i++)
                _layers.Append(new Conv2d(i == 0 ? 3 : 4, 4, kernel, padding: dilation * (kernel / 2), dilation: dilation, generator: g));
            ChannelsLastOutput = channelsLastOutput;
        }

        public bool ChannelsLastOutput { get; }

        public override Tensor Forward(Tensor input)
        {
            var y = _layers.Call(input);
            return ChannelsLastOutput ? y.Permute(0, 2, 3, 1) : y;
        }
    }

    /// <summary>A stack whose output is (N, H, W, C), which it says through <see cref="IFeatureStages"/>.</summary>
    private sealed class ChannelsLastModel : Module<Tensor, Tensor>, IFeatureStages
    {
        private readonly ConvStack _body = new(2, 3, channelsLastOutput: true);

        public ChannelsLastModel() => RegisterModule("body", _body);

        public IReadOnlyList<FeatureStage> FeatureStages => [new("body", ChannelsLast: true)];

        public override Tensor Forward(Tensor input) => _body.Call(input);
    }

    private sealed class Wrapper : Module<Tensor, Tensor>
    {
        private readonly Module<Tensor, Tensor> _body;

        public Wrapper(Module<Tensor, Tensor> body) => _body = RegisterModule("body", body);

        public override Tensor Forward(Tensor input) => _body.Call(input);
    }

    /// <summary>Runs its stage, then a layer that must never run when the ERF of the stage is asked for.</summary>
    private sealed class StageThenTrap : Module<Tensor, Tensor>
    {
        private readonly ConvStack _stage = new(1, 3);

        public StageThenTrap() => RegisterModule("stage", _stage);

        public bool TrapRan { get; set; }

        public override Tensor Forward(Tensor input)
        {
            var y = _stage.Call(input);
            TrapRan = true;
            return y;
        }
    }

    private static Tensor Images(int n = 4) => Tensor.Randn([n, 3, Size, Size], generator: new Generator(3));

    private static ReceptiveFieldMap Erf(Module<Tensor, Tensor> model, string? stage = null)
    {
        using var scope = Tensor.Scope();
        var s = FeatureStageFinder.Resolve(model, new ImageShape(3, Size, Size), stage);
        return ReceptiveField.Compute(model, s, Images(), chunk: 3);
    }

    [Fact]
    public void OneByOneConvolutionsSeeOnlyTheCentrePixel()
    {
        using var model = new ConvStack(depth: 3, kernel: 1);
        var map = Erf(model);
        Assert.Equal(1, map.Support());
        Assert.Equal((Size / 2, Size / 2, Size / 2, Size / 2), map.SupportBox());
        Assert.True(map[Size / 2, Size / 2] > 0);
        Assert.Equal(1.0 / (Size * Size), map.AreaRatio(0.99));
        Assert.Equal(4, map.Images);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void AStackOfDThreeByThreeConvolutionsHasSupportTwoDPlusOneSquared(int depth)
    {
        using var model = new ConvStack(depth, kernel: 3);
        var map = Erf(model);
        Assert.Equal((2 * depth + 1) * (2 * depth + 1), map.Support());
        int c = Size / 2;
        Assert.Equal((c - depth, c - depth, c + depth, c + depth), map.SupportBox());
    }

    [Fact]
    public void DilatedConvolutionsLeaveHolesInTheField()
    {
        using var model = new ConvStack(depth: 2, kernel: 3, dilation: 2);
        var map = Erf(model);
        int c = Size / 2;
        Assert.Equal((c - 4, c - 4, c + 4, c + 4), map.SupportBox());
        Assert.Equal(25, map.Support()); // offsets {-4, -2, 0, 2, 4} in each direction
        Assert.Equal(0, map[c + 1, c]);
    }

    [Fact]
    public void ChannelsLastStagesTakeTheCentreOfTheirSpatialAxes()
    {
        using var model = new ChannelsLastModel();
        var stages = FeatureStageFinder.Find(model, new ImageShape(3, Size, Size));
        Assert.Equal("body", Assert.Single(stages).Path);
        Assert.Equal([1, Size, Size, 4], stages[0].OutputShape);
        Assert.Equal((Size, Size), stages[0].Spatial);
        Assert.Equal(25, Erf(model).Support());
    }

    [Fact]
    public void ChannelsLastOutputsAreRecognisedFromTheirShape()
    {
        using var scope = Tensor.Scope();
        using var model = new Wrapper(new ConvStack(depth: 2, kernel: 3, channelsLastOutput: true));
        var stage = FeatureStageFinder.Resolve(model, new ImageShape(3, Size, Size), null);
        Assert.Equal("body", stage.Path); // after body.layers (NCHW, same size): the last at 16x16
        Assert.True(stage.ChannelsLast);
        Assert.Equal(25, ReceptiveField.Compute(model, stage, Images()).Support());
        Assert.True(FeatureStageFinder.GuessLayout([1, Size, Size, 4], new ImageShape(3, Size, Size)));
        Assert.False(FeatureStageFinder.GuessLayout([1, 4, 8, 8], new ImageShape(3, Size, Size)));
        Assert.Null(FeatureStageFinder.GuessLayout([1, 64, 10], new ImageShape(3, Size, Size)));
        Assert.Null(FeatureStageFinder.GuessLayout([1, 5, 7, 9], new ImageShape(3, Size, Size)));
        Assert.False(FeatureStageFinder.GuessLayout([2, 3, 8, 16], new ImageShape(3, 16, 32)));
    }

    [Fact]
    public void LayersAfterTheStageDoNotRunAndTheModelIsLeftAsItWas()
    {
        using var model = new StageThenTrap();
        Assert.True(model.Training);
        using var scope = Tensor.Scope();
        var stage = FeatureStageFinder.Resolve(model, new ImageShape(3, Size, Size), "stage"); // discovery runs the whole model
        model.TrapRan = false;
        var map = ReceptiveField.Compute(model, stage, Images());
        Assert.Equal(9, map.Support());
        Assert.False(model.TrapRan);
        Assert.True(model.Training);
        Assert.All(model.Parameters(), p => { Assert.True(p.RequiresGrad); Assert.Null(p.Grad); });
    }

    [Fact]
    public void TheSmallCnnsStagesAreTheEndsOfItsResolutions()
    {
        using var model = ModelZoo.Create("cnn", ExploreData.InputShape, 10, new Generator(0));
        var stages = FeatureStageFinder.Find(model, ExploreData.InputShape);
        Assert.Equal(["features.2", "features.6", "features"], stages.Select(s => s.Path));
        Assert.Equal([1, 64, 8, 8], stages[^1].OutputShape);
        Assert.Equal("features", FeatureStageFinder.Resolve(model, ExploreData.InputShape, null).Path);
        Assert.Equal([1, 32, 16, 16], FeatureStageFinder.Resolve(model, ExploreData.InputShape, "features.3").OutputShape);

        var unknown = Assert.Throws<ArgumentException>(() => FeatureStageFinder.Resolve(model, ExploreData.InputShape, "stages.9"));
        Assert.Contains("no module 'stages.9'", unknown.Message);
        Assert.Contains("features.2, features.6, features", unknown.Message);
        Assert.Contains("outputs shape [1, 10], not a feature map", Assert.Throws<ArgumentException>(() => FeatureStageFinder.Resolve(model, ExploreData.InputShape, "head")).Message);
    }

    [Fact]
    public void TheSmallCnnsFieldsGrowStageByStageOnRealImages()
    {
        using var model = ModelZoo.Create("cnn", ExploreData.InputShape, 10, new Generator(0));
        var (images, labels) = ExploreData.EvalImages(8);
        using (images)
        using (labels)
        {
            var boxes = FeatureStageFinder.Find(model, ExploreData.InputShape)
                .Select(s => ReceptiveField.Compute(model, s, images).SupportBox()!.Value)
                .Select(b => (b.Bottom - b.Top + 1, b.Right - b.Left + 1)).ToList();
            // conv3 -> 3; conv3, pool2, conv3 -> 8; conv3, pool2, conv3, pool2 (centre 4 of 8 -> 8..9 of 16) -> 10.
            Assert.Equal([(3, 3), (8, 8), (10, 10)], boxes);
        }
    }

    private sealed class NamesAMissingStage : Module<Tensor, Tensor>, IFeatureStages
    {
        public NamesAMissingStage() => RegisterModule("body", new ConvStack(1, 3));

        public IReadOnlyList<FeatureStage> FeatureStages => [new("body"), new("neck")];

        public override Tensor Forward(Tensor input) => ((ConvStack)NamedChildren().First().Module).Call(input);
    }

    [Fact]
    public void AModelsOwnStageListIsCheckedAgainstWhatRuns()
    {
        using var model = new NamesAMissingStage();
        var e = Assert.Throws<InvalidOperationException>(() => FeatureStageFinder.Find(model, new ImageShape(3, Size, Size)));
        Assert.Contains("NamesAMissingStage names the stage 'neck', but no module at that path ran on a tensor", e.Message);
    }

    [Fact]
    public void BadInputsSayWhatIsWrong()
    {
        using var model = new ConvStack(1, 3);
        var stage = new FeatureStage("layers");
        using var scope = Tensor.Scope();
        Assert.Contains("images must be (N, C, H, W), got shape [3, 16, 16]",
            Assert.Throws<ArgumentException>(() => ReceptiveField.Compute(model, stage, Tensor.Zeros([3, Size, Size]))).Message);
        Assert.Contains("no tensor-to-tensor module at 'nope'",
            Assert.Throws<ArgumentException>(() => ReceptiveField.Compute(model, new FeatureStage("nope"), Images())).Message);
    }
}
