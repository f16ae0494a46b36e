using System.Globalization;
using System.Text.RegularExpressions;

namespace Engine.Cuda.Kernels;

/// <summary>
/// An NVRTC program log, read: the compiler's diagnostics (<c>file(line): warning #177-D: …</c>, <c>ptxas warning : …</c>)
/// and, when it was compiled with <c>--ptxas-options=-v</c>, each kernel's resources from ptxas's info lines:
/// <code>
/// ptxas info    : Compiling entry function 'sum_final_f32' for 'sm_80'
/// ptxas info    : Function properties for sum_final_f32
/// ptxas         .     0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
/// ptxas info    : Used 10 registers, 1024 bytes smem, 376 bytes cmem[0]
/// </code>
/// Functions that ptxas kept out of line (<c>__internal_trig_reduction_slowpathd</c>) get properties of their own,
/// listed after the kernel that calls them, and are read as <see cref="Callees"/>.
/// </summary>
public sealed partial class NvrtcLog
{
    private NvrtcLog(string text, List<KernelResources> kernels, List<CalleeResources> callees, List<CompilerDiagnostic> diagnostics, int globalMemory)
    {
        Text = text;
        Kernels = kernels;
        Callees = callees;
        Diagnostics = diagnostics;
        GlobalMemory = globalMemory;
    }

    /// <summary>The log as NVRTC wrote it.</summary>
    public string Text { get; }

    /// <summary>Each entry function, in the order ptxas compiled it.</summary>
    public IReadOnlyList<KernelResources> Kernels { get; }

    /// <summary>Out-of-line device functions with their own stack frame and spills.</summary>
    public IReadOnlyList<CalleeResources> Callees { get; }

    /// <summary>Every error and warning, from the front end and from ptxas.</summary>
    public IReadOnlyList<CompilerDiagnostic> Diagnostics { get; }

    /// <summary>The module's global memory in bytes (<c>ptxas info : 272 bytes gmem</c>: the trig tables, for example).</summary>
    public int GlobalMemory { get; }

    /// <summary>Reads <paramref name="text"/>; lines it does not know are skipped, so newer ptxas wording costs figures, not a crash.</summary>
    public static NvrtcLog Parse(string text)
    {
        var kernels = new List<KernelResources>();
        var callees = new List<CalleeResources>();
        var diagnostics = new List<CompilerDiagnostic>();
        int gmem = 0;
        KernelResources? current = null;   // the entry function being compiled
        string? propertiesOf = null;       // the function whose "Function properties" line came last
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            Match m;
            if ((m = SourceDiagnostic().Match(line)).Success)
                diagnostics.Add(new(m.Groups["kind"].Value, m.Groups["file"].Value, Int(m.Groups["line"]), m.Groups["text"].Value.Trim()));
            else if ((m = PtxasDiagnostic().Match(line)).Success)
                diagnostics.Add(new(m.Groups["kind"].Value, "ptxas", 0, m.Groups["text"].Value.Trim()));
            else if ((m = Gmem().Match(line)).Success)
                gmem += Int(m.Groups["bytes"]);
            else if ((m = Entry().Match(line)).Success)
            {
                Flush();
                current = new KernelResources(m.Groups["name"].Value, m.Groups["arch"].Value, 0, 0, 0, 0, 0, null);
                propertiesOf = null;
            }
            else if ((m = Properties().Match(line)).Success)
                propertiesOf = m.Groups["name"].Value;
            else if ((m = Frame().Match(line)).Success && propertiesOf is not null)
            {
                int stack = Int(m.Groups["stack"]), stores = Int(m.Groups["stores"]), loads = Int(m.Groups["loads"]);
                if (current is not null && propertiesOf == current.Name)
                    current = current with { StackFrame = stack, SpillStores = stores, SpillLoads = loads };
                else
                    callees.Add(new CalleeResources(propertiesOf, current?.Name ?? "", current?.Architecture ?? "", stack, stores, loads));
                propertiesOf = null;
            }
            else if ((m = Used().Match(line)).Success && current is not null)
            {
                current = current with { Registers = Int(m.Groups["regs"]) };
                // The rest is a list of "N bytes smem", "N bytes cmem[B]", and on newer ptxas "used N barriers".
                foreach (Match item in Bytes().Matches(m.Groups["rest"].Value))
                {
                    int bytes = Int(item.Groups["bytes"]);
                    if (item.Groups["what"].Value == "smem") current = current with { SharedMemory = current.SharedMemory + bytes };
                    else if (item.Groups["what"].Value.StartsWith("cmem", StringComparison.Ordinal)) current = current with { ConstantMemory = (current.ConstantMemory ?? 0) + bytes };
                }
            }
            else if ((m = OtherDiagnostic().Match(line)).Success)
                // A warning or error in a wording not known above is still one (NVRTC's "1 error detected in ...").
                diagnostics.Add(new(m.Groups["kind"].Value.ToLowerInvariant(), "nvrtc", 0, line.Trim()));
        }
        Flush();
        return new NvrtcLog(text, kernels, callees, diagnostics, gmem);

