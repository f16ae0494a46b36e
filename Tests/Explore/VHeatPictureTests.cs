using Engine.Autograd;
using Engine.Models.Backbones.VHeat;
using Engine.Models.Explore;
using Engine.Ops;
using Engine.Randomness;
using Xunit;

namespace Engine.Tests.Explore;

public class VHeatPictureTests
{
    private static VHeat Nano() => (VHeat)ExploreData.Model("vheat-nano");

    private static double[] RandomPlane(int n, ulong seed)
    {
        using var scope = Tensor.Scope();
        return Tensor.Randn([n], DType.F64, generator: new Generator(seed)).ToArray<double>();
    }

    [Theory]
    [InlineData(8, 8)]
    [InlineData(5, 7)]
    [InlineData(32, 32)]
    public void FramesKeepTheMeanAndGetSmootherAsTimeGrows(int h, int w)
    {
        var plane = RandomPlane(h * w, 11);
        var frames = HeatConductionFrames.Frames(plane, HeatConductionFrames.PhysicalDecay(h, w), h, w, [0, 0.5, 1, 2, 4, 8, 10.0 * Math.Max(h, w) * Math.Max(h, w)]);
        // t = 0 is the plane itself; the zero frequency is never damped, so the mean (total heat) stays.
        for (int i = 0; i < plane.Length; i++) Assert.True(Math.Abs(plane[i] - frames[0][i]) < 1e-12);
        foreach (var f in frames) Assert.True(Math.Abs(plane.Average() - f.Average()) < 1e-12, $"mean {f.Average()} vs {plane.Average()}");
        var roughness = frames.Select(f => HeatConductionFrames.Roughness(f, h, w)).ToArray();
        for (int i = 1; i < roughness.Length; i++) Assert.True(roughness[i] < roughness[i - 1], $"t index {i}: {roughness[i]} >= {roughness[i - 1]}");
        // Long conduction (the slowest frequency damped by exp(-10π²)) leaves the mean everywhere.
        Assert.All(frames[^1], v => Assert.True(Math.Abs(plane.Average() - v) < 1e-9));
    }

    [Fact]
    public void FrameOneWithTheLearnedDecayIsTheHeatOperator()
    {
        using var model = Nano();
        model.Eval();
        var (images, labels) = ExploreData.EvalImages(2);
        using (images)
        using (labels)
        using (var scope = Tensor.Scope())
        using (Tape.NoGrad())
        {
            // Give the decay some strength (at initialisation K is about 0 and F about 1).
            foreach (var (name, p) in model.NamedParameters())
                if (name.StartsWith("freq_embed", StringComparison.Ordinal) || name.Contains("to_k"))
                    p.MulInPlace(40);
            var (u, decay) = VHeatPictures.OperatorInput(model, images, stage: 0, block: 0);
            Assert.Equal([2, 8, 8, 16], u.Shape);
            Assert.Equal([8, 8, 16], decay.Shape);
            var expected = Functional.HeatConduction(u, decay).ToDType(DType.F64);
            var f = decay.ToDType(DType.F64);
            Assert.True(f.ToArray<double>().Min() < 0.9, "the scaled decay should damp something");
            foreach (int c in new[] { 0, 7, 15 })
            {
                var plane = u.Select(0, 1).Select(2, c).ToDType(DType.F64).Contiguous().ToArray<double>();
                var frames = HeatConductionFrames.Frames(plane, f.Select(2, c).Contiguous().ToArray<double>(), 8, 8, [0, 1]);
                var want = expected.Select(0, 1).Select(2, c).Contiguous().ToArray<double>();
                double scale = want.Max(Math.Abs);
                for (int i = 0; i < want.Length; i++) Assert.True(Math.Abs(want[i] - frames[1][i]) <= 1e-5 * scale, $"channel {c}, element {i}: {want[i]} vs {frames[1][i]}");
            }
        }
    }

    [Fact]
    public void BadPlanesAreRefused()
    {
        var e = Assert.Throws<ArgumentException>(() => HeatConductionFrames.Frames(new double[6], new double[4], 2, 2, [1]));
        Assert.Contains("a 2x2 plane needs 4 values and 4 decay factors, got 6 and 4", e.Message);
        Assert.Throws<ArgumentException>(() => HeatConductionFrames.Frames(new double[4], [1, 1, 1.5, 1], 2, 2, [1]));
        Assert.Throws<ArgumentException>(() => HeatConductionFrames.Frames(new double[4], [1, 1, 1, 1], 2, 2, [-1]));
    }

    [Fact]
    public void ThePicturesAndStagesOfTheNano()
    {
        using var dir = new TempDirectory();
        using var model = Nano();
        Assert.True(BackbonePictures.Has(model));
        var stages = FeatureStageFinder.Find(model, ExploreData.InputShape);
        Assert.Equal(["layers.0.2", "layers.1.2", "layers.2.2"], stages.Select(s => s.Path));
        Assert.All(stages, s => Assert.True(s.FromInput && s.ChannelsLast));
        Assert.Equal([(8, 8), (4, 4), (2, 2)], stages.Select(s => s.Spatial));
        var (images, labels) = ExploreData.EvalImages(2);
        using (images)
        using (labels)
        {
            var map = ReceptiveField.Compute(model, stages[0], images);
            Assert.True(map.Max > 0);
            var paths = BackbonePictures.Write(model, new PictureRequest(images, labels, stages), dir.Path);
            Assert.Equal(["heat-conduction-image.png", "heat-conduction-stage0.png", "heat-conduction-stage1.png", "heat-conduction-stage2.png"], paths.Select(Path.GetFileName));
            var image = PngReader.Read(paths[0]);
            Assert.Equal((6 * 64 + 5 * PicturePanels.Gap, 2 * 64 + PicturePanels.Gap), (image.Width, image.Height));
            var stage0 = PngReader.Read(paths[1]);
            Assert.Equal((7 * 32 + 6 * PicturePanels.Gap, 4 * 32 + 3 * PicturePanels.Gap), (stage0.Width, stage0.Height));
        }
    }
}
