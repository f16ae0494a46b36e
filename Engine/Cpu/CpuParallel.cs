using System.Diagnostics;

namespace Engine.Cpu;

/// <summary>
/// The CPU backend's one source of parallelism: a settable thread count and a parallel-for
/// that never nests. A kernel that is already running on a worker executes inner loops serially,
/// so nothing oversubscribes the machine.
/// </summary>
/// <remarks>
/// Work runs on a dedicated team of threads (see <see cref="Team"/>), not the .NET thread pool: after
/// a parallel loop the pool wakes extra workers that spin looking for more work, and on a machine with
/// as many busy threads as cores those spinners steal whole time slices from the compute threads
/// (measured: GEMM on 2 cores ran at 1-thread speed in about half the calls).
/// </remarks>
public static partial class CpuParallel
{
    private static int _threadCount = DefaultThreadCount();

    [ThreadStatic] private static bool _insideParallelRegion;

    /// <summary>
    /// The number of threads CPU kernels may use. Defaults to the processors available to the
    /// process, or to the <c>ENGINE_NUM_THREADS</c> environment variable when set.
    /// </summary>
    public static int ThreadCount
    {
        get => _threadCount;
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1, nameof(ThreadCount));
            _threadCount = value;
        }
    }

    private static long _spinTicks = DefaultSpinTicks();

    /// <summary>
    /// How long an idle worker polls for the next parallel kernel before it blocks (and how long a caller polls
    /// for the tail of a job). Defaults to 0.5 ms, or to the <c>ENGINE_WORKER_SPIN_US</c> environment variable
    /// (microseconds) when set: OpenMP's <c>OMP_WAIT_POLICY</c> / <c>GOMP_SPINCOUNT</c> trade, for kernels called
    /// with gaps between them. A blocked worker takes as long to wake as the operating system needs (0.3-1.2 ms
    /// measured on a 2-vCPU VM, longer than many kernels, which then run on the caller alone); a polling worker
    /// keeps a spare core busy. Zero blocks at once.
    /// </summary>
    public static TimeSpan WorkerSpin
    {
        get => TimeSpan.FromSeconds((double)Volatile.Read(ref _spinTicks) / Stopwatch.Frequency);
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, TimeSpan.Zero, nameof(WorkerSpin));
            Volatile.Write(ref _spinTicks, (long)(value.TotalSeconds * Stopwatch.Frequency));
        }
    }

    private static long DefaultSpinTicks()
    {
        var fromEnv = Environment.GetEnvironmentVariable("ENGINE_WORKER_SPIN_US");
        long us = long.TryParse(fromEnv, out var n) && n >= 0 ? n : 500;
        return us * Stopwatch.Frequency / 1_000_000;
    }

    /// <summary>True on a thread that is currently executing the body of <see cref="For"/>.</summary>
    public static bool InsideParallelRegion => _insideParallelRegion;

    private static int DefaultThreadCount()
    {
        var fromEnv = Environment.GetEnvironmentVariable("ENGINE_NUM_THREADS");
        if (int.TryParse(fromEnv, out var n) && n > 0) return n;
        return Math.Max(1, Environment.ProcessorCount);
    }

    /// <summary>
    /// Runs <paramref name="body"/> for every index in [0, <paramref name="count"/>), split into at most
    /// <see cref="ThreadCount"/> contiguous chunks. Each call of the body receives a [start, end) range.
    /// Runs serially when the work is small, when one thread is configured, or when already inside a
    /// parallel region.
    /// </summary>
    /// <param name="count">Number of work items.</param>
    /// <param name="costPerItem">Rough cost of one item in elementary operations; used to decide whether threads pay.</param>
    /// <param name="body">Receives (start, end) of its chunk.</param>
    public static void For(long count, double costPerItem, Action<long, long> body)
    {
        if (count <= 0) return;
        const double minWorkPerThread = 32_768;
        int threads = (int)Math.Min(_threadCount, Math.Max(1, count * costPerItem / minWorkPerThread));
        threads = (int)Math.Min(threads, count);
        if (threads <= 1 || _insideParallelRegion)
        {
            body(0, count);
            return;
        }

        long chunk = (count + threads - 1) / threads;
        int chunks = (int)((count + chunk - 1) / chunk);
        Team.Run(chunks, threads, c =>
        {
            long start = c * chunk;
            body(start, Math.Min(count, start + chunk));
        });
    }

    /// <summary>
    /// Runs <paramref name="body"/> once for each task index in [0, <paramref name="tasks"/>), using up to
    /// <see cref="ThreadCount"/> threads. Use when work is already partitioned (for example GEMM tiles).
    /// </summary>
    public static void ForEachTask(int tasks, Action<int> body)
    {
        if (tasks <= 0) return;
        int threads = Math.Min(_threadCount, tasks);
        if (threads <= 1 || _insideParallelRegion)
        {
            for (int i = 0; i < tasks; i++) body(i);
            return;
        }
        Team.Run(tasks, threads, body);
    }
}
