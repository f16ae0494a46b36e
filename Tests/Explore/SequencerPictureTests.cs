using Engine.Autograd;
using Engine.Models.Backbones.Sequencer;
using Engine.Models.Explore;
using Engine.Models.Nn;
using Xunit;

namespace Engine.Tests.Explore;

public class SequencerPictureTests
{
    private static Sequencer2d Nano() => (Sequencer2d)ExploreData.Model("sequencer-nano");

    [Fact]
    public void TheStatesAreWhatTheLayerConcatenatesBeforeItsFc()
    {
        using var model = Nano();
        model.Eval();
        var (images, labels) = ExploreData.EvalImages(2);
        using (images)
        using (labels)
        using (var scope = Tensor.Scope())
        {
            var pictures = new SequencerPictures(model);
            Assert.Equal(7, pictures.Mixers.Count);
            const string path = "blocks.0.0.rnn_tokens";
            Assert.Equal(path, pictures.Mixers[0]);
            var states = SequencerPictures.States(model, images, path);
            Assert.Equal((2, 16, 16, 8), (states.Images, states.Height, states.Width, states.Hidden));
            Assert.Equal(2 * 16 * 16 * 16, states.Vertical.Length);
            Assert.Equal(2 * 16 * 16 * 16, states.Horizontal.Length);

            // The fc's input is [vertical (fwd, bwd) ; horizontal (fwd, bwd)] at every position.
            var fc = (Module<Tensor, Tensor>)model.NamedModules().First(m => m.Name == path + ".fc").Module;
            double[]? mixed = null;
            using (Tape.NoGrad())
            using (fc.RegisterForwardHook((_, input, _) => mixed = input.ToDType(DType.F64).Contiguous().ToArray<double>()))
                model.Call(images);
            Assert.Equal(2 * 16 * 16 * 32, mixed!.Length);
            double scale = mixed.Max(Math.Abs);
            for (int p = 0; p < 2 * 16 * 16; p++)
                for (int k = 0; k < 16; k++)
                {
                    Assert.True(Math.Abs(mixed[p * 32 + k] - states.Vertical[p * 16 + k]) <= 1e-5 * scale, $"vertical {p}, {k}");
                    Assert.True(Math.Abs(mixed[p * 32 + 16 + k] - states.Horizontal[p * 16 + k]) <= 1e-5 * scale, $"horizontal {p}, {k}");
                }

            // Magnitudes: the norm of each direction's 8 values; an LSTM's |h| is below √8 (|h_i| < 1).
            foreach (var d in Enum.GetValues<LstmDirection>())
            {
                var m = states.Magnitude(1, d);
                Assert.Equal(256, m.Length);
                Assert.All(m, v => Assert.InRange(v, 0, Math.Sqrt(8)));
            }
            var down = states.Magnitude(0, LstmDirection.Down);
            double expected = Math.Sqrt(Enumerable.Range(0, 8).Sum(k => Math.Pow(states.Vertical[(3 * 16 + 5) * 16 + k], 2)));
            Assert.Equal(expected, down[3 * 16 + 5], 12);
            Assert.Contains("no BiLSTM2D at 'blocks.0.0'", Assert.Throws<ArgumentException>(() => SequencerPictures.States(model, images, "blocks.0.0")).Message);
        }
    }

    [Fact]
    public void ThePicturesAndStagesOfTheNano()
    {
        using var dir = new TempDirectory();
        using var model = Nano();
        Assert.True(BackbonePictures.Has(model));
        var stages = FeatureStageFinder.Find(model, ExploreData.InputShape);
        Assert.Equal(["blocks.0.1", "blocks.1.1", "blocks.2.1", "blocks.3.0"], stages.Select(s => s.Path));
        Assert.Equal([(16, 16), (8, 8), (8, 8), (8, 8)], stages.Select(s => s.Spatial));
        var (images, labels) = ExploreData.EvalImages(2);
        using (images)
        using (labels)
        {
            var paths = BackbonePictures.Write(model, new PictureRequest(images, labels, stages), dir.Path);
            Assert.Equal(["lstm-states-stage1.png", "lstm-states-stage2.png", "lstm-states-stage3.png", "lstm-states-stage4.png"], paths.Select(Path.GetFileName));
            var png = PngReader.Read(paths[0]);
            // The image and four directions, 64 px each; 2 blocks x 2 images.
            Assert.Equal((5 * 64 + 4 * PicturePanels.Gap, 4 * 64 + 3 * PicturePanels.Gap), (png.Width, png.Height));
            Assert.Equal(2 * 64 + PicturePanels.Gap, PngReader.Read(paths[3]).Height);
        }
    }
}
