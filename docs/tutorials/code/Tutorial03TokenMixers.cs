// Tutorial 3: how each backbone mixes tokens. docs/tutorials/03-token-mixers.md embeds the regions of this file;
// a test compiles and runs it on a few images, and checks that the page shows the regions as they are.
using Engine;
using Engine.Models.Backbones.AffNet;
using Engine.Models.Backbones.DualVit;
using Engine.Models.Backbones.Sequencer;
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

    /// <summary>Heat conduction on a real image: the mean stays, the roughness falls; returns the roughness per frame.</summary>
    public static double[] HeatOnAnImage(TextWriter output)
    {
        var (images, labels) = ExploreData.EvalImages(1);
        var plane = images.Select(0, 0).Select(0, 0).ToDType(DType.F64).ToArray<double>();   // 32 x 32
        images.Dispose();
        labels.Dispose();
        #region vheat
        double[] times = [0, 0.5, 2, 8, 32];
        var decay = HeatConductionFrames.PhysicalDecay(32, 32, k: 1);        // exp(-Ω): Functional.HeatDecay
        var frames = HeatConductionFrames.Frames(plane, decay, 32, 32, times);
        for (int i = 0; i < times.Length; i++)
            output.WriteLine($"t = {times[i],4}: mean {frames[i].Average():0.000000}, roughness {HeatConductionFrames.Roughness(frames[i], 32, 32),8:0.00}");
        #endregion
        return frames.Select(f => HeatConductionFrames.Roughness(f, 32, 32)).ToArray();
    }

    /// <summary>The mask of AFFNet's first token mixer; returns the share of it the soft-shrink zeroed.</summary>
    public static double AffNetMask(TextWriter output, string? checkpoint = null)
    {
        #region affnet
        using var model = (AffNet)ExploreData.Model("affnet-nano", checkpoint: checkpoint);
        model.Eval();
        var (images, labels) = ExploreData.EvalImages(8);
        string first = new AffNetPictures(model).Mixers[0];                      // "layer_3.1.global_rep.0.filter"
        var mask = AffNetPictures.Mask(model, images, first);
        output.WriteLine($"{first}: {mask.Channels} channels in {mask.Groups} groups, a {mask.Height}x{mask.HalfWidth} half spectrum");
        output.WriteLine($"zeroed by the soft-shrink: {100 * mask.ZeroFraction:0.0}%, largest |M| {mask.Magnitude.Max():0.000}");
        #endregion
        images.Dispose();
        labels.Dispose();
        return mask.ZeroFraction;
    }

    /// <summary>The hidden states of Sequencer's first BiLSTM2D; returns the mean |h| of the four directions.</summary>
    public static double[] SequencerStates(TextWriter output, string? checkpoint = null)
    {
        #region sequencer
        using var model = (Sequencer2d)ExploreData.Model("sequencer-nano", checkpoint: checkpoint);
        model.Eval();
        var (images, labels) = ExploreData.EvalImages(8);
        var states = SequencerPictures.States(model, images, "blocks.0.0.rnn_tokens");
        foreach (var direction in Enum.GetValues<LstmDirection>())
        {
            var m = states.Magnitude(image: 0, direction);                          // 16 x 16 values
            output.WriteLine($"{direction,-5}: mean |h| {m.Average():0.000}, first row {m.Take(16).Average():0.000}, last row {m.Skip(240).Average():0.000}");
        }
        #endregion
        images.Dispose();
        labels.Dispose();
        return Enum.GetValues<LstmDirection>().Select(d => states.Magnitude(0, d).Average()).ToArray();
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
