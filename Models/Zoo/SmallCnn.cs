using Engine.Models.Nn;

namespace Engine.Models.Zoo;

/// <summary>
/// The main job's model until the backbones land: two 3x3 convolutions with BatchNorm, ReLU and 2x2 max
/// pooling, then a linear head on the flattened 8x8 maps. About 50 thousand parameters for 3x32x32 inputs.
/// </summary>
public sealed class SmallCnn : Module<Tensor, Tensor>
{
    private readonly Sequential _features;
    private readonly Linear _head;

    /// <summary>Creates the network for <paramref name="channels"/>×32×32 inputs and <paramref name="classes"/> classes.</summary>
    public SmallCnn(int channels = 3, int classes = 10, int width = 32, int height = 32, Engine.Randomness.Generator? generator = null)
    {
        _features = RegisterModule("features", new Sequential(
            new Conv2d(channels, 32, 3, padding: 1, bias: false, generator: generator),
            new BatchNorm2d(32),
            new Activation("relu"),
            new MaxPool2d(2),
            new Conv2d(32, 64, 3, padding: 1, bias: false, generator: generator),
            new BatchNorm2d(64),
            new Activation("relu"),
            new MaxPool2d(2)));
        _head = RegisterModule("head", new Linear(64 * (height / 4) * (width / 4), classes, generator: generator));
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => _head.Call(_features.Call(input).Flatten(1));
}
