using System.Diagnostics;
using System.Reflection;
using System.Runtime.Loader;
using System.Text.Json;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace Engine.Tools.DeviceRun;

/// <summary>
/// <c>devicerun tests [DLL]</c>: discovers and runs the tests of an xUnit v2 assembly in this process through
/// xUnit's own framework (<see cref="XunitTestFramework"/>), one test at a time (a CUDA context is per thread).
/// <c>--gpu</c> keeps the tests whose attribute is a <c>Gpu…Attribute</c> deriving from <c>FactAttribute</c>
/// (<c>[GpuFact]</c>), found by reflection so the attribute itself can change. Prints a line as each test
/// starts and for each that did not pass, then a JSON line with the counts and the skip reasons; exit 0 when
/// at least one test ran and none failed, 1 when one failed, 77 (skipped) when every selected test was skipped.
/// </summary>
internal static class TestRunner
{
    public static int Run(Arguments args)
    {
        bool gpu = args.Flag("--gpu");
        var filters = args.All("--filter");
        var notTraits = args.All("--not-trait").Select(t => t.Split('=', 2)).Select(p => (Key: p[0], Value: p.Length > 1 ? p[1] : "")).ToList();
        int max = args.Number("--max", int.MaxValue);
        var sanitizer = args.Value("--sanitizer");
        var jsonFile = args.Value("--json-file");
        var rest = args.Rest();
        var dll = Path.GetFullPath(rest.Count > 0 ? rest[0] : Path.Combine(AppContext.BaseDirectory, "Engine.Tests.dll"));
        if (!File.Exists(dll)) throw new ArgumentException($"no test assembly at {dll}.");
        if (sanitizer is not null) return Sanitizer.Run(sanitizer, args: Environment.GetCommandLineArgs()[1..]);

        var summary = RunTests(dll, gpu, filters, notTraits, max, Console.Out);
        var json = JsonSerializer.Serialize(summary.Json(), Json.Readable);
        if (jsonFile is not null) File.WriteAllText(jsonFile, json);
        Console.WriteLine(json);
        return summary.ExitCode;
    }

    /// <summary>Discovers, selects and runs; progress and failures go to <paramref name="output"/>.</summary>
    public static TestSummary RunTests(string dll, bool gpuOnly, IReadOnlyList<string> filters, IReadOnlyList<(string Key, string Value)> notTraits, int max, TextWriter output)
    {
        var folder = Path.GetDirectoryName(dll)!;
        // The test assembly's dependencies sit beside it (FsCheck, FSharp.Core, the engine's assemblies).
        AssemblyLoadContext.Default.Resolving += (context, name) =>
            Path.Combine(folder, name.Name + ".dll") is var path && File.Exists(path) ? context.LoadFromAssemblyPath(path) : null;
        var assembly = AssemblyLoadContext.Default.LoadFromAssemblyPath(dll);
        var diagnostics = new Sink(output, null);
        using var framework = new XunitTestFramework(diagnostics);
        var options = new Options();
        options.SetValue("xunit.execution.DisableParallelization", true);
        options.SetValue("xunit.execution.MaxParallelThreads", 1);

        var found = new Sink(output, null);
        using (var discoverer = framework.GetDiscoverer(Reflector.Wrap(assembly)))
        {
            discoverer.Find(includeSourceInformation: false, found, options);
            found.Finished.WaitOne();
        }
        var selected = found.Discovered
            .Where(t => !gpuOnly || IsGpuTest(t))
            .Where(t => filters.Count == 0 || filters.Any(f => FullName(t).Contains(f, StringComparison.Ordinal)))
            .Where(t => !notTraits.Any(nt => t.Traits.TryGetValue(nt.Key, out var values) && values.Contains(nt.Value)))
            .OrderBy(FullName, StringComparer.Ordinal).ThenBy(t => t.DisplayName, StringComparer.Ordinal)
            .Take(max).ToList();
        output.WriteLine($"tests: {found.Discovered.Count} discovered in {Path.GetFileName(dll)}, {selected.Count} selected{(gpuOnly ? " (GPU tests)" : "")}");

        var clock = Stopwatch.StartNew();
        var results = new Sink(output, new TestSummary(selected.Count));
        if (selected.Count > 0)
        {
            using var executor = framework.GetExecutor(assembly.GetName());
            executor.RunTests(selected, results, options);
            results.Finished.WaitOne();
        }
        results.Summary!.Seconds = clock.Elapsed.TotalSeconds;
        return results.Summary;
    }

    /// <summary>"Namespace.Class.Method", as <c>--filter</c> matches it.</summary>
    public static string FullName(ITestCase test) => $"{test.TestMethod.TestClass.Class.Name}.{test.TestMethod.Method.Name}";

    /// <summary>A test carrying an attribute named Gpu…Attribute that derives from xUnit's FactAttribute.</summary>
    public static bool IsGpuTest(ITestCase test) =>
        test.TestMethod.Method is IReflectionMethodInfo m && m.MethodInfo.GetCustomAttributes(inherit: false).Any(a => IsGpuAttribute(a.GetType()));

