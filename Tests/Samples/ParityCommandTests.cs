using System.Text.Json;
using Engine.Models.Serialization;
using Engine.Tests.Models;
using Xunit;

namespace Engine.Tests.Samples;

/// <summary>
/// <c>engine parity --golden FILE|DIR ...</c> as a user runs it: the built command line in its own process, on a
/// golden of each backbone and on several at once, and its exit codes (0 within tolerance, 1 above, 2 when a
/// file cannot be run).
/// </summary>
public class ParityCommandTests
{
    private static (int ExitCode, string Stdout, string Stderr) Engine(params string[] args) => EngineProcess.Run(args);

    private static JsonElement LastJsonLine(string stdout) => EngineProcess.LastJsonLine(stdout);

    [CliBuiltFact]
    public void Goldens_of_each_backbone_pass_and_report_their_worst_errors()
    {
        foreach (var golden in new[] { "vheat/op_train.safetensors", "affnet/op_train.safetensors", "sequencer/op_train.safetensors", "dualvit/op_merge_train.safetensors" })
        {
            var (code, stdout, stderr) = Engine("parity", "--golden", GoldenFiles.Copied(golden));
            Assert.True(code == 0, $"{golden}: exit {code}\n{stdout}\n{stderr}");
            var json = LastJsonLine(stdout);
            Assert.True(json.GetProperty("passed").GetBoolean());
            Assert.InRange(json.GetProperty("worst").GetProperty("grad.param").GetDouble(), 0, 1e-9);
        }
        var (f32, f32Out, _) = Engine("parity", "--golden", GoldenFiles.Copied("vheat/op_train.safetensors"), "--dtype", "f32");
        Assert.Equal(0, f32);
        Assert.InRange(LastJsonLine(f32Out).GetProperty("worst").GetProperty("output").GetDouble(), 1e-12, 1e-4);
    }

    [CliBuiltFact]
    public void Several_goldens_and_folders_run_in_one_process_with_one_row_each_and_a_summary()
    {
        var folder = Path.GetDirectoryName(GoldenFiles.Copied("sequencer/op_train.safetensors"))!;
        int inFolder = Directory.GetFiles(folder, "*.safetensors", SearchOption.AllDirectories).Length;
        var (code, stdout, stderr) = Engine("parity", "--golden", folder, GoldenFiles.Copied("vheat/op_train.safetensors"));
        Assert.True(code == 0, $"exit {code}\n{stdout}\n{stderr}");
        var json = LastJsonLine(stdout);
        Assert.Equal(inFolder + 1, json.GetProperty("goldens").GetInt32());
        Assert.Equal(inFolder + 1, json.GetProperty("results").GetArrayLength());
        Assert.True(json.GetProperty("passed").GetBoolean());
        Assert.StartsWith($"{inFolder + 1}/{inFolder + 1} goldens pass in F64 on cpu", json.GetProperty("summary").GetString());
        Assert.Contains("vheat/op_train", stdout);

        // One file that cannot be run makes the whole run exit 2, and the others are still run and reported.
        var (broken, brokenOut, _) = Engine("parity", "--golden", GoldenFiles.Copied("vheat/op_train.safetensors"), "no-such-golden.safetensors");
        Assert.Equal(2, broken);
        var brokenJson = LastJsonLine(brokenOut);
        Assert.False(brokenJson.GetProperty("passed").GetBoolean());
        Assert.Contains("1 cannot run", brokenJson.GetProperty("summary").GetString());
        Assert.True(brokenJson.GetProperty("results")[0].GetProperty("passed").GetBoolean());
    }

    [CliBuiltFact]
    public void A_golden_the_engine_does_not_match_exits_with_1()
    {
        var path = Path.Combine(Path.GetTempPath(), $"parity-{Guid.NewGuid():N}.safetensors");
        try
        {
            using (var file = SafeTensors.Read(GoldenFiles.Copied("vheat/op_train.safetensors")))
            {
                var tensors = file.Tensors.ToDictionary(kv => kv.Key, kv => kv.Key == "output" ? kv.Value * 1.0001 : kv.Value);
                SafeTensors.Write(path, tensors, file.Metadata);
            }
            var (code, stdout, _) = Engine("parity", "--golden", path);
            Assert.Equal(1, code);
            Assert.False(LastJsonLine(stdout).GetProperty("passed").GetBoolean());
            Assert.Contains("FAIL", stdout);
        }
        finally { File.Delete(path); }
    }

    [CliBuiltFact]
    public void Files_that_cannot_be_run_exit_with_2_and_say_why()
    {
        var (missing, _, why) = Engine("parity", "--golden", "no-such-golden.safetensors");
        Assert.Equal(2, missing);
        Assert.Contains("no-such-golden.safetensors", why);
        var (optimizer, _, why2) = Engine("parity", "--golden", GoldenFiles.Copied("optim/optimizers.safetensors"));
        Assert.Equal(2, optimizer);
        Assert.Contains("optimizers.safetensors", why2);
    }
}

/// <summary>A test of the built command line: skipped, with the reason, where <c>engine.dll</c> has not been built in this configuration.</summary>
public sealed class CliBuiltFactAttribute : FactAttribute
{
    /// <summary>The command line built beside these tests (same configuration), or null.</summary>
    public static string? EngineDll { get; } = Find();

    /// <summary>Sets <see cref="FactAttribute.Skip"/> when the command line is not built.</summary>
    public CliBuiltFactAttribute()
    {
        if (EngineDll is null) Skip = "skipped: Samples/Cli is not built in this configuration (dotnet test Engine.sln builds it)";
    }

    private static string? Find()
    {
        // Tests/bin/<Configuration>/<tfm>/ -> Samples/Cli/bin/<Configuration>/<tfm>/engine.dll
        var testDir = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var (tfm, configuration) = (testDir.Name, testDir.Parent?.Name);
        for (var dir = testDir; dir is not null; dir = dir.Parent)
        {
            if (!File.Exists(Path.Combine(dir.FullName, "Engine.sln"))) continue;
            var dll = Path.Combine(dir.FullName, "Samples", "Cli", "bin", configuration ?? "", tfm, "engine.dll");
            return File.Exists(dll) ? dll : null;
        }
        return null;
    }
}
