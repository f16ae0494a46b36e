using Engine.Backends;

namespace Engine.Models.Training;

/// <summary>
/// Where <c>train --device</c> runs. <c>cpu</c> is the CPU; <c>cuda</c> and <c>cuda:N</c> are that GPU, or an
/// error saying why it cannot be used (never a silent fallback to the CPU); <c>auto</c> is cuda:0 when a real
/// GPU is there and a probe step of the model runs on it, else the CPU with the reason. The CUDA emulator (a
/// test tool, slower than the CPU by orders of magnitude) counts as a device for <c>cuda</c> but never for
/// <c>auto</c>.
/// </summary>
internal static class TrainingDevice
{
    /// <summary>What this process has: a CUDA device, and whether it is the emulator.</summary>
    public readonly record struct Facts(bool CudaAvailable, bool Emulated)
    {
        /// <summary>This process's facts.</summary>
        public static Facts Current => new(Devices.CudaAvailable, Devices.CudaAvailable && Engine.Cuda.Cuda.IsEmulated);
    }

    /// <summary>
    /// The device for <paramref name="requested"/> and a line saying what was chosen and why.
    /// <paramref name="probe"/> runs a step of the model on a device and returns null, or why it cannot run there.
    /// </summary>
    public static (Device Device, string Message) Resolve(string requested, Facts facts, Func<Device, string?> probe)
    {
        var text = requested.Trim().ToLowerInvariant();
        if (text == "cpu") return (Device.Cpu, "device: cpu");
        if (text == "auto")
        {
            if (!facts.CudaAvailable) return (Device.Cpu, "device: cpu (auto: no CUDA device)");
            if (facts.Emulated) return (Device.Cpu, "device: cpu (auto: the only CUDA device is the emulator, a test tool; --device cuda runs on it)");
            var gpu = Device.Cuda(0);
            return probe(gpu) is { } why
                ? (Device.Cpu, $"device: cpu (auto: the model cannot train on {gpu} yet: {why})")
                : (gpu, $"device: {gpu} (auto)");
        }
        if (text != "cuda" && !text.StartsWith("cuda:", StringComparison.Ordinal))
            throw new ArgumentException($"train: unknown device '{requested}'; use auto, cpu, cuda or cuda:N.");
        Device device;
        try { device = Device.Parse(text); }
        catch (Exception e) when (e is ArgumentException or FormatException) { throw new ArgumentException($"train: unknown device '{requested}'; use auto, cpu, cuda or cuda:N.", e); }
        if (!facts.CudaAvailable)
            throw new NotSupportedException($"train --device {requested}: no CUDA device is available ({Engine.Cuda.Cuda.UnavailableReason ?? "no driver"}); use --device cpu or auto.");
        Devices.Check(device, $"train --device {requested}");
        return (device, $"device: {device}{(facts.Emulated ? " (the CUDA emulator: a test tool, far slower than the CPU)" : "")}");
    }
}
