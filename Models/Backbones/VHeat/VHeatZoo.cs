using Engine.Randomness;

namespace Engine.Models.Backbones.VHeat;

/// <summary>The vHeat models the model zoo builds by name, for a given input size and number of classes.</summary>
public static class VHeatZoo
{
    /// <summary>Stochastic depth of the Nano when trained (the spec suggests 0.05 to 0.1 at this size).</summary>
    public const double NanoDropPath = 0.05;

    /// <summary>"vheat-nano": the spec's Nano (dims 16, depths [2, 2, 2, 1]) for channels×H×W inputs.</summary>
    public static VHeat Nano(int channels, int height, int width, int classes, Generator generator) =>
        new(VHeatConfig.Nano(classes, height, width, NanoDropPath) with { InChans = channels }, generator: generator);

    /// <summary>"vheat-t": vHeat-T (dims 96, depths [2, 2, 6, 2], drop path 0.1) for channels×H×W inputs.</summary>
    public static VHeat Tiny(int channels, int height, int width, int classes, Generator generator) =>
        new(VHeatConfig.Tiny(classes) with { InChans = channels, ImageHeight = height, ImageWidth = width }, generator: generator);

    /// <summary>"vheat-b": vHeat-B (dims 128, depths [2, 2, 18, 2], post-norm, layer scale 1e-5, drop path 0.5) for channels×H×W inputs.</summary>
    public static VHeat Base(int channels, int height, int width, int classes, Generator generator) =>
        new(VHeatConfig.Base(classes) with { InChans = channels, ImageHeight = height, ImageWidth = width }, generator: generator);
}
