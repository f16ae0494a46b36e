using Engine.Models.Backbones.AffNet;
using Engine.Models.Backbones.DualVit;
using Engine.Models.Backbones.Sequencer;
using Engine.Models.Backbones.VHeat;
using Engine.Models.Nn;

namespace Engine.Models.Explore;

/// <summary>
/// Where the explore tools find a model's <see cref="IBackbonePicture"/> and <see cref="IFeatureStages"/>: the
/// model itself when it implements them, else a small adapter here that reads the backbone through forward
/// hooks and public members, so the backbones' own code stays as their parity with the reference needs it.
/// </summary>
public static class BackboneAdapters
{
    /// <summary>The pictures of <paramref name="model"/>, or null when it draws none.</summary>
    public static IBackbonePicture? Picture(Module model) => model switch
    {
        IBackbonePicture own => own,
        DualVit dualVit => new DualVitPictures(dualVit),
        AffNet affNet => new AffNetPictures(affNet),
        VHeat vHeat => new VHeatPictures(vHeat),
        Sequencer2d sequencer => new SequencerPictures(sequencer),
        _ => null,
    };

    /// <summary>The feature stages <paramref name="model"/> names, or null when they are to be discovered from its outputs' shapes.</summary>
    public static IFeatureStages? Stages(Module model) => model switch
    {
        IFeatureStages own => own,
        DualVit dualVit => new DualVitPictures(dualVit),
        AffNet affNet => new AffNetPictures(affNet),
        VHeat vHeat => new VHeatPictures(vHeat),
        Sequencer2d sequencer => new SequencerPictures(sequencer),
        _ => null,
    };
}