    /// <summary>True for <c>GpuFactAttribute</c>, <c>GpuTheoryAttribute</c> and the like.</summary>
    public static bool IsGpuAttribute(Type type)
    {
        if (!type.Name.StartsWith("Gpu", StringComparison.Ordinal) || !type.Name.EndsWith("Attribute", StringComparison.Ordinal)) return false;
        for (var t = type.BaseType; t is not null; t = t.BaseType)
            if (t.FullName == "Xunit.FactAttribute") return true;
        return false;
    }

    /// <summary>Both option bags xUnit asks for, as one dictionary.</summary>
    private sealed class Options : ITestFrameworkDiscoveryOptions, ITestFrameworkExecutionOptions
    {
        private readonly Dictionary<string, object?> _values = [];

        public TValue GetValue<TValue>(string name) => _values.TryGetValue(name, out var v) && v is TValue t ? t : default!;

        public void SetValue<TValue>(string name, TValue value) => _values[name] = value;
    }

    /// <summary>Receives xUnit's messages: the discovered tests, or each result, counted into a summary.</summary>
    private sealed class Sink(TextWriter output, TestSummary? summary) : IMessageSink
    {
        public List<ITestCase> Discovered { get; } = [];

        public ManualResetEvent Finished { get; } = new(false);

        public TestSummary? Summary => summary;

        public bool OnMessage(IMessageSinkMessage message)
        {
            switch (message)
            {
                case ITestCaseDiscoveryMessage d: Discovered.Add(d.TestCase); break;
                case IDiscoveryCompleteMessage or ITestAssemblyFinished: Finished.Set(); break;
                case ITestStarting t when summary is not null:
                    // In the log, so that a test that hangs until the step's timeout is named by the last line.
                    output.WriteLine($"[RUN] {t.Test.DisplayName}");
                    break;
                case ITestPassed: summary?.Passed(); break;
                case ITestSkipped s:
                    summary?.Skipped(s.Reason);
                    output.WriteLine($"[SKIP] {s.Test.DisplayName}: {s.Reason}");
                    break;
                case ITestFailed f:
                    var why = f.Messages.FirstOrDefault()?.Split('\n')[0] ?? "";
                    summary?.Failed(f.Test.DisplayName, why);
                    output.WriteLine($"[FAIL] {f.Test.DisplayName}: {string.Join("\n", f.Messages)}\n{string.Join("\n", f.StackTraces)}");
                    break;
                case IErrorMessage or ITestClassCleanupFailure or ITestCollectionCleanupFailure or ITestAssemblyCleanupFailure:
                    var failure = (IFailureInformation)message;
                    summary?.Failed("(cleanup or framework error)", failure.Messages.FirstOrDefault() ?? "");
                    output.WriteLine($"[ERROR] {string.Join("\n", failure.Messages)}\n{string.Join("\n", failure.StackTraces)}");
                    break;
            }
            return true;
        }
    }
}

/// <summary>The counts of one test run, and the JSON line they become.</summary>
internal sealed class TestSummary(int selected)
{
    private readonly Dictionary<string, int> _skipReasons = [];
    private readonly List<string> _failures = [];
    private int _passed, _skipped;

    public int Selected => selected;

    public int PassedCount => _passed;

    public int FailedCount => _failures.Count;

    public int SkippedCount => _skipped;

    public double Seconds { get; set; }

    public void Passed() => Interlocked.Increment(ref _passed);

    public void Skipped(string reason)
    {
        lock (_skipReasons)
        {
            _skipped++;
            _skipReasons[reason] = _skipReasons.GetValueOrDefault(reason) + 1;
        }
    }

    public void Failed(string test, string why)
    {
        lock (_failures) _failures.Add($"{test}: {why}");
    }

    /// <summary>1 when a test failed; 77 (skipped) when none ran (all skipped, or none selected); else 0.</summary>
    public int ExitCode => FailedCount > 0 ? 1 : PassedCount == 0 ? StepResult.SkipExitCode : 0;

    /// <summary>The line for people: counts, then the commonest skip reason or the first failure.</summary>
    public string Line()
    {
        var text = $"{PassedCount} passed, {FailedCount} failed, {SkippedCount} skipped of {Selected} selected";
        if (FailedCount > 0) return text + $"; first failure: {_failures[0]}";
        if (_skipReasons.Count > 0) return text + $"; skip reason: {_skipReasons.MaxBy(kv => kv.Value).Key}";
        return text;
    }

    public Dictionary<string, object?> Json()
    {
        var json = new Dictionary<string, object?>
        {
            ["selected"] = Selected, ["passed"] = PassedCount, ["failed"] = FailedCount, ["skipped"] = null, ["skipped_count"] = SkippedCount,
            ["seconds"] = Math.Round(Seconds, 2), ["skip_reasons"] = _skipReasons, ["failures"] = _failures.Take(50).ToList(), ["summary"] = Line(),
        };
        // A run where nothing ran is a skip of the whole step, with the reason; never a pass.
        if (ExitCode == StepResult.SkipExitCode)
            json["skipped"] = Selected == 0 ? "no test selected" : $"all {Selected} selected tests skipped: {_skipReasons.MaxBy(kv => kv.Value).Key}";
        else json.Remove("skipped");
        return json;
    }
}
