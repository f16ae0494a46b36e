using Engine.Autograd;
using Engine.Models.Backbones.VHeat;
using Engine.Models.Nn;
using Engine.Ops;

namespace Engine.Models.Explore;

/// <summary>
/// Heat conduction on one (H, W) plane, as vHeat's operator computes it: v(t) = IDCT2(DCT2(u) ⊙ F^t) with the
/// orthonormal 2-D DCT and a per-frequency factor F in (0, 1] (F = exp(-k·Ω), Ω[n, m] = (nπ/H)² + (mπ/W)²),
/// so F^t = exp(-k·Ω·t): the heat equation run for time t. F is 1 at the zero frequency, so every frame keeps
/// the plane's mean (its total heat).
/// </summary>
public static class HeatConductionFrames
{
    /// <summary>
    /// The frames v(t) for each of <paramref name="times"/> (t ≥ 0), each (H·W) row-major, from
    /// <paramref name="plane"/> (H·W) and the factor <paramref name="decay"/> (H·W, each in (0, 1]) at t = 1.
    /// </summary>
    public static double[][] Frames(double[] plane, double[] decay, int height, int width, IReadOnlyList<double> times)
    {
        int n = height * width;
        if (plane.Length != n || decay.Length != n)
            throw new ArgumentException($"HeatConductionFrames: a {height}x{width} plane needs {n} values and {n} decay factors, got {plane.Length} and {decay.Length}.");
        if (decay.Any(f => !(f > 0 && f <= 1))) throw new ArgumentException("HeatConductionFrames: decay factors must lie in (0, 1].", nameof(decay));
        if (times.Any(t => !(t >= 0))) throw new ArgumentException("HeatConductionFrames: times must be non-negative.", nameof(times));
        using var scope = Tensor.Scope();
        using var noGrad = Tape.NoGrad();
        var spectrum = Functional.Dct2(Tensor.FromArray(plane).Reshape(1, height, width));
        var logDecay = Tensor.FromArray(decay).Reshape(1, height, width).Log();
        return times.Select(t => Functional.Idct2(spectrum * (logDecay * t).Exp()).Contiguous().ToArray<double>()).ToArray();
    }

    /// <summary>The physical heat equation's factor with diffusivity <paramref name="k"/>: exp(-k·Ω), (H·W) row-major (vHeat's <see cref="Functional.HeatDecay"/>).</summary>
    public static double[] PhysicalDecay(int height, int width, double k = 1)
    {
        using var scope = Tensor.Scope();
        using var noGrad = Tape.NoGrad();
        return Functional.HeatDecay(Tensor.Full([height, width], k, DType.F64)).Contiguous().ToArray<double>();
    }

    /// <summary>Σ of squared differences between horizontal and vertical neighbours: how rough a plane is (0 for a constant one).</summary>
    public static double Roughness(double[] plane, int height, int width)
    {
        double sum = 0;
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                double v = plane[y * width + x];
                if (x + 1 < width) sum += Math.Pow(plane[y * width + x + 1] - v, 2);
                if (y + 1 < height) sum += Math.Pow(plane[(y + 1) * width + x] - v, 2);
            }
        return sum;
    }
}

/// <summary>
/// vHeat for the explore tools, through forward hooks and public members only: its feature stages are the
/// stage outputs (the inputs of the downsamples and of the head: the heat blocks take the frequency embedding
/// as a second argument, so they have no hookable output), and its pictures are heat conduction, on the image
/// itself with a uniform diffusivity and on the heat operator's own input u with each channel's learned decay,
/// frame by frame as the conduction time t grows (t = 1 is what the operator applies).
/// </summary>
public sealed class VHeatPictures(VHeat model) : IBackbonePicture, IFeatureStages
{
    /// <summary>The conduction times of the frames.</summary>
    public static readonly double[] Times = [0, 1, 2, 4, 8, 16];

    /// <summary>The times of the image frames: Gaussian blurs of standard deviation √(2t) = 0, 1, 2, 4, 8 and 16 pixels.</summary>
    public static readonly double[] ImageTimes = [0, 0.5, 2, 8, 32, 128];

    /// <inheritdoc/>
    public IReadOnlyList<FeatureStage> FeatureStages
    {
        get
        {
            var config = model.Config;
            int last = config.Depths.Length - 1;
            var stages = new List<FeatureStage>();
            for (int s = 0; s <= last; s++)
            {
                var (h, w) = config.StageSize(s);
                if (h * w <= 1) continue;
                string path = s < last ? $"layers.{s}.{config.Depths[s]}" : "classifier";
                stages.Add(new FeatureStage(path, ChannelsLast: true) { FromInput = true });
            }
            return stages;
        }
    }

