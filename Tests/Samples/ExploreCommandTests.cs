using System.Xml.Linq;
using Engine.Models.Data.Images;
using Engine.Samples.Cli.Charts;
using Xunit;

namespace Engine.Tests.Samples;

/// <summary>
/// <c>engine explore profile|tape --device</c> as a user runs them: the built command line in its own process,
/// on the small CNN with two images, on the CPU and on CUDA (the emulator in CI, which the process finds through
/// the <c>ENGINE_CUDA_EMULATOR</c> that the test run set).
/// </summary>
public sealed class ExploreCommandTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"explore-cli-{Guid.NewGuid():N}");

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private static (int ExitCode, string Stdout, string Stderr) Engine(params string[] args) => EngineProcess.Run(args);

    private static string[] OpRows(string table) =>
        table.Split('\n').Skip(1).TakeWhile(l => !l.StartsWith("total", StringComparison.Ordinal))
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[0] + " " + l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]).Order().ToArray();

    [CliBuiltFact]
    public void Profile_and_tape_on_cuda_show_the_cpus_ops_with_device_times_or_say_why_not()
    {
        string cpuDir = Path.Combine(_dir, "cpu"), gpuDir = Path.Combine(_dir, "cuda");
        var (cpuCode, cpuOut, cpuErr) = Engine("explore", "profile", "--model", "cnn", "--batch", "2", "--warmup", "0", "--device", "cpu", "--out", cpuDir);
        Assert.True(cpuCode == 0, $"cpu: exit {cpuCode}\n{cpuOut}\n{cpuErr}");
        var (code, stdout, stderr) = Engine("explore", "profile", "--model", "cnn", "--batch", "2", "--warmup", "0", "--device", "cuda", "--out", gpuDir);
        if (!global::Engine.Backends.Devices.CudaAvailable)
        {
            Assert.Equal(2, code);
            Assert.Contains("not available", stderr);
            return;
        }
        Assert.True(code == 0, $"cuda: exit {code}\n{stdout}\n{stderr}");
        Assert.Contains("device: cuda:0 = ", stdout);
        if (global::Engine.Cuda.Cuda.IsEmulated) Assert.Contains("emulated, so the times are the CPU's emulation", stdout);
        Assert.Contains("host f/b ms", stdout);
        Assert.Contains("on cuda:0 (CUDA events", stdout);
        // The same op kinds with the same call counts as on the CPU.
        string Table(string dir) => string.Join('\n', File.ReadAllText(Path.Combine(dir, "profile.txt")).Split('\n').Skip(1));
        Assert.Equal(OpRows(Table(cpuDir)), OpRows(Table(gpuDir)));
        Assert.Equal(["batch_norm 2", "conv2d 2", "cross_entropy 1", "linear 1", "max_pool2d 2", "relu 2", "view 1"], OpRows(Table(gpuDir)));
        // The memory timeline: one point per event in each series, and the CSV's events in the CPU's order.
        var svg = XDocument.Load(Path.Combine(gpuDir, "memory.svg"));
        var csv = File.ReadAllLines(Path.Combine(gpuDir, "memory.csv"));
        XNamespace ns = "http://www.w3.org/2000/svg";
        Assert.Contains(svg.Descendants(ns + "text"), t => t.Value.Contains("cuda:0 memory", StringComparison.Ordinal));
        Assert.Equal((MemoryChart.Height, MemoryChart.Width), (ImageFile.Read(Path.Combine(gpuDir, "memory.png")).Height, ImageFile.Read(Path.Combine(gpuDir, "memory.png")).Width));
        static string Events(string[] lines) => string.Join(" ", lines.Skip(1).Select(l => string.Join(",", l.Split(',').Skip(1).Take(2))));
        Assert.Equal(Events(File.ReadAllLines(Path.Combine(cpuDir, "memory.csv"))), Events(csv));

        var (tapeCode, tapeOut, tapeErr) = Engine("explore", "tape", "--model", "cnn", "--batch", "2", "--warmup", "0", "--device", "cuda", "--out", gpuDir);
        Assert.True(tapeCode == 0, $"tape: exit {tapeCode}\n{tapeOut}\n{tapeErr}");
        Assert.Contains("11 tape nodes", tapeOut);
        Engine("explore", "tape", "--model", "cnn", "--batch", "2", "--warmup", "0", "--device", "cpu", "--out", cpuDir);
        Assert.Equal(File.ReadAllText(Path.Combine(cpuDir, "tape.dot")), File.ReadAllText(Path.Combine(gpuDir, "tape.dot")));
    }

    [CliBuiltFact]
    public void Erf_on_cuda_prints_the_cpus_fields()
    {
        var (cpuCode, cpuOut, cpuErr) = Engine("explore", "erf", "--model", "cnn", "--images", "2", "--out", Path.Combine(_dir, "cpu"));
        Assert.True(cpuCode == 0, $"cpu: exit {cpuCode}\n{cpuOut}\n{cpuErr}");
        var (code, stdout, stderr) = Engine("explore", "erf", "--model", "cnn", "--images", "2", "--device", "cuda", "--out", Path.Combine(_dir, "cuda"));
        if (!global::Engine.Backends.Devices.CudaAvailable)
        {
            Assert.Equal(2, code);
            return;
        }
        Assert.True(code == 0, $"cuda: exit {code}\n{stdout}\n{stderr}");
        Assert.StartsWith("device: cuda:0 = ", stdout);
        static string Fields(string output) => string.Join("\n", output.Split('\n').Where(l => l.StartsWith("init", StringComparison.Ordinal)));
        Assert.Contains("features", Fields(cpuOut));
        Assert.Equal(Fields(cpuOut), Fields(stdout));
    }

    [CliBuiltFact]
    public void A_device_that_is_not_a_device_is_refused()
    {
        var (code, _, stderr) = Engine("explore", "tape", "--model", "cnn", "--device", "gpu");
        Assert.NotEqual(0, code);
        Assert.Contains("--device must be cpu, cuda or cuda:N, not 'gpu'", stderr);
        var (past, _, why) = Engine("explore", "profile", "--model", "cnn", "--batch", "2", "--device", "cuda:7", "--out", _dir);
        Assert.Equal(2, past);
        Assert.Contains("explore profile --device cuda:7", why);
    }
}
