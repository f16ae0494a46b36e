using System.CommandLine;
using Engine.Models.Explore;
using Spectre.Console;

namespace Engine.Samples.Cli.Explore;

/// <summary>
/// <c>engine explore profile --model NAME --out DIR</c>: time and memory per operator over one training step
/// on the CPU, and the memory timeline (allocated, cached, peak) as SVG and CSV.
/// </summary>
internal static class ProfileCommand
{
    public static Command Create()
    {
        var model = ExploreCommand.ModelOption();
        var batch = new Option<int>("--batch") { Description = "Images in the step.", DefaultValueFactory = _ => 64 };
        var output = new Option<string>("--out") { Description = "Directory for profile.txt, memory.svg and memory.csv.", DefaultValueFactory = _ => "runs/explore" };
        var warmup = new Option<int>("--warmup") { Description = "Untraced steps first (optimizer state, allocator cache, JIT).", DefaultValueFactory = _ => 3 };
        var threads = ExploreCommand.ThreadsOption();
        var command = new Command("profile", "Time and memory per operator on the CPU over one training step; the memory timeline as an image.") { model, batch, output, warmup, threads };
        command.SetAction(parse => ExploreCommand.Guard(() =>
        {
            ExploreCommand.ApplyThreads(parse.GetValue(threads));
            string name = parse.GetValue(model)!, dir = parse.GetValue(output)!;
            int n = parse.GetValue(batch);
            var (images, labels) = ExploreData.EvalImages(n);
            using var net = ExploreData.Model(name);
            using var trace = TrainingStepTrace.Run(net, images, labels, parse.GetValue(warmup));
            images.Dispose();
            labels.Dispose();
            var table = trace.Profile.FormatByOp();
            AnsiConsole.MarkupLine($"[bold]{Markup.Escape(name)}[/], batch {n}, {Engine.Cpu.CpuParallel.ThreadCount} threads: one AdamW training step after {parse.GetValue(warmup)} untraced steps");
            Console.Write(table);
            Directory.CreateDirectory(dir);
            File.WriteAllText(Path.Combine(dir, "profile.txt"), table);
            MemoryTimeline.WriteSvg(Path.Combine(dir, "memory.svg"), trace.Profile.Events, $"{name}: CPU memory over one training step (batch {n})");
            File.WriteAllText(Path.Combine(dir, "memory.csv"), MemoryTimeline.ToCsv(trace.Profile.Events));
            Console.WriteLine($"wrote profile.txt, memory.svg and memory.csv to {dir}");
            return 0;
        }));
        return command;
    }
}
