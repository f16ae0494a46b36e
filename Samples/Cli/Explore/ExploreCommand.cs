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

    /// <summary>The <c>--device</c> option of the commands that run the model: cpu, cuda or cuda:N.</summary>
    public static Option<string> DeviceOption(string description = "cpu, cuda or cuda:N: where the step runs and is timed (CUDA events on a GPU).")
    {
        var option = new Option<string>("--device") { Description = description, DefaultValueFactory = _ => "cpu" };
        option.Validators.Add(result =>
        {
            var text = result.GetValueOrDefault<string>() ?? "";
            if (!System.Text.RegularExpressions.Regex.IsMatch(text, "^(cpu|cuda(:[0-9]+)?)$"))
                result.AddError($"--device must be cpu, cuda or cuda:N, not '{text}'.");
        });
        return option;
    }

    /// <summary>
    /// The device <paramref name="text"/> names and the line that says what it is: the GPU's name, and on the
    /// CUDA emulator that the times are the CPU's emulation times, not a GPU's. A CUDA device that is not there
    /// is a <see cref="NotSupportedException"/> or <see cref="ArgumentException"/> saying why (exit code 2).
    /// <paramref name="timed"/>: the command reports times, so the line says what they are.
    /// </summary>
    public static (Device Device, string Description) ResolveDevice(string command, string text, bool timed = true)
    {
        Device device;
        try { device = Engine.Backends.Devices.Parse(text); }
        catch (NotSupportedException e) { throw new NotSupportedException($"{command} --device {text}: {e.Message} Use --device cpu.", e); }
        catch (ArgumentException e) { throw new ArgumentException($"{command} --device {text}: {e.Message}", e); }
        if (device.Type == DeviceType.Cpu) return (device, $"cpu, {Engine.Cpu.CpuParallel.ThreadCount} threads");
        var name = Engine.Cuda.Cuda.Device(device.Index).Name;
        if (!timed) return (device, $"{device} = {name}");
        return (device, Engine.Cuda.Cuda.IsEmulated
            ? $"{device} = {name}: emulated, so the times are the CPU's emulation of the kernels, not a GPU's (the op order, shapes and memory are the device's)"
            : $"{device} = {name}: times from CUDA events on the compute stream");
    }

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
