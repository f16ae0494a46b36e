// Tutorial 3: how each backbone mixes tokens. docs/tutorials/03-token-mixers.md embeds the regions of this file;
// a test compiles and runs it on a few images, and checks that the page shows the regions as they are.
using Engine;
using Engine.Models.Backbones.DualVit;
using Engine.Models.Explore;

namespace Engine.Tutorials;

public static class Tutorial03TokenMixers
{
    /// <summary>The semantic tokens' attention over the pixel tokens of Dual-ViT's first block; returns how peaked it is.</summary>
    public static double DualVitAttention(TextWriter output, string? checkpoint = null)
    {
        #region dualvit
        using var model = (DualVit)ExploreData.Model("dualvit-nano", checkpoint: checkpoint);
        model.Eval();
        var (images, labels) = ExploreData.EvalImages(8);
        var a = DualVitPictures.Attention(model, images, stage: 1, block: 0);
        output.WriteLine($"{a.Heads} heads x {a.Tokens} semantic tokens, each over a {a.GridHeight}x{a.GridWidth} grid of pixel tokens");
        output.WriteLine($"row sum {a.Map(image: 0, head: 0, token: 0).ToArray().Sum():0.000000}, peak {a.Peak():0.00} x uniform");
        #endregion
        images.Dispose();
        labels.Dispose();
        return a.Peak();
    }

    /// <summary>Every picture a zoo model draws of itself, written to <paramref name="outDirectory"/>.</summary>
    public static IReadOnlyList<string> Pictures(string name, string? checkpoint, string outDirectory)
    {
        #region pictures
        using var model = ExploreData.Model(name, checkpoint: checkpoint);
        var (images, labels) = ExploreData.EvalImages(8);
        using (images)
        using (labels)
        {
            var request = new PictureRequest(images, labels, FeatureStageFinder.Find(model, ExploreData.InputShape));
            return BackbonePictures.Write(model, request, outDirectory);   // one PNG per picture
        }
        #endregion
    }
}
