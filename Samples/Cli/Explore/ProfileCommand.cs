using System.CommandLine;
using Engine.Models.Explore;
using Engine.Samples.Cli.Charts;
using Spectre.Console;

namespace Engine.Samples.Cli.Explore;

/// <summary>
/// <c>engine explore profile --model NAME [--device cpu|cuda] --out DIR</c>: time and memory per operator over
/// one training step on the CPU or a CUDA device (device times from CUDA events, read after one wait at the
/// end), and the memory timeline (allocated, cached, peak after every op) as CSV and as a chart (PNG and SVG, ScottPlot).
/// </summary>
internal static class ProfileCommand
{
    public static Command Create()
    {
        var model = ExploreCommand.ModelOption();
        var batch = new Option<int>("--batch") { Description = "Images in the step.", DefaultValueFactory = _ => 64 };
        var output = new Option<string>("--out") { Description = "Directory for profile.txt, memory.png, memory.svg and memory.csv.", DefaultValueFactory = _ => "runs/explore" };
        var warmup = new Option<int>("--warmup") { Description = "Untraced steps first (optimizer state, allocator cache, JIT, kernel compilation).", DefaultValueFactory = _ => 3 };
        var device = ExploreCommand.DeviceOption();
        var threads = ExploreCommand.ThreadsOption();
        var command = new Command("profile", "Time and memory per operator over one training step (CPU or CUDA); the memory timeline as an image.") { model, batch, output, warmup, device, threads };
        command.SetAction(parse => ExploreCommand.Guard(() =>
        {
            ExploreCommand.ApplyThreads(parse.GetValue(threads));
            string name = parse.GetValue(model)!, dir = parse.GetValue(output)!;
            var (where, described) = ExploreCommand.ResolveDevice("explore profile", parse.GetValue(device)!);
            int n = parse.GetValue(batch);
            using var net = ExploreData.Model(name);
            using var trace = ExploreStep.Run(net, n, where, parse.GetValue(warmup));
            var table = trace.Profile.FormatByOp();
            string memory = where.Type == DeviceType.Cpu ? "CPU memory" : $"{where} memory";
            AnsiConsole.MarkupLine($"[bold]{Markup.Escape(name)}[/], batch {n}: one AdamW training step after {parse.GetValue(warmup)} untraced steps");
            // Not through Spectre, which wraps at 80 columns when the output is not a terminal.
            Console.WriteLine($"device: {described}");
            Console.Write(table);
            Directory.CreateDirectory(dir);
            File.WriteAllText(Path.Combine(dir, "profile.txt"), $"{name}, batch {n}, device: {described}\n{table}");
            MemoryChart.Write(dir, trace.Profile.Events, $"{name}: {memory} over one training step (batch {n})");
            File.WriteAllText(Path.Combine(dir, "memory.csv"), MemoryTimeline.ToCsv(trace.Profile.Events));
            Console.WriteLine($"wrote profile.txt, memory.png, memory.svg and memory.csv to {dir}");
            return 0;
        }));
        return command;
    }
}

/// <summary>The traced training step of the explore commands: the embedded images, the model and the step on one device.</summary>
internal static class ExploreStep
{
    /// <summary>Moves <paramref name="net"/> to <paramref name="device"/> and traces one step on <paramref name="batch"/> embedded test images there.</summary>
    public static TrainingStepTrace Run(Engine.Models.Nn.Module<Tensor, Tensor> net, int batch, Device device, int warmup)
    {
        var (images, labels) = ExploreData.EvalImages(batch);
        using (images)
        using (labels)
        {
            if (device.Type == DeviceType.Cpu) return TrainingStepTrace.Run(net, images, labels, warmup);
            net.ToDevice(device);
            using var x = images.ToDevice(device);
            using var y = labels.ToDevice(device);
            return TrainingStepTrace.Run(net, x, y, warmup);
        }
    }
}
