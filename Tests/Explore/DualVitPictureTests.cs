using Engine.Models.Backbones.DualVit;
using Engine.Models.Explore;
using Xunit;

namespace Engine.Tests.Explore;

public class DualVitPictureTests
{
    private static DualVit Nano() => (DualVit)ExploreData.Model("dualvit-nano");

    [Fact]
    public void SemanticAttentionRowsAreDistributionsOverThePixelGrid()
    {
        using var model = Nano();
        model.Eval();
        var (images, labels) = ExploreData.EvalImages(2);
        using (images)
        using (labels)
        {
            foreach (var (stage, grid) in new[] { (1, 8), (2, 4) })
            {
                var a = DualVitPictures.Attention(model, images, stage, block: 0);
                Assert.Equal((2, 2, 16, grid, grid), (a.Images, a.Heads, a.Tokens, a.GridHeight, a.GridWidth));
                Assert.Equal(2 * 2 * 16 * grid * grid, a.Probabilities.Length);
                for (int i = 0; i < a.Images; i++)
                    for (int h = 0; h < a.Heads; h++)
                        for (int t = 0; t < a.Tokens; t++)
                        {
                            var row = a.Map(i, h, t);
                            Assert.Equal(1.0, row.ToArray().Sum(), 12);
                            foreach (var p in row) Assert.True(p > 0);
                        }
            }
            Assert.Throws<ArgumentOutOfRangeException>(() => DualVitPictures.Attention(model, images, 3, 0));
            Assert.Contains("stage 2 has 1 blocks", Assert.Throws<ArgumentOutOfRangeException>(() => DualVitPictures.Attention(model, images, 2, 1)).Message);
        }
    }

    /// <summary>
    /// The recomputed attention is the block's own: with the layer scale gamma2 set to 1, what the cross-attention
    /// adds to the semantic tokens (p_ln's input minus q_proxy_ln's input) equals merge(A · v) with v from kv_proxy.
    /// </summary>
    [Fact]
    public void TheAttentionIsWhatTheBlockAddsToTheSemanticTokens()
    {
        using var model = Nano();
        model.Eval();
        var (images, labels) = ExploreData.EvalImages(2);
        using (images)
        using (labels)
        using (var scope = Tensor.Scope())
        using (Engine.Autograd.Tape.NoGrad())
        {
            var modules = model.NamedModules().ToDictionary(m => m.Name, m => m.Module);
            model.NamedParameters().First(p => p.Name == "block1.0.attn.gamma2").Parameter.Fill(1);
            var a = DualVitPictures.Attention(model, images, stage: 1, block: 0);

            Tensor? before = null, after = null, kv = null;
            Engine.Models.Nn.Module<Tensor, Tensor> M(string name) => (Engine.Models.Nn.Module<Tensor, Tensor>)modules[name];
            using (M("block1.0.attn.q_proxy_ln").RegisterForwardHook((_, x, _) => before = x.ToDType(DType.F64).Contiguous()))
            using (M("block1.0.attn.p_ln").RegisterForwardHook((_, x, _) => after = x.ToDType(DType.F64).Contiguous()))
            using (M("block1.0.attn.kv_proxy").RegisterForwardHook((_, _, o) => kv = o.ToDType(DType.F64).Contiguous()))
                model.Call(images);
            int c = kv!.Shape[2] / 2, d = c / a.Heads;
            var added = (after! - before!).ToArray<double>();
            var v = kv.ToArray<double>();
            int n = a.GridHeight * a.GridWidth;
            double scale = added.Max(Math.Abs), worst = 0;
            for (int i = 0; i < a.Images; i++)
                for (int t = 0; t < a.Tokens; t++)
                    for (int h = 0; h < a.Heads; h++)
                    {
                        var row = a.Map(i, h, t);
                        for (int k = 0; k < d; k++)
                        {
                            double sum = 0;
                            for (int p = 0; p < n; p++) sum += row[p] * v[(i * n + p) * 2 * c + c + h * d + k];
                            worst = Math.Max(worst, Math.Abs(sum - added[(i * a.Tokens + t) * c + h * d + k]));
                        }
                    }
            Assert.True(worst <= 1e-4 * scale, $"worst difference {worst}, largest update {scale}");
        }
    }

    [Fact]
    public void ThePicturesAreOnePngPerDualBlockWithARowPerImageAndHead()
    {
        using var dir = new TempDirectory();
        using var model = Nano();
        Assert.True(BackbonePictures.Has(model));
        var (images, labels) = ExploreData.EvalImages(3);
        using (images)
        using (labels)
        {
            var paths = BackbonePictures.Write(model, new PictureRequest(images, labels, []), dir.Path);
            Assert.Equal(["semantic-attention-stage1-block0.png", "semantic-attention-stage1-block1.png", "semantic-attention-stage2-block0.png"], paths.Select(Path.GetFileName));
            foreach (var path in paths)
            {
                var png = PngReader.Read(path);
                // 17 panels of 32 pixels (the image, then 16 tokens), 2 images x 2 heads rows, 2-pixel gaps.
                Assert.Equal((17 * 32 + 16 * PicturePanels.Gap, 4 * 32 + 3 * PicturePanels.Gap), (png.Width, png.Height));
            }
        }
    }

    [Fact]
    public void TheFeatureStagesAreThePixelTokensAfterEachStageNorm()
    {
        using var model = Nano();
        var stages = FeatureStageFinder.Find(model, ExploreData.InputShape);
        Assert.Equal(["norm1", "norm2", "norm3"], stages.Select(s => s.Path));
        Assert.Equal([(8, 8), (4, 4), (2, 2)], stages.Select(s => s.Spatial));
        Assert.Equal([1, 64, 32], stages[0].OutputShape);
        Assert.All(stages, s => Assert.True(s.ChannelsLast));

        var (images, labels) = ExploreData.EvalImages(4);
        using (images)
        using (labels)
        {
            // The centre of a LayerNorm's output summed over channels would be zero; its ReLU is not.
            var map = ReceptiveField.Compute(model, stages[0], images);
            Assert.True(map.Max > 0);
            Assert.True(map.Support() > 100);
        }
    }
}
