using System.CommandLine;

namespace Engine.Samples.Cli.Bench;

/// <summary>The <c>--max-load</c> and <c>--refuse-loaded</c> options every CPU benchmark takes, and the refusal (see <see cref="LoadGuard"/>).</summary>
internal static class BenchLoad
{
    /// <summary>The <c>--max-load</c> option: the threshold above which a run counts as loaded.</summary>
    public static Option<double> MaxLoadOption()
    {
        var option = new Option<double>("--max-load")
        {
            Description = "1-minute load average above which the run is flagged as loaded (and refused with --refuse-loaded).",
            DefaultValueFactory = _ => LoadGuard.DefaultThreshold,
        };
        option.Validators.Add(r =>
        {
            if (!(r.GetValueOrDefault<double>() >= 0)) r.AddError("--max-load must be a number >= 0.");
        });
        return option;
    }

    /// <summary>The <c>--refuse-loaded</c> option: exit with code 3 instead of reporting figures from a loaded machine.</summary>
    public static Option<bool> RefuseOption() => new("--refuse-loaded")
    {
        Description = "Refuse to measure when the load average is above --max-load (exit code 3); a run that ends above it exits with 3 too.",
    };

    /// <summary>
    /// Reads the load before a run. Returns null (after printing why, and the JSON line) when
    /// <paramref name="refuse"/> is set and the machine is already loaded.
    /// </summary>
    public static LoadGuard? Start(string bench, double threshold, bool refuse)
    {
        var guard = new LoadGuard(LoadGuard.Read(), null, threshold);
        if (refuse && guard.Before > threshold)
        {
            string why = $"refused: the 1-minute load average is {LoadGuard.Format(guard.Before)}, above {LoadGuard.Format(threshold)} (--max-load)";
            Console.Error.WriteLine($"bench {bench}: {why}");
            var json = new Dictionary<string, object?> { ["bench"] = bench, ["refused"] = why };
            guard.AddTo(json);
            DeviceBench.WriteJson(json);
            return null;
        }
        return guard;
    }
}
