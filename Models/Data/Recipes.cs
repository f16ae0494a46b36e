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

    /// <summary>ImageNet's per-channel mean of RGB pixels in [0, 1] (torchvision's and timm's constant).</summary>
    public static readonly float[] ImageNetMean = [0.485f, 0.456f, 0.406f];

    /// <summary>ImageNet's per-channel standard deviation.</summary>
    public static readonly float[] ImageNetStd = [0.229f, 0.224f, 0.225f];

    /// <summary>
    /// The fraction of the resized image the evaluation crop keeps, per backbone, from each one's spec
    /// (docs/data.md): AFFNet resizes to 288 and crops 256 (0.889), Dual-ViT uses 0.96, Sequencer2D and vHeat
    /// 0.875 (resize 256, crop 224); anything else gets timm's default, 0.875.
    /// </summary>
    public static double CropPct(string model) => model.ToLowerInvariant() switch
    {
        var m when m.StartsWith("affnet", StringComparison.Ordinal) => 256.0 / 288.0,
        var m when m.StartsWith("dualvit", StringComparison.Ordinal) => 0.96,
        _ => 0.875,
    };

    /// <summary>
    /// The ImageNet recipe for RGB images of any size (an <see cref="Images.ImageFolder"/>), as torchvision and
    /// timm build it. Training: <see cref="RandomResizedCrop"/> to <paramref name="size"/> (scale 0.08 to 1, ratio
    /// 3/4 to 4/3, bilinear), <see cref="RandomHorizontalFlip"/> (0.5), <see cref="Normalize"/> with ImageNet's mean
    /// and std. Evaluation: <see cref="Resize"/> of the shorter side to <c>floor(size / cropPct)</c>, a
    /// <see cref="CenterCrop"/> of <paramref name="size"/>, the same normalisation. Without
    /// <paramref name="augment"/>, training uses the evaluation transforms.
    /// </summary>
    public static DataRecipe ImageNet(int size, double cropPct = 0.875, bool augment = true)
    {
        if (size <= 0) throw new ArgumentOutOfRangeException(nameof(size), $"imagenet recipe: the image size must be positive, got {size}.");
        if (!(cropPct > 0 && cropPct <= 1)) throw new ArgumentOutOfRangeException(nameof(cropPct), $"imagenet recipe: crop_pct must be in (0, 1], got {cropPct}.");
        var normalize = new Normalize(ImageNetMean, ImageNetStd);
        var eval = new Compose(new Resize(EvalResize(size, cropPct)), new CenterCrop(size), normalize);
        var train = augment ? new Compose(new RandomResizedCrop(size), new RandomHorizontalFlip(0.5), normalize) : eval;
        return new DataRecipe("imagenet", train, eval, null, new ImageShape(3, size, size));
    }

    /// <summary>The shorter side before the evaluation crop: <c>floor(size / cropPct)</c> as timm computes it (a hair of slack absorbs 256 / (256 / 288) landing just below 288).</summary>
    public static int EvalResize(int size, double cropPct) => (int)Math.Floor(size / cropPct + 1e-9);
}
