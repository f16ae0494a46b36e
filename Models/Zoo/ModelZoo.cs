using Engine.Models.Data;
using Engine.Models.Nn;

namespace Engine.Models.Zoo;

/// <summary>The models the <c>train</c> command knows, by name.</summary>
public static class ModelZoo
{
    private static readonly Dictionary<string, Func<ImageShape, int, Engine.Randomness.Generator, Module<Tensor, Tensor>>> Factories = new()
    {
        ["cnn"] = (shape, classes, g) => new SmallCnn(shape.Channels, classes, shape.Width, shape.Height, g),
        ["mlp"] = (shape, classes, g) => new MlpClassifier(shape.Size, classes, generator: g),
        ["affnet-nano"] = (shape, classes, g) => new Backbones.AffNet.AffNet(Backbones.AffNet.AffNetConfig.Nano(classes) with { InChannels = shape.Channels }, g),
        ["affnet"] = (shape, classes, g) => new Backbones.AffNet.AffNet(Backbones.AffNet.AffNetConfig.Small(classes) with { InChannels = shape.Channels }, g),
        ["dualvit-nano"] = (shape, classes, g) => new Backbones.DualVit.DualVit(Backbones.DualVit.DualVitConfig.Nano(classes), shape.Channels, generator: g),
        ["dualvit-s"] = (shape, classes, g) => new Backbones.DualVit.DualVit(Backbones.DualVit.DualVitConfig.Small(numClasses: classes) with { DropPathRate = 0 }, shape.Channels, generator: g),
        ["vheat-nano"] = (shape, classes, g) => Backbones.VHeat.VHeatZoo.Nano(shape.Channels, shape.Height, shape.Width, classes, g),
        ["vheat-t"] = (shape, classes, g) => Backbones.VHeat.VHeatZoo.Tiny(shape.Channels, shape.Height, shape.Width, classes, g),
        ["vheat-b"] = (shape, classes, g) => Backbones.VHeat.VHeatZoo.Base(shape.Channels, shape.Height, shape.Width, classes, g),
        ["sequencer-nano"] = (shape, classes, g) => new Backbones.Sequencer.Sequencer2d(Backbones.Sequencer.SequencerConfig.Nano(classes, shape.Channels) with { DropPathRate = 0.1 }, generator: g),
        ["sequencer2d-s"] = (shape, classes, g) => new Backbones.Sequencer.Sequencer2d(Backbones.Sequencer.SequencerConfig.Small(classes, shape.Channels) with { DropPathRate = 0.1 }, generator: g),
    };

    /// <summary>Names accepted by <see cref="Create"/>.</summary>
    public static IReadOnlyCollection<string> Names => Factories.Keys;

    /// <summary>
    /// Adds a model under <paramref name="name"/> until the returned handle is disposed: for tests that need a model
    /// the zoo does not have (one using an operator without a kernel on some device, say).
    /// </summary>
    internal static IDisposable Register(string name, Func<ImageShape, int, Engine.Randomness.Generator, Module<Tensor, Tensor>> factory)
    {
        lock (Factories)
            if (!Factories.TryAdd(name, factory)) throw new ArgumentException($"model zoo: '{name}' is already registered.");
        return new Registration(name);
    }

    private sealed class Registration(string name) : IDisposable
    {
        public void Dispose()
        {
            lock (Factories) Factories.Remove(name);
        }
    }

    /// <summary>Builds the model <paramref name="name"/> for inputs of <paramref name="shape"/>, initialised from <paramref name="generator"/>.</summary>
    public static Module<Tensor, Tensor> Create(string name, ImageShape shape, int classes, Engine.Randomness.Generator generator) =>
        Factories.TryGetValue(name, out var f) ? f(shape, classes, generator)
            : throw new ArgumentException($"model zoo: unknown model '{name}'; known models: {string.Join(", ", Factories.Keys)}.");
}
