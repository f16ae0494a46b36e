using System.Runtime.InteropServices;

namespace Engine.Cpu;

/// <summary>
/// Which processor a thread runs on, and a way to move the calling thread off one (Linux; elsewhere both are
/// no-ops). Asked of the operating system at each call.
/// </summary>
internal static unsafe class Processor
{
    private const int MaskBytes = 128; // cpu_set_t: 1024 processors
    private static bool _available = OperatingSystem.IsLinux();

    /// <summary>The current processor's number, or -1 where the system cannot say.</summary>
    public static int Current()
    {
        if (!_available) return -1;
        try
        {
            return SchedGetCpu();
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            _available = false;
            return -1;
        }
    }

    /// <summary>
    /// Moves the calling thread to another of the processors it may use than <paramref name="cpu"/>, then gives
    /// it back its whole set of processors (so the scheduler stays free to place it later): restricting the
    /// affinity migrates the thread at once. False where nothing was done (one allowed processor, or no support).
    /// </summary>
    public static bool MoveOff(int cpu)
    {
        if (!_available || cpu < 0 || cpu >= MaskBytes * 8) return false;
        byte* allowed = stackalloc byte[MaskBytes];
        byte* others = stackalloc byte[MaskBytes];
        try
        {
            if (SchedGetAffinity(0, MaskBytes, allowed) != 0) return false;
            bool any = false;
            for (int i = 0; i < MaskBytes; i++)
            {
                others[i] = allowed[i];
                if (i == cpu / 8) others[i] &= (byte)~(1 << (cpu % 8));
                any |= others[i] != 0;
            }
            if (!any || SchedSetAffinity(0, MaskBytes, others) != 0) return false;
            SchedSetAffinity(0, MaskBytes, allowed);
            return true;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            _available = false;
            return false;
        }
    }

    // glibc's sched_getcpu goes through the vDSO: no system call, tens of nanoseconds.
    [DllImport("libc", EntryPoint = "sched_getcpu")]
    [SuppressGCTransition]
    private static extern int SchedGetCpu();

    // pid 0: the calling thread.
    [DllImport("libc", EntryPoint = "sched_getaffinity")]
    private static extern int SchedGetAffinity(int pid, nint size, byte* mask);

    [DllImport("libc", EntryPoint = "sched_setaffinity")]
    private static extern int SchedSetAffinity(int pid, nint size, byte* mask);
}
