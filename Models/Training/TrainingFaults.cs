using System.Diagnostics;
using System.Globalization;

namespace Engine.Models.Training;

/// <summary>
/// Faults injected into a training run by its tests, through the <c>ENGINE_TEST_FAULT</c> environment variable, so
/// that a test in another process can kill the trainer at a chosen point or fill its disk (issue 21): unset, every
/// call here does nothing.
/// <list type="bullet">
/// <item><c>kill:POINT:N</c>: the process kills itself with SIGKILL the N-th time (from 1) it reaches POINT, one of
/// <see cref="Points"/>: <c>step</c> (inside a step, after the backward pass and before the optimizer's update),
/// <c>eval</c> (inside an evaluation, after its first batch), <c>log</c> (after a metrics row, before the checkpoint
/// that follows it), <c>checkpoint</c> (inside the write of a checkpoint, after <see cref="KillAfterBytes"/> bytes).</item>
/// <item><c>disk-full:BYTES[:N]</c>: from the N-th checkpoint written (default 1) on, each write fails with an
/// <see cref="IOException"/> ("No space left on device") after BYTES bytes, as on a full disk.</item>
/// </list>
/// </summary>
internal static class TrainingFaults
{
    /// <summary>The name of the environment variable.</summary>
    public const string Variable = "ENGINE_TEST_FAULT";

    /// <summary>The points a <c>kill</c> fault can name.</summary>
    public static readonly IReadOnlyList<string> Points = ["step", "eval", "log", "checkpoint"];

    private static readonly (string Kind, string Point, long N, long Bytes)? Fault = Parse(Environment.GetEnvironmentVariable(Variable));
    private static readonly Dictionary<string, long> Reached = [];
    private static long _checkpoints;

    /// <summary>Marks that the run reached <paramref name="point"/>: the process dies here if the fault says so.</summary>
    public static void At(string point)
    {
        if (Fault is not { Kind: "kill" } f || f.Point != point) return;
        long count;
        lock (Reached) count = Reached[point] = Reached.GetValueOrDefault(point) + 1;
        if (count == f.N) Process.GetCurrentProcess().Kill();          // SIGKILL: no finally block, no flush runs
    }

    /// <summary>Bytes of a checkpoint written before a <c>kill:checkpoint</c> fault fires: past the header, inside the tensors.</summary>
    public const long KillAfterBytes = 4096;

    /// <summary>The stream a checkpoint is written to: <paramref name="stream"/> itself, or one that fails or kills as the fault says.</summary>
    public static Stream CheckpointStream(Stream stream)
    {
        if (Fault is not { } f) return stream;
        long index = Interlocked.Increment(ref _checkpoints);
        return f.Kind switch
        {
            "disk-full" when index >= f.N => new FaultStream(stream, f.Bytes, () => throw new IOException("No space left on device")),
            "kill" when f.Point == "checkpoint" => new FaultStream(stream, KillAfterBytes, () => At("checkpoint")),
            _ => stream,
        };
    }

    private static (string, string, long, long)? Parse(string? text)
    {
        if (string.IsNullOrEmpty(text)) return null;
        var parts = text.Split(':');
        var inv = CultureInfo.InvariantCulture;
        return parts switch
        {
            ["kill", var point, var n] when Points.Contains(point) => ("kill", point, long.Parse(n, inv), 0),
            ["disk-full", var bytes] => ("disk-full", "", 1, long.Parse(bytes, inv)),
            ["disk-full", var bytes, var n] => ("disk-full", "", long.Parse(n, inv), long.Parse(bytes, inv)),
            _ => throw new ArgumentException($"{Variable}='{text}': expected kill:POINT:N (POINT one of {string.Join(", ", Points)}) or disk-full:BYTES[:N]."),
        };
    }

    /// <summary>Passes writes through until <c>limit</c> bytes, then calls <c>fault</c> (which throws or kills the process).</summary>
    private sealed class FaultStream(Stream inner, long limit, Action fault) : Stream
    {
        private long _written;

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => _written;
        public override long Position { get => _written; set => throw new NotSupportedException(); }
        public override void Flush() => inner.Flush();
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            long room = limit - _written;
            if (room >= 0 && buffer.Length > room)
            {
                inner.Write(buffer[..(int)room]);
                inner.Flush();                     // what did fit reaches the (temporary) file, as on a real disk
                _written = limit + 1;              // fires once
                fault();                           // throws, or kills the process, or (a kill meant for a later checkpoint) returns
                buffer = buffer[(int)room..];
            }
            inner.Write(buffer);
            _written += buffer.Length;
        }
    }
}
