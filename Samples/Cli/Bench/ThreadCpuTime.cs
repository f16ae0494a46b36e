using System.Runtime.InteropServices;

namespace Engine.Samples.Cli.Bench;

/// <summary>
/// The CPU time the calling thread has used (Linux <c>clock_gettime(CLOCK_THREAD_CPUTIME_ID)</c>): unlike wall
/// time it does not count the slices other processes take, which is what a single-threaded figure on a shared
/// machine needs. Null on other systems.
/// </summary>
internal static partial class ThreadCpuTime
{
    private const int ClockThreadCpuTimeId = 3;

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clock, out TimeSpec time);

    /// <summary>Seconds of CPU time used by this thread so far, or null where the clock is not available.</summary>
    public static double? Seconds()
    {
        if (!OperatingSystem.IsLinux()) return null;
        return ClockGetTime(ClockThreadCpuTimeId, out var t) == 0 ? t.Seconds + t.Nanoseconds * 1e-9 : null;
    }
}
