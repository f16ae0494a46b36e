using Engine.Autograd;
using Engine.Models.Backbones.Sequencer;
using Engine.Models.Nn;

namespace Engine.Models.Explore;

/// <summary>The four directions a BiLSTM2D reads its map in.</summary>
public enum LstmDirection
{
    /// <summary>The vertical LSTM's forward direction: down each column, from the top row.</summary>
    Down,

    /// <summary>The vertical LSTM's backward direction: up each column, from the bottom row.</summary>
    Up,

    /// <summary>The horizontal LSTM's forward direction: along each row, from the left.</summary>
    Right,

    /// <summary>The horizontal LSTM's backward direction: along each row, from the right.</summary>
    Left,
}

/// <summary>
/// The hidden states of one BiLSTM2D for a batch of images. <see cref="Vertical"/> and <see cref="Horizontal"/>
/// are (N, H, W, 2D) row-major, as the layer concatenates them before its <c>fc</c>: at every position the
/// forward direction's D values, then the backward direction's.
/// </summary>
/// <param name="Images">N.</param>
/// <param name="Height">H of the map.</param>
/// <param name="Width">W of the map.</param>
/// <param name="Hidden">D, the hidden size of one direction.</param>
/// <param name="Vertical">The vertical LSTM's outputs (each column a sequence).</param>
/// <param name="Horizontal">The horizontal LSTM's outputs (each row a sequence).</param>
public sealed record LstmStates(int Images, int Height, int Width, int Hidden, double[] Vertical, double[] Horizontal)
{
    /// <summary>The Euclidean norm of the D hidden values of one direction at every position, (H·W) row-major.</summary>
    public double[] Magnitude(int image, LstmDirection direction)
    {
        var source = direction is LstmDirection.Down or LstmDirection.Up ? Vertical : Horizontal;
        int offset = direction is LstmDirection.Down or LstmDirection.Right ? 0 : Hidden;
        var result = new double[Height * Width];
        for (int p = 0; p < result.Length; p++)
        {
            var h = source.AsSpan(((image * Height * Width) + p) * 2 * Hidden + offset, Hidden);
            double sum = 0;
            foreach (var v in h) sum += v * v;
            result[p] = Math.Sqrt(sum);
        }
        return result;
    }
}

/// <summary>
/// Sequencer2D for the explore tools, through forward hooks and public members only: its feature stages are
/// the last block of each stage, and its picture is the hidden-state magnitude of every BiLSTM2D's four
/// directions, the layer's LSTMs run again on the hooked input.
/// </summary>
public sealed class SequencerPictures(Sequencer2d model) : IBackbonePicture, IFeatureStages
{
    /// <inheritdoc/>
    public IReadOnlyList<FeatureStage> FeatureStages =>
        Enumerable.Range(0, 4).Select(i => new FeatureStage($"blocks.{i}.{model.Config.Layers[i] - 1}", ChannelsLast: true)).ToList();

    /// <summary>Paths of the BiLSTM2D token mixers, input to output ("blocks.0.0.rnn_tokens", ...).</summary>
    public IReadOnlyList<string> Mixers => model.NamedModules().Where(m => m.Module is BiLstm2d).Select(m => m.Name).ToList();

    /// <summary>The hidden states of the BiLSTM2D at <paramref name="path"/> on <paramref name="images"/> (N, C, H, W), without recording.</summary>
    public static LstmStates States(Sequencer2d model, Tensor images, string path)
    {
        var modules = model.NamedModules().ToDictionary(m => m.Name, m => m.Module);
        if (!modules.TryGetValue(path, out var found) || found is not BiLstm2d mixer)
            throw new ArgumentException($"SequencerPictures: no BiLSTM2D at '{path}'.", nameof(path));
        var vertical = modules.GetValueOrDefault(path + ".rnn_v") as Lstm;
        var horizontal = modules.GetValueOrDefault(path + ".rnn_h") as Lstm;
        if (vertical is null || horizontal is null || !vertical.Bidirectional || !horizontal.Bidirectional)
            throw new NotSupportedException($"SequencerPictures: '{path}' is not a bidirectional BiLSTM2D with both LSTMs (union 'cat' or 'add').");
        using var scope = Tensor.Scope();
        using var noGrad = Tape.NoGrad();
        LstmStates? states = null;
        // Computed inside the hook: the block disposes the mixer's input as soon as the mixer returns.
        using (mixer.RegisterForwardHook((_, input, _) => states = Run(vertical, horizontal, input)))
            model.Call(images.ToDType(FeatureStageFinder.ModelDType(model)));
        return states ?? throw new InvalidOperationException($"SequencerPictures: '{path}' did not run.");
    }

    /// <summary>The layer's own reading of <paramref name="x"/> (B, H, W, C): every column a sequence of H tokens, every row a sequence of W tokens.</summary>
    private static LstmStates Run(Lstm vertical, Lstm horizontal, Tensor x)
    {
        using var scope = Tensor.Scope();
        int b = x.Shape[0], h = x.Shape[1], w = x.Shape[2], c = x.Shape[3];
        var columns = vertical.Call(x.Permute(0, 2, 1, 3).Reshape(b * w, h, c));
        var v = columns.Reshape(b, w, h, columns.Shape[^1]).Permute(0, 2, 1, 3);
        var rows = horizontal.Call(x.Reshape(b * h, w, c));
        var hz = rows.Reshape(b, h, w, rows.Shape[^1]);
        return new LstmStates(b, h, w, vertical.HiddenSize,
            v.ToDType(DType.F64).Contiguous().ToArray<double>(), hz.ToDType(DType.F64).Contiguous().ToArray<double>());
    }

    /// <inheritdoc/>
    public IReadOnlyList<BackbonePicture> DrawPictures(PictureRequest request)
    {
        int shown = Math.Min(2, request.Images.Shape[0]);
        using var few = Tensor.Scope();
        var images = request.Images.Narrow(0, 0, shown);
        var pictures = new List<BackbonePicture>();
        foreach (var stage in Mixers.GroupBy(p => p.Split('.')[1]))
        {
            var rows = new List<IReadOnlyList<RgbImage>>();
            int height = 0, width = 0;
            foreach (var path in stage)
            {
                var states = States(model, images, path);
                (height, width) = (states.Height, states.Width);
                int cell = Math.Max(1, 2 * request.Images.Shape[2] / states.Height);
                for (int i = 0; i < states.Images; i++)
                {
                    var maps = Enum.GetValues<LstmDirection>().Select(d => states.Magnitude(i, d)).ToList();
                    double max = maps.Max(m => m.Max());
                    var row = new List<RgbImage> { PicturePanels.Grey(images, i, scale: 2) };
                    row.AddRange(maps.Select(m => PicturePanels.MapInRange(m, states.Height, states.Width, cell, 0, max)));
                    rows.Add(row);
                }
            }
            pictures.Add(new BackbonePicture($"lstm-states-stage{int.Parse(stage.Key, System.Globalization.CultureInfo.InvariantCulture) + 1}",
                $"Stage {int.Parse(stage.Key, System.Globalization.CultureInfo.InvariantCulture) + 1} ({height}x{width}): |h| of each BiLSTM2D direction at every position (down, up, right, left), a row per block and image (the image first), one colour scale per row (0 dark).",
                PicturePanels.Grid(rows)));
        }
        return pictures;
    }
}
