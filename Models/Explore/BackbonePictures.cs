using Engine.Models.Nn;

namespace Engine.Models.Explore;

/// <summary>One image a backbone draws of itself, with a line saying what it shows.</summary>
/// <param name="Name">File-name friendly name ("heat-kernel-stage2").</param>
/// <param name="Description">What the picture shows, in one sentence.</param>
/// <param name="Image">The picture.</param>
public sealed record BackbonePicture(string Name, string Description, RgbImage Image);

/// <summary>What a backbone gets to draw its pictures from.</summary>
/// <param name="Images">Real images through the recipe's evaluation transform, (N, 3, 32, 32).</param>
/// <param name="Labels">Their labels, (N).</param>
/// <param name="Stages">The model's feature stages, input to output.</param>
public sealed record PictureRequest(Tensor Images, Tensor Labels, IReadOnlyList<FeatureStage> Stages);

/// <summary>
/// A backbone's own pictures: what is particular to how it mixes tokens (a heat-conduction kernel, a learned
/// frequency filter, recurrent hidden states, attention maps), drawn with <see cref="Heatmap"/> into
/// <see cref="RgbImage"/>s. <c>engine explore picture --model NAME</c> writes them as PNG files.
/// </summary>
public interface IBackbonePicture
{
    /// <summary>Draws the pictures; the model is in evaluation mode and recording is off.</summary>
    IReadOnlyList<BackbonePicture> DrawPictures(PictureRequest request);
}

/// <summary>Runs a model's <see cref="IBackbonePicture"/> and writes the results.</summary>
public static class BackbonePictures
{
    /// <summary>True when <paramref name="model"/> draws pictures of its own.</summary>
    public static bool Has(Module model) => model is IBackbonePicture;

    /// <summary>
    /// The pictures of <paramref name="model"/>, drawn in evaluation mode with recording off, each written to
    /// <paramref name="outDirectory"/> as NAME.png; returns the paths. A model without pictures is an error that says how to add them.
    /// </summary>
    public static IReadOnlyList<string> Write(Module<Tensor, Tensor> model, PictureRequest request, string outDirectory)
    {
        if (model is not IBackbonePicture drawer)
            throw new NotSupportedException($"explore picture: {model.GetType().Name} draws no pictures of its own yet; implement {typeof(IBackbonePicture).FullName} on the model.");
        bool training = model.Training;
        model.Eval();
        try
        {
            using var noGrad = Autograd.Tape.NoGrad();
            Directory.CreateDirectory(outDirectory);
            var paths = new List<string>();
            foreach (var picture in drawer.DrawPictures(request))
            {
                if (picture.Name.Length == 0 || picture.Name.IndexOfAny([.. Path.GetInvalidFileNameChars(), '/', '\\']) >= 0)
                    throw new InvalidOperationException($"explore picture: '{picture.Name}' is not a usable file name.");
                string path = Path.Combine(outDirectory, picture.Name + ".png");
                picture.Image.SavePng(path);
                paths.Add(path);
            }
            return paths;
        }
        finally
        {
            model.Train(training);
        }
    }
}
