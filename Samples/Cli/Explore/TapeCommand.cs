using System.CommandLine;
using Engine.Models.Explore;
using Spectre.Console;

namespace Engine.Samples.Cli.Explore;

/// <summary>
/// <c>engine explore tape --model NAME [--device cpu|cuda]</c>: the tape of one training step on real images: the
/// table (op, shapes, saved bytes, forward and backward time: on a GPU the device's, from CUDA events), the
/// summary by op kind, and a Graphviz DOT file.
/// </summary>
internal static class TapeCommand
{
    public static Command Create()
    {
        var model = ExploreCommand.ModelOption();
        var batch = new Option<int>("--batch") { Description = "Images in the step.", DefaultValueFactory = _ => 8 };
        var output = new Option<string?>("--out") { Description = "Directory for tape.txt, tape-summary.txt and tape.dot." };
        var summaryOnly = new Option<bool>("--summary") { Description = "Print only the summary by op kind." };
        var warmup = new Option<int>("--warmup") { Description = "Untraced steps first (optimizer state, allocator cache, JIT).", DefaultValueFactory = _ => 3 };
        var device = ExploreCommand.DeviceOption();
        var threads = ExploreCommand.ThreadsOption();
        var command = new Command("tape", "Show the tape of one training step (CPU or CUDA): table, summary by op kind, DOT graph.") { model, batch, output, summaryOnly, warmup, device, threads };
        command.SetAction(parse => ExploreCommand.Guard(() =>
        {
            ExploreCommand.ApplyThreads(parse.GetValue(threads));
            string name = parse.GetValue(model)!;
            var (where, described) = ExploreCommand.ResolveDevice("explore tape", parse.GetValue(device)!);
            using var net = ExploreData.Model(name);
            using var trace = ExploreStep.Run(net, parse.GetValue(batch), where, parse.GetValue(warmup));
            AnsiConsole.MarkupLine($"[bold]{Markup.Escape(name)}[/]: {trace.Nodes.Count} tape nodes, loss {trace.LossValue:0.0000}");
            Console.WriteLine($"device: {described}");
            if (!parse.GetValue(summaryOnly)) Console.Write(trace.Table);
            Console.WriteLine();
            Console.Write(trace.Summary);
            if (parse.GetValue(output) is { } dir)
            {
                Directory.CreateDirectory(dir);
                File.WriteAllText(Path.Combine(dir, "tape.txt"), trace.Table);
                File.WriteAllText(Path.Combine(dir, "tape-summary.txt"), trace.Summary);
                File.WriteAllText(Path.Combine(dir, "tape.dot"), trace.Dot);
                Console.WriteLine($"wrote tape.txt, tape-summary.txt and tape.dot to {dir} (render with: dot -Tsvg tape.dot -o tape.svg)");
            }
            return 0;
        }));
        return command;
    }
}
