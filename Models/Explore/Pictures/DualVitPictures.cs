using Engine.Autograd;
using Engine.Models.Backbones.DualVit;
using Engine.Models.Data;
using Engine.Models.Nn;
using Engine.Ops;

namespace Engine.Models.Explore;

/// <summary>
/// The cross-attention of a Dual block's semantic tokens over the pixel tokens, for a batch of images.
/// <see cref="Probabilities"/> is (N, heads, M, H·W) row-major: for each image, head and semantic token, a
/// probability distribution over the H x W grid of pixel tokens (each row sums to 1).
/// </summary>
/// <param name="Images">N.</param>
/// <param name="Heads">Attention heads.</param>
/// <param name="Tokens">M, the number of semantic tokens.</param>
/// <param name="GridHeight">H of the pixel-token grid.</param>
/// <param name="GridWidth">W of the pixel-token grid.</param>
/// <param name="Probabilities">softmax(q kᵀ / √d) over the pixel tokens.</param>
public sealed record SemanticAttention(int Images, int Heads, int Tokens, int GridHeight, int GridWidth, double[] Probabilities)
{
    /// <summary>The map of one semantic token over the grid, row-major (H·W values).</summary>
    public ReadOnlySpan<double> Map(int image, int head, int token) =>
        Probabilities.AsSpan((((image * Heads) + head) * Tokens + token) * GridHeight * GridWidth, GridHeight * GridWidth);

    /// <summary>
    /// How peaked the attention is: the largest probability of each row times the number of pixel tokens,
    /// averaged over all rows; 1 for uniform attention, H·W when every token looks at a single position.
    /// </summary>
    public double Peak()
    {
        int n = GridHeight * GridWidth, rows = Probabilities.Length / n;
        double sum = 0;
        for (int r = 0; r < rows; r++) sum += Probabilities.AsSpan(r * n, n).ToArray().Max() * n;
        return sum / rows;
    }
}

/// <summary>
/// Dual-ViT for the explore tools, through forward hooks and public members only: its feature stages are the
/// pixel tokens after each stage's norm (token sequences on a grid), and its picture is the attention of the
/// semantic tokens over the image in every Dual block (stages 1 and 2), recomputed from the block's
/// <c>q_proxy</c> and <c>kv_proxy</c> projections exactly as the block's cross-attention computes it.
/// </summary>
public sealed class DualVitPictures(DualVit model, ImageShape? input = null) : IBackbonePicture, IFeatureStages
{
    private readonly ImageShape _input = input ?? ExploreData.InputShape;

    /// <inheritdoc/>
    public IReadOnlyList<FeatureStage> FeatureStages =>
        Enumerable.Range(1, 3).Select(i => (Stage: i, Grid: Grid(_input, i)))
            .Where(s => s.Grid.Height * s.Grid.Width > 1)
            .Select(s => new FeatureStage($"norm{s.Stage}", ChannelsLast: true) { TokenGrid = s.Grid }).ToList();

    /// <summary>The pixel-token grid of stage <paramref name="stage"/> (1-4): the stem halves twice, each later patch embedding once (3x3 convs, stride 2, padding 1).</summary>
    public static (int Height, int Width) Grid(ImageShape input, int stage)
    {
        int h = input.Height, w = input.Width;
        for (int i = 0; i < stage + 1; i++) (h, w) = ((h + 1) / 2, (w + 1) / 2);
        return (h, w);
    }

    /// <summary>
    /// The attention of block <paramref name="block"/> (0-based) of Dual stage <paramref name="stage"/> (1 or 2)
    /// on <paramref name="images"/> (N, C, H, W), in the model's current mode, without recording.
    /// </summary>
    public static SemanticAttention Attention(DualVit model, Tensor images, int stage, int block)
    {
        if (stage is not (1 or 2)) throw new ArgumentOutOfRangeException(nameof(stage), $"DualVitPictures: Dual blocks are in stages 1 and 2, got {stage}.");
        if ((uint)block >= (uint)model.Config.Depths[stage - 1])
            throw new ArgumentOutOfRangeException(nameof(block), $"DualVitPictures: stage {stage} has {model.Config.Depths[stage - 1]} blocks, got block {block}.");
        string attn = $"block{stage}.{block}.attn";
        var modules = model.NamedModules().ToDictionary(m => m.Name, m => m.Module);
        var queryProjection = (Module<Tensor, Tensor>)modules[attn + ".q_proxy"];
        var keyValueProjection = (Module<Tensor, Tensor>)modules[attn + ".kv_proxy"];
        var gridConv = (Module<Tensor, Tensor>)modules[$"patch_embed{stage}.proj"];
        int heads = model.Config.NumHeads[stage - 1];

        using var scope = Tensor.Scope();
        using var noGrad = Tape.NoGrad();
        Tensor? q = null, kv = null;
        (int H, int W) grid = default;
        using (queryProjection.RegisterForwardHook((_, _, o) => q = o))
        using (keyValueProjection.RegisterForwardHook((_, _, o) => kv = o))
        using (gridConv.RegisterForwardHook((_, _, o) => grid = (o.Shape[2], o.Shape[3])))
            model.Call(images.ToDType(FeatureStageFinder.ModelDType(model)));
        if (q is null || kv is null) throw new InvalidOperationException($"DualVitPictures: {attn} did not run.");

        int n = q.Shape[0], m = q.Shape[1], c = q.Shape[2], d = c / heads, tokens = kv.Shape[1];
        var qh = q.ToDType(DType.F64).Reshape(n, m, heads, d).Permute(0, 2, 1, 3);
        var kh = kv.ToDType(DType.F64).Narrow(-1, 0, c).Reshape(n, tokens, heads, d).Permute(0, 2, 1, 3);
        var probabilities = Functional.Softmax(qh.MatMul(kh.Transpose(-1, -2)) * (1 / Math.Sqrt(d)), -1);
        return new SemanticAttention(n, heads, m, grid.H, grid.W, probabilities.Contiguous().ToArray<double>());
    }

    /// <inheritdoc/>
    public IReadOnlyList<BackbonePicture> DrawPictures(PictureRequest request)
    {
        var pictures = new List<BackbonePicture>();
        int shown = Math.Min(2, request.Images.Shape[0]);
        using var few = Tensor.Scope();
        var images = request.Images.Narrow(0, 0, shown);
        for (int stage = 1; stage <= 2; stage++)
            for (int block = 0; block < model.Config.Depths[stage - 1]; block++)
            {
                var a = Attention(model, images, stage, block);
                int cell = Math.Max(1, request.Images.Shape[2] / a.GridHeight);
                var rows = new List<IReadOnlyList<RgbImage>>();
                for (int i = 0; i < a.Images; i++)
                    for (int h = 0; h < a.Heads; h++)
                    {
                        var row = new List<RgbImage> { PicturePanels.Grey(images, i) };
                        for (int t = 0; t < a.Tokens; t++) row.Add(PicturePanels.Map(a.Map(i, h, t), a.GridHeight, a.GridWidth, cell, stretch: true));
                        rows.Add(row);
                    }
                pictures.Add(new BackbonePicture($"semantic-attention-stage{stage}-block{block}",
                    $"Stage {stage}, block {block}: each semantic token's attention over the {a.GridHeight}x{a.GridWidth} pixel tokens; a row per image and head (the image first), a panel per token, each stretched from its own minimum (dark) to its maximum (light).",
                    PicturePanels.Grid(rows)));
            }
        return pictures;
    }
}
