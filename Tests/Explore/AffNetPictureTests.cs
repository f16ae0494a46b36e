using Engine.Autograd;
using Engine.Models.Backbones.AffNet;
using Engine.Models.Explore;
using Engine.Models.Nn;
using Xunit;

namespace Engine.Tests.Explore;

public class AffNetPictureTests
{
    private static AffNet Nano() => (AffNet)ExploreData.Model("affnet-nano");

    [Fact]
    public void TheMaskCoversTheHalfSpectrumAndReproducesTheMixersOutput()
    {
        using var model = Nano();
        model.Eval();
        var (images, labels) = ExploreData.EvalImages(2);
        using (images)
        using (labels)
        using (var scope = Tensor.Scope())
        {
            var pictures = new AffNetPictures(model);
            Assert.Equal(6, pictures.Mixers.Count);
            const string path = "layer_3.1.global_rep.0.filter";
            Assert.Equal(path, pictures.Mixers[0]);
            var mask = AffNetPictures.Mask(model, images, path);
            // layer_3 runs at 8x8 with 48 channels in 8 groups: rfft2 keeps 8 x (8/2 + 1) frequencies.
            Assert.Equal((2, 48, 8, 8, 5), (mask.Images, mask.Channels, mask.Groups, mask.Height, mask.HalfWidth));
            Assert.Equal(2 * 48 * 8 * 5, mask.Magnitude.Length);
            Assert.All(mask.Magnitude, v => Assert.True(v >= 0));
            Assert.InRange(mask.ZeroFraction, 0, 1);
            Assert.Equal(8 * 5, mask.GroupMean(1, 7).Length);

            var mixer = (Module<Tensor, Tensor>)model.NamedModules().First(m => m.Name == path).Module;
            Tensor? actual = null;
            using (Tape.NoGrad())
            using (mixer.RegisterForwardHook((_, _, o) => actual = o))
                model.Call(images);
            var expected = actual!.ToDType(DType.F64).Contiguous().ToArray<double>();
            Assert.Equal(expected.Length, mask.Output.Length);
            double scale = expected.Max(Math.Abs);
            for (int i = 0; i < expected.Length; i++) Assert.True(Math.Abs(expected[i] - mask.Output[i]) <= 1e-5 * scale, $"element {i}: {expected[i]} vs {mask.Output[i]}");
        }
    }

    [Fact]
    public void CentreRowsPutsTheZeroFrequencyInTheMiddleRow()
    {
        double[] plane = [0, 0, 1, 1, 2, 2, 3, 3]; // rows u = 0..3, two columns
        Assert.Equal([2, 2, 3, 3, 0, 0, 1, 1], AffNetPictures.CentreRows(plane, 4, 2));
        Assert.Equal([2, 0, 1], AffNetPictures.CentreRows([0, 1, 2], 3, 1)); // u = -1, 0, 1
    }

    [Fact]
    public void ThePicturesAreOnePngPerAffStageAndTheStagesAreTheLayers()
    {
        using var dir = new TempDirectory();
        using var model = Nano();
        Assert.True(BackbonePictures.Has(model));
        var stages = FeatureStageFinder.Find(model, ExploreData.InputShape);
        Assert.Equal(["layer_2", "layer_3", "layer_4", "layer_5"], stages.Select(s => s.Path));
        Assert.Equal([(16, 16), (8, 8), (4, 4), (2, 2)], stages.Select(s => s.Spatial));
        var (images, labels) = ExploreData.EvalImages(2);
        using (images)
        using (labels)
        {
            var paths = BackbonePictures.Write(model, new PictureRequest(images, labels, stages), dir.Path);
            Assert.Equal(["frequency-masks-layer-3.png", "frequency-masks-layer-4.png", "frequency-masks-layer-5.png"], paths.Select(Path.GetFileName));
            var png = PngReader.Read(paths[0]);
            // The image (32 px) and 8 groups of 8 x 5 cells of 4 px; 2 blocks x 2 images rows of 32 px.
            Assert.Equal((32 + 8 * 20 + 8 * PicturePanels.Gap, 4 * 32 + 3 * PicturePanels.Gap), (png.Width, png.Height));
        }
    }
}
