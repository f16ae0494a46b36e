using System.Text.Json;

namespace Engine.Models.Backbones.VHeat;

/// <summary>
/// The hyper-parameters of a vHeat network, named after the reference constructor's arguments, plus the
/// input size (H0, W0) the frequency embeddings are sized for (the reference knows only a square
/// <c>img_size</c>; a non-square H0×W0 is this engine's generalisation).
/// </summary>
/// <param name="Dims">Channels of the four stages.</param>
/// <param name="Depths">Heat blocks per stage.</param>
/// <param name="NumClasses">Outputs of the classifier.</param>
/// <param name="InChans">Input channels.</param>
/// <param name="PostNorm">True: x + γ·LN(f(x)) (vHeat-S/B); false: x + f(LN(x)) (vHeat-T, Nano).</param>
/// <param name="LayerScale">Initial value of the per-channel scales γ1, γ2, or null for none.</param>
/// <param name="MlpRatio">Hidden width of the MLP over the stage width.</param>
/// <param name="DropPathRate">Stochastic depth of the last block; rates grow linearly from 0 over all blocks.</param>
/// <param name="ImageHeight">H0, the input height the frequency embeddings are sized for.</param>
/// <param name="ImageWidth">W0, the input width.</param>
/// <param name="InferMode">True: each operator holds a frozen k_exp = exp(-ReLU(to_k(FVE))·Ω) instead of to_k and the embeddings.</param>
/// <param name="ResizeFreqEmbed">True: an input of another size bicubically resizes each embedding to the stage map (the downstream wrappers' rule); false: such an input is an error, as in the reference classifier.</param>
public sealed record VHeatConfig(
    int[] Dims, int[] Depths, int NumClasses = 1000, int InChans = 3, bool PostNorm = false, double? LayerScale = null,
    double MlpRatio = 4.0, double DropPathRate = 0.0, int ImageHeight = 224, int ImageWidth = 224, bool InferMode = false,
    bool ResizeFreqEmbed = false)
{
    /// <summary>vHeat-T: dims 96, depths [2, 2, 6, 2], pre-norm, drop path 0.1.</summary>
    public static VHeatConfig Tiny(int numClasses = 1000, int imageSize = 224) =>
        new(Expand(96), [2, 2, 6, 2], numClasses, DropPathRate: 0.1, ImageHeight: imageSize, ImageWidth: imageSize);

    /// <summary>vHeat-S: dims 96, depths [2, 2, 18, 2], post-norm with layer scale 1e-5, drop path 0.3.</summary>
    public static VHeatConfig Small(int numClasses = 1000, int imageSize = 224) =>
        new(Expand(96), [2, 2, 18, 2], numClasses, PostNorm: true, LayerScale: 1e-5, DropPathRate: 0.3, ImageHeight: imageSize, ImageWidth: imageSize);

    /// <summary>vHeat-B: dims 128, depths [2, 2, 18, 2], post-norm with layer scale 1e-5, drop path 0.5.</summary>
    public static VHeatConfig Base(int numClasses = 1000, int imageSize = 224) =>
        new(Expand(128), [2, 2, 18, 2], numClasses, PostNorm: true, LayerScale: 1e-5, DropPathRate: 0.5, ImageHeight: imageSize, ImageWidth: imageSize);

    /// <summary>The project's Nano: dims 16, depths [2, 2, 2, 1], pre-norm, 32×32 inputs, 10 classes.</summary>
    public static VHeatConfig Nano(int numClasses = 10, int imageHeight = 32, int imageWidth = 32, double dropPathRate = 0.0) =>
        new(Expand(16), [2, 2, 2, 1], numClasses, DropPathRate: dropPathRate, ImageHeight: imageHeight, ImageWidth: imageWidth);

    /// <summary>An int d stands for [d, 2d, 4d, 8d], as in the reference.</summary>
    public static int[] Expand(int d) => [d, 2 * d, 4 * d, 8 * d];

    /// <summary>Side after a 3×3 stride-2 padding-1 convolution: ceil(n / 2).</summary>
    public static int Halve(int n) => (n + 1) / 2;

    /// <summary>The (H, W) of stage <paramref name="stage"/>'s maps for an H0×W0 input: the stem halves twice, each downsample once.</summary>
    public (int H, int W) StageSize(int stage, int imageHeight, int imageWidth)
    {
        int h = Halve(Halve(imageHeight)), w = Halve(Halve(imageWidth));
        for (int s = 0; s < stage; s++) { h = Halve(h); w = Halve(w); }
        return (h, w);
    }

    /// <summary>The stage map size for the configured (H0, W0).</summary>
    public (int H, int W) StageSize(int stage) => StageSize(stage, ImageHeight, ImageWidth);

    /// <summary>Throws when the hyper-parameters cannot build a network.</summary>
    public void Validate()
    {
        if (Dims is null || Depths is null || Dims.Length != Depths.Length || Dims.Length == 0)
            throw new ArgumentException($"vHeat: dims and depths must be non-empty lists of the same length, got dims {Fmt(Dims)} and depths {Fmt(Depths)}.");
        if (Dims.Any(d => d < 2 || d % 2 != 0) || Depths.Any(d => d < 1))
            throw new ArgumentException($"vHeat: every dim must be even and at least 2 (the stem's hidden width is dims[0]/2) and every depth at least 1, got dims {Fmt(Dims)} and depths {Fmt(Depths)}.");
        if (ImageHeight < 1 || ImageWidth < 1 || NumClasses < 1 || InChans < 1 || MlpRatio <= 0 || DropPathRate is < 0 or >= 1)
            throw new ArgumentException($"vHeat: invalid image size {ImageHeight}x{ImageWidth}, num_classes {NumClasses}, in_chans {InChans}, mlp_ratio {MlpRatio} or drop_path_rate {DropPathRate}.");
    }

    private static string Fmt(int[]? v) => v is null ? "null" : "[" + string.Join(", ", v) + "]";

    /// <summary>
    /// The configuration from the reference constructor's keyword arguments as JSON (a golden file's
    /// "config"): dims (an int or a list), depths, num_classes, in_chans, post_norm, layer_scale (null or a
    /// number), mlp_ratio, drop_path_rate, img_size; <paramref name="imageHw"/> (a golden's "img_hw"), when
    /// given, is the real (H0, W0) and overrides the square img_size.
    /// </summary>
    public static VHeatConfig FromJson(JsonElement config, int[]? imageHw = null)
    {
        int[] dims = config.TryGetProperty("dims", out var d)
            ? d.ValueKind == JsonValueKind.Array ? d.EnumerateArray().Select(e => e.GetInt32()).ToArray() : Expand(d.GetInt32())
            : Expand(96);
        int[] depths = config.TryGetProperty("depths", out var dp) ? dp.EnumerateArray().Select(e => e.GetInt32()).ToArray() : [2, 2, 9, 2];
        int Int(string name, int fallback) => config.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt32() : fallback;
        double Num(string name, double fallback) => config.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : fallback;
        bool Flag(string name, bool fallback) => config.TryGetProperty(name, out var v) && v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : fallback;
        double? layerScale = config.TryGetProperty("layer_scale", out var ls) && ls.ValueKind == JsonValueKind.Number ? ls.GetDouble() : null;
        int imgSize = Int("img_size", 224);
        var hw = imageHw ?? [imgSize, imgSize];
        var c = new VHeatConfig(dims, depths, Int("num_classes", 1000), Int("in_chans", 3), Flag("post_norm", true), layerScale,
            Num("mlp_ratio", 4.0), Num("drop_path_rate", 0.2), hw[0], hw[1], Flag("infer_mode", false));
        c.Validate();
        return c;
    }
}
