using System.Text;

namespace Engine.Models.Parity;

/// <summary>
/// One compared tensor: its group (<c>output</c>, <c>grad.input</c>, <c>grad.param</c>, <c>buffer_after</c>),
/// its key, and the error: the largest |engine − reference| divided by the reference tensor's largest
/// |value|, or undivided (<see cref="Absolute"/>) where that largest value is below 1e-10, since such a
/// tensor is zero in exact arithmetic. <see cref="Problem"/> is set when the tensor could not be compared
/// at all (missing, or of another shape); its error is then infinite.
/// </summary>
public sealed record ParityEntry(string Group, string Key, double Error, bool Absolute, string? Problem = null);

/// <summary>Every comparison of one parity run, and the verdict against a tolerance.</summary>
public sealed class ParityReport(string golden, string model, DType dtype, IReadOnlyList<ParityEntry> entries)
{
    /// <summary>The groups in the order they are reported.</summary>
    public static readonly string[] Groups = ["output", "grad.input", "grad.param", "buffer_after"];

    /// <summary>The golden file compared against.</summary>
    public string Golden { get; } = golden;

    /// <summary>The golden's model name.</summary>
    public string Model { get; } = model;

    /// <summary>The dtype the engine ran in.</summary>
    public DType DType { get; } = dtype;

    /// <summary>The device that ran the model.</summary>
    public Device Device { get; init; } = Device.Cpu;

    /// <summary>That device's name: "cpu", a GPU's marketing name, or "CUDA emulator (CPU)".</summary>
    public string DeviceName { get; init; } = "cpu";

    /// <summary>Every compared tensor.</summary>
    public IReadOnlyList<ParityEntry> Entries { get; } = entries;

    /// <summary>The entry with the largest error in <paramref name="group"/>, or null when the group is empty.</summary>
    public ParityEntry? Worst(string group) =>
        Entries.Where(e => e.Group == group).MaxBy(e => e.Error);

    /// <summary>True when every entry is within <paramref name="tolerance"/> and none had a problem.</summary>
    public bool Passed(double tolerance) => Entries.Count > 0 && Entries.All(e => e.Problem is null && e.Error <= tolerance);

    /// <summary>The default tolerance for a dtype: 1e-9 relative in float64, 1e-4 in float32.</summary>
    public static double DefaultTolerance(DType dtype) => dtype == DType.F64 ? 1e-9 : 1e-4;

    /// <summary>One line per group with its worst tensor, then one line per tensor that could not be compared.</summary>
    public override string ToString()
    {
        var text = new StringBuilder($"parity of {Model} ({DType}, {Device}: {DeviceName}) against {Golden}: {Entries.Count} tensors\n");
        foreach (var group in Groups)
        {
            var worst = Worst(group);
            if (worst is null) continue;
            var count = Entries.Count(e => e.Group == group);
            text.AppendLine($"  {group,-12} {count,4} tensors, worst {worst.Error:E2}{(worst.Absolute ? " (absolute)" : "")} at {worst.Key}");
        }
        foreach (var e in Entries.Where(e => e.Problem is not null))
            text.AppendLine($"  problem: {e.Group} {e.Key}: {e.Problem}");
        return text.ToString();
    }
}
