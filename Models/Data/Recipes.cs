namespace Engine.Models.Data;

/// <summary>
/// A dataset's preprocessing for training and evaluation: the per-example transforms, the optional batch
/// transform (mixup / CutMix, training only), and the shape of the images the model sees.
/// </summary>
public sealed record DataRecipe(string Name, ITransform Train, ITransform Eval, IBatchTransform? TrainBatch, ImageShape InputShape);

/// <summary>The preprocessing recipes the trainer uses.</summary>
public static class Recipes
{
    /// <summary>Fashion-MNIST's pixel mean over the training set (pixels in [0, 1]).</summary>
    public const float FashionMnistMean = 0.2860f;

    /// <summary>Fashion-MNIST's pixel standard deviation over the training set.</summary>
    public const float FashionMnistStd = 0.3530f;

    /// <summary>
    /// Fashion-MNIST for backbones that take 3 x 32 x 32 images. Evaluation: pad the 28x28 grey image with 2
    /// black (0) pixels on each side to 32x32, repeat the grey channel to 3 channels, normalise with mean
    /// 0.2860 and std 0.3530. Training (<paramref name="augment"/>): pad to 32x32 as above, then take a random
    /// 32x32 crop of that image padded by 2 more black pixels on each side, flip horizontally with
    /// probability 0.5, repeat to 3 channels and normalise. All padding happens before normalising, so padded
    /// pixels are exactly the normalised black, (0 - 0.2860) / 0.3530. With <paramref name="mixupAlpha"/> or
    /// <paramref name="cutmixAlpha"/> positive, training batches are mixed (both: one or the other per batch,
    /// 50/50) and carry soft targets with <paramref name="labelSmoothing"/>.
    /// </summary>
    public static DataRecipe FashionMnist(bool augment = true, double mixupAlpha = 0, double cutmixAlpha = 0, double labelSmoothing = 0)
    {
        var toPixels = new ITransform[] { new RepeatGrey(3), new Normalize([FashionMnistMean], [FashionMnistStd]) };
        var eval = new Compose([new Pad(2), .. toPixels]);
        var train = augment
            ? new Compose([new Pad(2), new RandomCrop(32, padding: 2), new RandomHorizontalFlip(0.5), .. toPixels])
            : eval;
        IBatchTransform? batch = (mixupAlpha > 0, cutmixAlpha > 0) switch
        {
            (true, true) => new MixupOrCutMix(mixupAlpha, cutmixAlpha, 0.5, labelSmoothing),
            (true, false) => new Mixup(mixupAlpha, labelSmoothing),
            (false, true) => new CutMix(cutmixAlpha, labelSmoothing),
            _ => null,
        };
        return new DataRecipe("fashion-mnist", train, eval, batch, eval.OutputShape(new ImageShape(1, 28, 28)));
    }
}
