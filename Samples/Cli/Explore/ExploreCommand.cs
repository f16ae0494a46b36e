using System.CommandLine;
using Engine.Models.Zoo;

namespace Engine.Samples.Cli.Explore;

/// <summary>The <c>engine explore</c> command group: the tape, the profiler, receptive fields, stages and pictures.</summary>
internal static class ExploreCommand
{
    public static Command Create()
    {
        var explore = new Command("explore", "Look inside a model: its tape, time and memory per operator, receptive fields, its own pictures.");
        explore.Add(TapeCommand.Create());
        explore.Add(ProfileCommand.Create());
        explore.Add(StagesCommand.Create());
        explore.Add(ErfCommand.Create());
        explore.Add(PictureCommand.Create());
        return explore;
    }

    /// <summary>The <c>--model</c> option every explore command takes.</summary>
    public static Option<string> ModelOption(bool required = true)
    {
        var option = new Option<string>("--model") { Description = $"Model from the zoo: {string.Join(", ", ModelZoo.Names)}.", Required = required };
        return option;
    }

    /// <summary>The <c>--threads</c> option.</summary>
    public static Option<int?> ThreadsOption() => new("--threads") { Description = "CPU threads (default: all cores)." };

    /// <summary>Runs a command's body; a bad argument, a missing file or an unknown model or stage is one line on stderr and exit code 2, not a stack trace.</summary>
    public static int Guard(Func<int> body)
    {
        try
        {
            return body();
        }
        catch (Exception e) when (e is IOException or InvalidDataException or NotSupportedException or ArgumentException or InvalidOperationException)
        {
            Console.Error.WriteLine(e.Message);
            return 2;
        }
    }

    /// <summary>Applies <c>--threads</c>.</summary>
    public static void ApplyThreads(int? threads)
    {
        if (threads is { } t) Engine.Cpu.CpuParallel.ThreadCount = t;
    }
}
