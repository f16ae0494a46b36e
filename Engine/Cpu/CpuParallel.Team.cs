using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Engine.Cpu;

public static partial class CpuParallel
{
    /// <summary>
    /// A fixed set of background threads, one per core beyond the caller's, that run the bodies of
    /// <see cref="For"/> and <see cref="ForEachTask"/>. Task indices are claimed dynamically, so a
    /// worker that wakes late simply takes fewer of them. One dispatch at a time: a second thread
    /// that calls in while the team is busy runs its loop serially rather than oversubscribing.
    /// </summary>
    private static class Team
    {
        // How long an idle worker (and a caller waiting for the tail of a job) keeps polling before it
        // blocks (CpuParallel.WorkerSpin). Waking a blocked thread costs tens of microseconds to over a
        // millisecond (0.3-1.2 ms measured on this 2-vCPU VM, where the idle vCPU must be rescheduled),
        // which is the whole runtime of a 256^3 GEMM, so back-to-back
        // kernels need workers that are still awake. Workers never outnumber the spare cores, so the
        // polling only burns cores the engine would otherwise leave idle. Polling goes through
        // SpinWait, which soon starts yielding: if the OS has put a poller on the same core as a
        // thread with work left (seen on this VM), the poller must not hold that core for its slice.
        public static long SpinTicks => Volatile.Read(ref _spinTicks);

        private static readonly object Gate = new();
        private static readonly List<Worker> Workers = [];

        public static void Run(int tasks, int threads, Action<int> body)
        {
            if (!Monitor.TryEnter(Gate))
            {
                RunSerially(tasks, body);
                return;
            }
            try
            {
                var job = new Job(tasks, body);
                int helpers = Math.Min(threads, tasks) - 1;
                while (Workers.Count < helpers) Workers.Add(new Worker(Workers.Count + 1));
                for (int i = 0; i < helpers; i++) Workers[i].Post(job);
                job.Participate();
                job.WaitAndRethrow();
            }
            finally
            {
                Monitor.Exit(Gate);
            }
        }

        private static void RunSerially(int tasks, Action<int> body)
        {
            bool was = _insideParallelRegion;
            _insideParallelRegion = true;
            try
            {
                for (int i = 0; i < tasks; i++) body(i);
            }
            finally
            {
                _insideParallelRegion = was;
            }
        }
    }

    /// <summary>One dispatch: tasks [0, count) claimed by whoever participates, caller included.</summary>
    private sealed class Job(int count, Action<int> body)
    {
        /// <summary>The processor the caller was on when it posted the job (-1 where unknown).</summary>
        public readonly int PosterCpu = Processor.Current();

        private readonly ManualResetEventSlim _done = new(false);
        private int _next;
        private int _finished;
        private Exception? _error;

        public void Participate()
        {
            bool was = _insideParallelRegion;
            _insideParallelRegion = true;
            try
            {
                int i;
                while ((i = Interlocked.Increment(ref _next) - 1) < count)
                {
                    try
                    {
                        body(i);
                    }
                    catch (Exception e)
                    {
                        Interlocked.CompareExchange(ref _error, e, null);
                    }
                    if (Interlocked.Increment(ref _finished) == count) _done.Set();
                }
            }
            finally
            {
                _insideParallelRegion = was;
            }
        }

        public void WaitAndRethrow()
        {
            long start = Stopwatch.GetTimestamp();
            var spinner = new SpinWait();
            while (Volatile.Read(ref _finished) < count && Stopwatch.GetTimestamp() - start < Team.SpinTicks)
                spinner.SpinOnce(sleep1Threshold: -1);
            // Not disposed: the last finisher may still be inside Set() when Wait() returns. Without a
            // kernel wait handle having been requested, the event holds no native resources.
            _done.Wait();
            if (_error != null) throw new AggregateException(_error);
        }
    }

    /// <summary>Times a worker moved itself off its caller's processor (see <see cref="Worker"/>); for tests and diagnostics.</summary>
    internal static long WorkerMoves => Interlocked.Read(ref _workerMoves);

    private static long _workerMoves;

    private sealed class Worker
    {
        // On a 2-vCPU VM (issue 20) the scheduler could leave a worker on its caller's processor for the whole life
        // of a process: a polling worker never sleeps, both threads stay cache-hot, so neither wake-up placement nor
        // load balancing moves it, and every parallel kernel ran at one-thread speed (sum over rows of a 16 MiB
        // matrix: 0.25-0.28 ms in half of the processes, 0.10 in the others; in the slow ones the worker never
        // once took a task on another processor). A worker that picks up two jobs in a row on the processor its
        // caller posted them from moves itself to another allowed processor; its affinity is restored at once.
        private const int SharedPickupsBeforeMoving = 2;

        private readonly ManualResetEventSlim _wake = new(false);
        private MailSlot _mail;

        // The slot an idle worker polls, alone on its cache lines. The worker used to poll it with an atomic exchange,
        // a write that takes the line from every other core on each turn of its loop, so whatever the garbage
        // collector placed beside the worker ran at the speed of a contended line. The idle worker now only reads the
        // slot until a job is there. (This was first taken for the cause of Sequencer-Nano's per-process slow mode:
        // twenty processes in a row ran fast after it, but later runs fell into the slow mode again; that one's cause
        // is still open, see docs/benchmarks.md.)
        [StructLayout(LayoutKind.Explicit, Size = 192)]
        private struct MailSlot
        {
            [FieldOffset(64)] public Job? Job;
        }

        public Worker(int index)
        {
            var thread = new Thread(Loop) { IsBackground = true, Name = $"CpuParallel worker {index}" };
            thread.Start();
        }

        public void Post(Job job)
        {
            Volatile.Write(ref _mail.Job, job);
            _wake.Set();
        }

        // A job posted while this worker was still busy may already be finished by the others; a
        // late Participate then finds no task left and returns at once.
        private void Loop()
        {
            long idleSince = Stopwatch.GetTimestamp();
            var spinner = new SpinWait();
            int sharedInARow = 0;
            while (true)
            {
                if (Volatile.Read(ref _mail.Job) is not null && Interlocked.Exchange(ref _mail.Job, null) is { } job)
                {
                    sharedInARow = job.PosterCpu >= 0 && Processor.Current() == job.PosterCpu ? sharedInARow + 1 : 0;
                    if (sharedInARow >= SharedPickupsBeforeMoving)
                    {
                        sharedInARow = 0;
                        if (Processor.MoveOff(job.PosterCpu)) Interlocked.Increment(ref _workerMoves);
                    }
                    job.Participate();
                    idleSince = Stopwatch.GetTimestamp();
                    spinner.Reset();
                    continue;
                }
                if (Stopwatch.GetTimestamp() - idleSince < Team.SpinTicks)
                {
                    spinner.SpinOnce(sleep1Threshold: -1);
                    continue;
                }
                _wake.Wait();
                _wake.Reset();
                idleSince = Stopwatch.GetTimestamp();
                spinner.Reset();
            }
        }
    }
}