    /// <summary>
    /// The heat operator's input u of block <paramref name="block"/> in stage <paramref name="stage"/>, (N, H, W, C),
    /// recomputed from the hooked pre-norm (dwconv then the first half of <c>linear</c>), and its decay F at t = 1,
    /// (H, W, C). Pre-norm blocks only (the Nano and vHeat-T): a post-norm block's operator input is not hookable.
    /// </summary>
    public static (Tensor U, Tensor Decay) OperatorInput(VHeat model, Tensor images, int stage, int block)
    {
        if (model.Config.PostNorm) throw new NotSupportedException("VHeatPictures: the operator's input is reachable in pre-norm blocks only.");
        string prefix = $"layers.{stage}.{block}";
        var modules = model.NamedModules().ToDictionary(m => m.Name, m => m.Module);
        if (!modules.TryGetValue(prefix + ".op", out var opModule)) throw new ArgumentException($"VHeatPictures: the model has no heat block '{prefix}'.");
        var norm = (Module<Tensor, Tensor>)modules[prefix + ".norm1"];
        var dwconv = (Conv2d)modules[prefix + ".op.dwconv"];
        var linear = (Linear)modules[prefix + ".op.linear"];
        Tensor? normed = null;
        using (Tape.NoGrad())
        {
            using (norm.RegisterForwardHook((_, _, o) => normed = o))
                model.Call(images.ToDType(FeatureStageFinder.ModelDType(model)));
            var x = normed ?? throw new InvalidOperationException($"VHeatPictures: {prefix} did not run.");
            var t = dwconv.Call(x.Permute(0, 3, 1, 2)).Permute(0, 2, 3, 1);
            int hidden = linear.Weight.Shape[0] / 2;
            var u = Functional.Linear(t, linear.Weight, linear.Bias).Narrow(3, 0, hidden).Contiguous();
            var op = (Heat2D)opModule;
            var decay = op.Decay(op.InferMode ? null : model.FreqEmbedFor(stage, u.Shape[1], u.Shape[2]));
            return (u, decay);
        }
    }

    /// <inheritdoc/>
    public IReadOnlyList<BackbonePicture> DrawPictures(PictureRequest request)
    {
        var pictures = new List<BackbonePicture>();
        using var scope = Tensor.Scope();
        int shown = Math.Min(2, request.Images.Shape[0]);
        var images = request.Images.Narrow(0, 0, shown);

        var rows = new List<IReadOnlyList<RgbImage>>();
        for (int i = 0; i < shown; i++)
        {
            var grey = images.Select(0, i).ToDType(DType.F64).Mean(0);
            int h = grey.Shape[0], w = grey.Shape[1];
            rows.Add(FrameRow(HeatConductionFrames.Frames(grey.ToArray<double>(), HeatConductionFrames.PhysicalDecay(h, w), h, w, ImageTimes), h, w, 2, null));
        }
        pictures.Add(new BackbonePicture("heat-conduction-image",
            $"The heat equation on the image (channels averaged), diffusivity 1, at t = {string.Join(", ", ImageTimes)}: a row per image, one colour scale per row; every frame keeps the image's mean.",
            PicturePanels.Grid(rows)));

        if (model.Config.PostNorm) return pictures;
        for (int s = 0; s < model.Config.Depths.Length; s++)
        {
            var (h, w) = model.Config.StageSize(s);
            if (h * w <= 1) continue;
            var (u, decay) = OperatorInput(model, images, s, 0);
            var f = decay.ToDType(DType.F64).Permute(2, 0, 1).Contiguous();      // (C, H, W)
            var planes = u.Select(0, 0).ToDType(DType.F64).Permute(2, 0, 1).Contiguous(); // image 0, (C, H, W)
            int cell = Math.Max(1, request.Images.Shape[2] / h);
            var channelRows = new List<IReadOnlyList<RgbImage>>();
            foreach (int c in StrongestChannels(f, 4))
            {
                var fc = f.Select(0, c).ToArray<double>();
                var frames = HeatConductionFrames.Frames(planes.Select(0, c).ToArray<double>(), fc, h, w, Times);
                channelRows.Add(FrameRow(frames, h, w, cell, PicturePanels.Map(fc, h, w, cell)));
            }
            pictures.Add(new BackbonePicture($"heat-conduction-stage{s}",
                $"Stage {s}, block 0: the heat operator's input u for four channels (those whose learned decay damps most) of the first image, conducted with the channel's own decay F^t at t = {string.Join(", ", Times)} (t = 1 is the operator), one colour scale per row; last, the decay F over the frequencies (zero frequency top left).",
                PicturePanels.Grid(channelRows)));
        }
        return pictures;
    }

    /// <summary>The <paramref name="count"/> channels whose decay (C, H, W) has the smallest mean: the strongest conduction.</summary>
    private static IEnumerable<int> StrongestChannels(Tensor decay, int count)
    {
        var mean = decay.Mean([1, 2]).ToArray<double>();
        return Enumerable.Range(0, mean.Length).OrderBy(c => mean[c]).Take(count);
    }

    /// <summary>The frames side by side on one colour scale (the first frame's range), then <paramref name="extra"/>.</summary>
    private static List<RgbImage> FrameRow(double[][] frames, int h, int w, int cell, RgbImage? extra)
    {
        double lo = frames[0].Min(), hi = frames[0].Max();
        var row = frames.Select(frame => PicturePanels.MapInRange(frame, h, w, cell, lo, hi)).ToList();
        if (extra is not null) row.Add(extra);
        return row;
    }
}
