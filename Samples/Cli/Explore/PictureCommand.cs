using System.CommandLine;
using Engine.Models.Explore;

namespace Engine.Samples.Cli.Explore;

/// <summary>
/// <c>engine explore picture --model NAME --out DIR</c>: the backbone's own pictures (see
/// <see cref="IBackbonePicture"/>), drawn on real images, as PNG files.
/// </summary>
internal static class PictureCommand
{
    public static Command Create()
    {
        var model = ExploreCommand.ModelOption(required: false);
        var checkpoint = new Option<string?>("--checkpoint") { Description = "A train --out directory (or checkpoint file) to draw the trained model." };
        var images = new Option<int>("--images") { Description = "Real images given to the model.", DefaultValueFactory = _ => 8 };
        var output = new Option<string>("--out") { Description = "Directory for the PNG files.", DefaultValueFactory = _ => "runs/explore" };
        var command = new Command("picture", "Draw the backbone's own pictures (what is particular to how it mixes tokens).") { model, checkpoint, images, output };
        command.SetAction(parse => ExploreCommand.Guard(() =>
        {
            string? ckpt = parse.GetValue(checkpoint);
            string name = parse.GetValue(model) ?? (ckpt is null ? null : ExploreData.ModelNameOf(ckpt))
                ?? throw new ArgumentException("explore picture: give --model (or a --checkpoint that names its model).");
            using var net = ExploreData.Model(name, checkpoint: ckpt);
            if (!BackbonePictures.Has(net))
            {
                Console.Error.WriteLine($"explore picture: '{name}' draws no pictures of its own yet (its model class does not implement {typeof(IBackbonePicture).FullName}, and {typeof(BackboneAdapters).FullName} has no adapter for it).");
                return 2;
            }
            var (x, y) = ExploreData.EvalImages(parse.GetValue(images));
            using (x)
            using (y)
            {
                var request = new PictureRequest(x, y, FeatureStageFinder.Find(net, ExploreData.InputShape));
                foreach (var path in BackbonePictures.Write(net, request, parse.GetValue(output)!))
                    Console.WriteLine($"wrote {path}");
            }
            return 0;
        }));
        return command;
    }
}
