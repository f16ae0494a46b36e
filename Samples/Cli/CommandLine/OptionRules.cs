using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using Engine.Models.Zoo;

namespace Engine.Samples.Cli.CommandLine;

/// <summary>
/// The rules every option of a given name obeys, in whichever command it appears (<c>--batch</c> is a positive
/// integer in train, bench and explore alike). <see cref="ApplyTo"/> walks the command tree once and adds a
/// validator per option, so that a bad value is refused while the command line is parsed, before any work,
/// with one line naming the option, the value and what is accepted.
/// </summary>
internal static class OptionRules
{
    private static readonly HashSet<string> PositiveIntegers =
        ["--batch", "--threads", "--repeat", "--size", "--image-size", "--count", "--steps", "--images", "--epochs", "--limit-train", "--limit-test", "--log-every", "--checkpoint-every"];

    private static readonly HashSet<string> NonNegativeIntegers = ["--warmup", "--warmup-steps"];

    /// <summary>Real-valued options: the smallest value accepted, whether it is excluded, and the largest (excluded).</summary>
    private static readonly Dictionary<string, (double Min, bool MinExcluded, double Max)> Reals = new()
    {
        ["--lr"] = (0, true, double.PositiveInfinity),
        ["--weight-decay"] = (0, false, double.PositiveInfinity),
        ["--label-smoothing"] = (0, false, 1),
        ["--clip-grad-norm"] = (0, true, double.PositiveInfinity),
        ["--tolerance"] = (0, false, double.PositiveInfinity),
    };

    /// <summary>Adds the rules to every option of <paramref name="command"/> and its subcommands.</summary>
    public static void ApplyTo(Command command)
    {
        foreach (var option in command.Options) Apply(option);
        foreach (var sub in command.Subcommands) ApplyTo(sub);
    }

    private static void Apply(Option option)
    {
        string name = option.Name;
        switch (option)
        {
            case Option<int> o when PositiveIntegers.Contains(name): AtLeast(o, name, 1); break;
            case Option<int?> o when PositiveIntegers.Contains(name): AtLeast(o, name, 1); break;
            case Option<int> o when NonNegativeIntegers.Contains(name): AtLeast(o, name, 0); break;
            case Option<double> o when Reals.TryGetValue(name, out var r): InRange(o, name, r); break;
            case Option<double?> o when Reals.TryGetValue(name, out var r): InRange(o, name, r); break;
            case Option<string> o when name == "--model": OneOf(o, name, ModelZoo.Names); break;
        }
    }

    /// <summary>The option's value, or null when its text is not even of the option's type (the parser reports that itself).</summary>
    private static object? Value<T>(OptionResult result)
    {
        try { return result.GetValueOrDefault<T>(); }
        catch (InvalidOperationException) { return null; }
    }

    private static void AtLeast<T>(Option<T> option, string name, int min) => option.Validators.Add(result =>
    {
        if (result.Tokens.Count == 0) return;                 // the default, which the command chose
        if (Value<T>(result) is int value && value < min)
            result.AddError($"{name} {value}: must be {(min == 1 ? "a positive integer" : $"an integer of at least {min}")}.");
    });

    private static void InRange<T>(Option<T> option, string name, (double Min, bool MinExcluded, double Max) range) => option.Validators.Add(result =>
    {
        if (result.Tokens.Count == 0 || Value<T>(result) is not double value) return;
        bool ok = double.IsFinite(value) && (range.MinExcluded ? value > range.Min : value >= range.Min) && value < range.Max;
        if (ok) return;
        var inv = CultureInfo.InvariantCulture;
        string accepted = (range.MinExcluded, double.IsPositiveInfinity(range.Max)) switch
        {
            (true, true) => $"a finite number above {range.Min.ToString(inv)}",
            (false, true) => $"a finite number of at least {range.Min.ToString(inv)}",
            (true, false) => $"a number above {range.Min.ToString(inv)} and below {range.Max.ToString(inv)}",
            (false, false) => $"a number from {range.Min.ToString(inv)} up to (not including) {range.Max.ToString(inv)}",
        };
        result.AddError($"{name} {value.ToString(inv)}: must be {accepted}.");
    });

    private static void OneOf(Option<string> option, string name, IEnumerable<string> accepted) => option.Validators.Add(result =>
    {
        var value = Value<string>(result);
        if (value is string text && !Enumerable.Contains(accepted, text, StringComparer.Ordinal))
            result.AddError($"{name} '{text}': unknown; accepted: {string.Join(", ", accepted)}.");
    });
}
