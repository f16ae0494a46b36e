namespace Engine.Models.Parity;

/// <summary>
/// The builders that turn a golden file's metadata (model name and config JSON) into a model: one entry
/// per reference model name, kept in the backbone's own folder.
/// </summary>
public static class ParityModels
{
    private static readonly (Func<string, bool> Matches, Func<GoldenCase, ParityModel> Build)[] Builders =
    [
        (m => m == "affnet", Backbones.AffNet.AffNetParity.Network),
        (m => m == "affnet.AFF_block", Backbones.AffNet.AffNetParity.Block),
        (m => m == "affnet.AFF_token_mixer", Backbones.AffNet.AffNetParity.TokenMixer),
        (m => m == "dualvit", Backbones.DualVit.DualVitParity.Model),
        (m => m == "dualvit.DualBlock", Backbones.DualVit.DualVitParity.DualBlock),
        (m => m == "dualvit.MergeBlock", Backbones.DualVit.DualVitParity.MergeBlock),
        (m => m == "vHeat", Backbones.VHeat.VHeatParity.Build),
        (m => m == "vHeat.Heat2D", Backbones.VHeat.VHeatParity.BuildOperator),
        (Backbones.Sequencer.SequencerParity.IsNetwork, Backbones.Sequencer.SequencerParity.Network),
        (Backbones.Sequencer.SequencerParity.IsLayer, Backbones.Sequencer.SequencerParity.Layer),
        (Backbones.Sequencer.SequencerParity.IsTokenMixer, Backbones.Sequencer.SequencerParity.TokenMixer),
    ];

    /// <summary>True when some builder knows the golden's model name.</summary>
    public static bool Knows(string model) => Builders.Any(b => b.Matches(model));

    /// <summary>Builds the model the golden describes, in float64 on the CPU, with freshly initialised parameters.</summary>
    public static ParityModel Build(GoldenCase golden)
    {
        foreach (var (matches, build) in Builders)
            if (matches(golden.Model)) return build(golden);
        throw new NotSupportedException($"parity: golden '{golden.Path}' is for model '{golden.Model}', which no builder knows.");
    }
}
