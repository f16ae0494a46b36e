using System.CommandLine;
using Engine.Models.Explore;

namespace Engine.Samples.Cli.Explore;

/// <summary>
/// <c>engine explore erf --model NAME [--checkpoint DIR] [--stage NAME|all] [--device cpu|cuda] --out DIR</c>:
/// effective receptive fields on real images, at initialisation and after training, as PNG heat maps and erf.json.
/// </summary>
internal static class ErfCommand
{
    public static Command Create()
    {
        var model = ExploreCommand.ModelOption(required: false);
        var checkpoint = new Option<string?>("--checkpoint") { Description = "A train --out directory (or checkpoint file): also draw the trained model's fields." };
        var stage = new Option<string?>("--stage") { Description = "Module path of the stage (see explore stages), or all; default: the last feature stage before pooling." };
        var images = new Option<int>("--images") { Description = "Test images to average over.", DefaultValueFactory = _ => 64 };
        var scale = new Option<string>("--scale") { Description = "linear or log (four decades).", DefaultValueFactory = _ => "linear" };
        scale.AcceptOnlyFromAmong("linear", "log");
        var seed = new Option<ulong>("--seed") { Description = "Seed of the initialisation.", DefaultValueFactory = _ => 0 };
        var output = new Option<string>("--out") { Description = "Directory for the PNG files and erf.json.", DefaultValueFactory = _ => "runs/explore" };
        var device = ExploreCommand.DeviceOption("cpu, cuda or cuda:N: where the forward and backward passes run.");
        var threads = ExploreCommand.ThreadsOption();
        var command = new Command("erf", "Effective receptive fields of a model's stages, at initialisation and after training.")
        { model, checkpoint, stage, images, scale, seed, output, device, threads };
        command.SetAction(parse => ExploreCommand.Guard(() =>
        {
            ExploreCommand.ApplyThreads(parse.GetValue(threads));
            string? ckpt = parse.GetValue(checkpoint);
            string name = parse.GetValue(model) ?? (ckpt is null ? null : ExploreData.ModelNameOf(ckpt))
                ?? throw new ArgumentException("explore erf: give --model (or a --checkpoint that names its model).");
            var (where, described) = ExploreCommand.ResolveDevice("explore erf", parse.GetValue(device)!, timed: false);
            if (where.Type != DeviceType.Cpu) Console.WriteLine($"device: {described}");
            var results = ErfReport.Run(name, ckpt, parse.GetValue(stage), parse.GetValue(images), parse.GetValue(output)!,
                parse.GetValue(scale) == "log" ? HeatmapScale.Log : HeatmapScale.Linear, parse.GetValue(seed), device: where);
            Console.Write(ErfReport.Format(results));
            foreach (var r in results) Console.WriteLine($"wrote {r.PngPath}");
            return 0;
        }));
        return command;
    }
}
