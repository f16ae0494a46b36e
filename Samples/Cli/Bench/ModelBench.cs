using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Engine.Autograd;
using Engine.Models.Data;
using Engine.Models.Training;
using Engine.Models.Zoo;
using Engine.Ops;
using Spectre.Console;

namespace Engine.Samples.Cli.Bench;

/// <summary>
/// <c>engine bench model</c>: images per second of one model's training step (forward, cross-entropy,
/// backward, AdamW) and of inference, on random 3x32x32 inputs, beside the PyTorch twin of the same model
/// measured in the same run (<c>--torch</c>, through <c>Samples/bench/model_torch.py</c>).
/// </summary>
internal static class ModelBench
{
    /// <summary>The median seconds per train step and per inference batch.</summary>
    private sealed record Timing(double TrainSeconds, double InferSeconds, long Parameters);

    public static Command CreateCommand()
    {
        var model = new Option<string>("--model") { Description = "Model name (see `train --model`).", DefaultValueFactory = _ => "cnn" };
        var batch = new Option<int>("--batch") { Description = "Batch size.", DefaultValueFactory = _ => 64 };
        var threads = new Option<int>("--threads") { Description = "Threads for the engine (and for PyTorch).", DefaultValueFactory = _ => Environment.ProcessorCount };
        var steps = new Option<int>("--steps") { Description = "Timed steps (after 2 warm-up steps); the median is reported.", DefaultValueFactory = _ => 10 };
        var size = new Option<int>("--size") { Description = "Input height and width.", DefaultValueFactory = _ => 32 };
        var torch = new Option<bool>("--torch") { Description = "Also time the PyTorch twin (Samples/bench/model_torch.py) in this run." };
        var command = new Command("model", "Train-step and inference images per second of a model, beside its PyTorch twin.") { model, batch, threads, steps, size, torch };
        command.SetAction(parse =>
        {
            var (name, b, t, n, s) = (parse.GetValue(model)!, parse.GetValue(batch), parse.GetValue(threads), parse.GetValue(steps), parse.GetValue(size));
            if (b < 1 || n < 1 || t < 1) throw new ArgumentException($"bench model: --batch, --steps and --threads must be positive (got {b}, {n}, {t}).");
            Engine.Cpu.CpuParallel.ThreadCount = t;
            var engine = TimeEngine(name, b, n, s);
            string? note = null;
            var twin = parse.GetValue(torch) ? TimeTorch(name, b, t, n, s, out note) : null;
            Print(name, b, t, s, engine, twin, note);
            return 0;
        });
        return command;
    }

    private static Timing TimeEngine(string name, int batch, int steps, int size)
    {
        var generator = new Engine.Randomness.Generator(0);
        using var model = ModelZoo.Create(name, new ImageShape(3, size, size), 10, generator);
        using var optimizer = Trainer.CreateOptimizer(model, new TrainOptions());
        using var images = Tensor.Randn([batch, 3, size, size], DType.F32, Device.Cpu, generator);
        using var labels = Tensor.RandInt(0, 10, [batch], DType.I64, Device.Cpu, generator);

        model.Train();
        var train = Median(steps, () =>
        {
            using var scope = Tensor.Scope();
            var loss = Functional.CrossEntropy(model.Call(images), labels, labelSmoothing: 0.1);
            loss.Backward();
            optimizer.Step();
            optimizer.ZeroGrad(setToNone: true);
        });
        model.Eval();
        var infer = Median(steps, () =>
        {
            using var scope = Tensor.Scope();
            using var noGrad = Tape.NoGrad();
            model.Call(images);
        });
        return new Timing(train, infer, model.ParameterCount());
    }

    /// <summary>Runs <paramref name="body"/> twice to warm up, then <paramref name="steps"/> times; the median seconds.</summary>
    private static double Median(int steps, Action body)
    {
        for (int i = 0; i < 2; i++) body();
        var times = new double[steps];
        for (int i = 0; i < steps; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            body();
            times[i] = Stopwatch.GetElapsedTime(t0).TotalSeconds;
        }
        Array.Sort(times);
        return times[steps / 2];
    }

    private static Timing? TimeTorch(string name, int batch, int threads, int steps, int size, out string? note)
    {
        using var doc = TorchTwin.Run("model_torch.py", ["--model", name, "--batch", Str(batch), "--threads", Str(threads), "--steps", Str(steps), "--size", Str(size)], out var why);
        note = doc is null ? "PyTorch twin " + why : null;
        if (doc is null) return null;
        var root = doc.RootElement;
        return new Timing(root.GetProperty("train_s").GetDouble(), root.GetProperty("infer_s").GetDouble(), root.GetProperty("params").GetInt64());
    }

    private static string Str(int v) => v.ToString(CultureInfo.InvariantCulture);

    private static void Print(string name, int batch, int threads, int size, Timing engine, Timing? torch, string? note)
    {
        AnsiConsole.MarkupLine($"bench model [bold]{Markup.Escape(name)}[/]: batch {batch}, {size}x{size}, {threads} threads, median of the timed steps");
        var table = new Table().AddColumns("", "parameters", "train step img/s", "inference img/s");
        table.AddRow("engine", engine.Parameters.ToString("N0", CultureInfo.InvariantCulture), Rate(batch, engine.TrainSeconds), Rate(batch, engine.InferSeconds));
        if (torch is not null)
        {
            table.AddRow("pytorch", torch.Parameters.ToString("N0", CultureInfo.InvariantCulture), Rate(batch, torch.TrainSeconds), Rate(batch, torch.InferSeconds));
            table.AddRow("engine / pytorch", "", Ratio(torch.TrainSeconds / engine.TrainSeconds), Ratio(torch.InferSeconds / engine.InferSeconds));
        }
        AnsiConsole.Write(table);
        if (note is not null) AnsiConsole.MarkupLine($"[yellow]{Markup.Escape(note)}[/]");
        // One machine-readable line for scripts.
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            model = name, batch, threads, size, parameters = engine.Parameters,
            engine_train_img_s = batch / engine.TrainSeconds, engine_infer_img_s = batch / engine.InferSeconds,
            torch_train_img_s = torch is null ? (double?)null : batch / torch.TrainSeconds,
            torch_infer_img_s = torch is null ? (double?)null : batch / torch.InferSeconds,
        }));
    }

    private static string Rate(int batch, double seconds) => (batch / seconds).ToString("0.0", CultureInfo.InvariantCulture);

    private static string Ratio(double r) => r.ToString("0.00", CultureInfo.InvariantCulture) + "x";
}