        void Flush()
        {
            if (current is not null) kernels.Add(current);
            current = null;
        }
    }

    private static int Int(Group g) => int.Parse(g.Value, NumberStyles.None, CultureInfo.InvariantCulture);

    // "elementwise.cu(12): warning #177-D: variable "x" was declared but never referenced", or "...: error: ..."
    [GeneratedRegex(@"^(?<file>[^\s()][^()]*)\((?<line>\d+)\): (?<kind>error|warning|catastrophic error)\b[^:]*: (?<text>.*)$")]
    private static partial Regex SourceDiagnostic();

    // "ptxas warning : For profile sm_80 adjusting per thread register count of 16 to lower bound of 24"
    [GeneratedRegex(@"^ptxas (?<kind>error|warning|fatal)\s*: (?<text>.*)$")]
    private static partial Regex PtxasDiagnostic();

    [GeneratedRegex(@"\b(?<kind>warning|error)s?\b", RegexOptions.IgnoreCase)]
    private static partial Regex OtherDiagnostic();

    [GeneratedRegex(@"^ptxas info\s*: (?<bytes>\d+) bytes gmem")]
    private static partial Regex Gmem();

    [GeneratedRegex(@"^ptxas info\s*: Compiling entry function '(?<name>[^']+)' for '(?<arch>[^']+)'")]
    private static partial Regex Entry();

    [GeneratedRegex(@"^ptxas info\s*: Function properties for (?<name>\S+)")]
    private static partial Regex Properties();

    [GeneratedRegex(@"^ptxas\s+\.\s+(?<stack>\d+) bytes stack frame, (?<stores>\d+) bytes spill stores, (?<loads>\d+) bytes spill loads")]
    private static partial Regex Frame();

    [GeneratedRegex(@"^ptxas info\s*: Used (?<regs>\d+) registers(?<rest>.*)$")]
    private static partial Regex Used();

    [GeneratedRegex(@"(?<bytes>\d+) bytes (?<what>smem|cmem\[\d+\]|\w+)")]
    private static partial Regex Bytes();
}

/// <summary>One kernel's resources, as ptxas reported them.</summary>
/// <param name="Name">The entry function (the <c>extern "C"</c> name).</param>
/// <param name="Architecture">ptxas's target, <c>sm_90</c>.</param>
/// <param name="Registers">Registers per thread.</param>
/// <param name="StackFrame">Bytes of stack frame per thread (local arrays, out-of-line calls, spills).</param>
/// <param name="SpillStores">Bytes of register spill stores.</param>
/// <param name="SpillLoads">Bytes of register spill loads.</param>
/// <param name="SharedMemory">Bytes of static shared memory per block (dynamic shared memory is not in the log).</param>
/// <param name="ConstantMemory">Bytes of constant memory over all banks (<c>cmem[0]</c> holds the parameters); null when ptxas did not say, as 11.8 does not for sm_90.</param>
public sealed record KernelResources(string Name, string Architecture, int Registers, int StackFrame, int SpillStores, int SpillLoads, int SharedMemory, int? ConstantMemory)
{
    /// <summary>True when ptxas spilled registers to local memory.</summary>
    public bool Spills => SpillStores > 0 || SpillLoads > 0;
}

/// <summary>An out-of-line device function's stack frame and spills.</summary>
/// <param name="Name">The function (often a libdevice helper such as <c>__internal_trig_reduction_slowpathd</c>).</param>
/// <param name="Kernel">The entry function being compiled when ptxas reported it.</param>
/// <param name="Architecture">ptxas's target.</param>
/// <param name="StackFrame">Bytes of stack frame.</param>
/// <param name="SpillStores">Bytes of register spill stores.</param>
/// <param name="SpillLoads">Bytes of register spill loads.</param>
public sealed record CalleeResources(string Name, string Kernel, string Architecture, int StackFrame, int SpillStores, int SpillLoads)
{
    /// <summary>True when ptxas spilled registers to local memory.</summary>
    public bool Spills => SpillStores > 0 || SpillLoads > 0;
}

/// <summary>One error or warning in the log.</summary>
/// <param name="Severity"><c>error</c>, <c>warning</c>, <c>catastrophic error</c> or ptxas's <c>fatal</c>.</param>
/// <param name="File">The source file the unit's <c>#line</c> directives name, or <c>ptxas</c>.</param>
/// <param name="Line">The line in that file; 0 for ptxas.</param>
/// <param name="Message">The text after the severity.</param>
public sealed record CompilerDiagnostic(string Severity, string File, int Line, string Message)
{
    /// <summary>True for anything but a warning.</summary>
    public bool IsError => Severity != "warning";

    /// <summary><c>file:line: severity: message</c>, as editors read it.</summary>
    public override string ToString() => Line > 0 ? $"{File}:{Line}: {Severity}: {Message}" : $"{File}: {Severity}: {Message}";
}
