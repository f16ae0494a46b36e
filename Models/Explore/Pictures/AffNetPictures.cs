using Engine.Autograd;
using Engine.Models.Backbones.AffNet;
using Engine.Models.Nn;
using Engine.Ops;

namespace Engine.Models.Explore;

/// <summary>
/// The masks of one AFF token mixer for a batch of images. <see cref="Magnitude"/> is (N, C, H, K) row-major,
/// K = ⌊W/2⌋ + 1: |M| at every channel and frequency of the half spectrum (rows: vertical frequency u = 0..H-1,
/// columns: horizontal frequency k = 0..K-1, as rfft2 lays them out).
/// </summary>
/// <param name="Images">N.</param>
/// <param name="Channels">C.</param>
/// <param name="Groups">Mask groups (channels are split into this many contiguous groups).</param>
/// <param name="Height">H of the spectrum (the map's height).</param>
/// <param name="HalfWidth">K = ⌊W/2⌋ + 1.</param>
/// <param name="Magnitude">|M|.</param>
/// <param name="Output">The mixer's output recomputed from the mask: x + irfft2(M ⊙ rfft2(x)), (N, C, H, W).</param>
public sealed record FrequencyMask(int Images, int Channels, int Groups, int Height, int HalfWidth, double[] Magnitude, double[] Output)
{
    /// <summary>The mean of |M| over the channels of <paramref name="group"/> for one image, (H, K) row-major.</summary>
    public double[] GroupMean(int image, int group)
    {
        int d = Channels / Groups, plane = Height * HalfWidth;
        var mean = new double[plane];
        for (int c = group * d; c < (group + 1) * d; c++)
        {
            var m = Magnitude.AsSpan((image * Channels + c) * plane, plane);
            for (int i = 0; i < plane; i++) mean[i] += m[i] / d;
        }
        return mean;
    }

    /// <summary>The fraction of complex mask entries that the soft-shrink set to exactly zero.</summary>
    public double ZeroFraction => Magnitude.Count(v => v == 0) / (double)Magnitude.Length;
}

/// <summary>
/// AFFNet for the explore tools, through forward hooks and public members only: its feature stages are the
/// outputs of layer_2 to layer_5 (discovery would pick the expansion convs of the next stage's strided MV2),
/// and its picture is the learned frequency mask of every AFF token mixer, recomputed from the mixer's input
/// and parameters exactly as the mixer computes it.
/// </summary>
public sealed class AffNetPictures(AffNet model) : IBackbonePicture, IFeatureStages
{
    /// <inheritdoc/>
    public IReadOnlyList<FeatureStage> FeatureStages =>
        Enumerable.Range(2, model.Config.Stages.Count - 1).Select(s => new FeatureStage($"layer_{s}")).ToList();

    /// <summary>Paths of the AFF token mixers, input to output ("layer_3.1.global_rep.0.filter", ...).</summary>
    public IReadOnlyList<string> Mixers =>
        model.NamedModules().Where(m => m.Module is AffTokenMixer).Select(m => m.Name).ToList();

    /// <summary>The mask of the mixer at <paramref name="path"/> on <paramref name="images"/> (N, C, H, W), without recording.</summary>
    public static FrequencyMask Mask(AffNet model, Tensor images, string path)
    {
        var mixer = model.NamedModules().FirstOrDefault(m => m.Name == path).Module as AffTokenMixer
            ?? throw new ArgumentException($"AffNetPictures: no AFF token mixer at '{path}'.", nameof(path));
        var p = mixer.NamedParameters().ToDictionary(x => x.Name, x => x.Parameter);
        using var scope = Tensor.Scope();
        using var noGrad = Tape.NoGrad();
        Tensor? x = null;
        using (mixer.RegisterForwardHook((_, input, _) => x = input))
            model.Call(images.ToDType(FeatureStageFinder.ModelDType(model)));
        if (x is null) throw new InvalidOperationException($"AffNetPictures: the mixer at '{path}' did not run.");

        // The mixer's own steps (Functional.AdaptiveFrequencyFilter), with the mask kept.
        int h = x.Shape[2], w = x.Shape[3], groups = p["w1"].Shape[1];
        var spectrum = Functional.Rfft2(x, "ortho");
        var hidden = Functional.ComplexGroupLinear(spectrum, p["w1"], p["b1"]);
        hidden = AffNetConfig.ActivationName(model.Config.Activation) switch
        {
            "silu" or "swish" => Functional.Silu(hidden),
            "relu" => hidden.Relu(),
            "gelu" => Functional.Gelu(hidden),
            "hardswish" => Functional.Hardswish(hidden),
            "identity" => hidden,
            var other => throw new NotSupportedException($"AffNetPictures: activation '{other}'."),
        };
        var mask = Functional.Softshrink(Functional.ComplexGroupLinear(hidden, p["w2"], p["b2"]), model.Config.SparsityThreshold);
        var output = x + Functional.Irfft2(Functional.ComplexMul(mask, spectrum), [h, w], "ortho");
        var m64 = mask.ToDType(DType.F64);
        var magnitude = (m64 * m64).Sum(-1).Sqrt();
        return new FrequencyMask(x.Shape[0], x.Shape[1], groups, h, mask.Shape[3],
            magnitude.Contiguous().ToArray<double>(), output.ToDType(DType.F64).Contiguous().ToArray<double>());
    }

    /// <inheritdoc/>
    public IReadOnlyList<BackbonePicture> DrawPictures(PictureRequest request)
    {
        int shown = Math.Min(2, request.Images.Shape[0]);
        using var few = Tensor.Scope();
        var images = request.Images.Narrow(0, 0, shown);
        var byStage = Mixers.GroupBy(path => path[..path.IndexOf('.')]);
        var pictures = new List<BackbonePicture>();
        foreach (var stage in byStage)
        {
            var rows = new List<IReadOnlyList<RgbImage>>();
            int height = 0, halfWidth = 0;
            foreach (var path in stage)
            {
                var mask = Mask(model, images, path);
                (height, halfWidth) = (mask.Height, mask.HalfWidth);
                int cell = Math.Max(2, images.Shape[2] / mask.Height);
                for (int i = 0; i < mask.Images; i++)
                {
                    var row = new List<RgbImage> { PicturePanels.Grey(images, i) };
                    for (int g = 0; g < mask.Groups; g++)
                        row.Add(PicturePanels.Map(CentreRows(mask.GroupMean(i, g), mask.Height, mask.HalfWidth), mask.Height, mask.HalfWidth, cell, stretch: true));
                    rows.Add(row);
                }
            }
            pictures.Add(new BackbonePicture($"frequency-masks-{stage.Key.Replace('_', '-')}",
                $"{stage.Key}: |M| of each AFF block's mask over the {height}x{halfWidth} half spectrum, mean over each group's channels, each panel stretched from its minimum (dark) to its maximum (light); a row per block and image (the image first), a panel per group; zero frequency at the left of the middle row, vertical frequency rising away from it, horizontal to the right.",
                PicturePanels.Grid(rows)));
        }
        return pictures;
    }

    /// <summary>Rolls the rows by ⌊H/2⌋ so that vertical frequency 0 is in the middle row and ±u lie symmetric around it.</summary>
    public static double[] CentreRows(double[] plane, int height, int width)
    {
        var rolled = new double[plane.Length];
        for (int r = 0; r < height; r++)
            Array.Copy(plane, ((r - height / 2 + height) % height) * width, rolled, r * width, width);
        return rolled;
    }
}
