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

    /// <summary>Applies <c>--threads</c>.</summary>
    public static void ApplyThreads(int? threads)
    {
        if (threads is { } t) Engine.Cpu.CpuParallel.ThreadCount = t;
    }
}
