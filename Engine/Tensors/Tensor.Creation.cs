using Engine.Backends;
using Engine.Randomness;

namespace Engine;

public sealed partial class Tensor
{
    /// <summary>The dtype new floating-point tensors get when none is given (F32, as in PyTorch).</summary>
    public static DType DefaultDType { get; set; } = DType.F32;

    private static int[] CheckShape(string op, int[] shape)
    {
        foreach (var d in shape)
            if (d < 0) throw new ArgumentException($"{op}: negative dimension in shape {Layout.Format(shape)}.");
        try { Layout.Count(shape); }
        catch (ArgumentException e) { throw new ArgumentException($"{op}: {e.Message}", e); }   // more elements than a long counts
        return (int[])shape.Clone();
    }

    private static Storage AllocateStorage(string op, int[] shape, DType dtype, Device device, bool zeroed)
    {
        try { return Backends.Backend.For(device).Allocate(device, Layout.Count(shape), dtype, zeroed); }
        catch (Cuda.Memory.CudaOutOfMemoryException e)
        {
            // The allocator knows the bytes; the caller's stack names the operation; this names the tensor.
            throw new Cuda.Memory.CudaOutOfMemoryException(e.Requested,
                $"{op}: no room for a {Layout.Format(shape)} {dtype.TorchName()} tensor on {device}: {e.Message}");
        }
    }

    /// <summary>An uninitialised contiguous tensor.</summary>
    public static Tensor Empty(int[] shape, DType? dtype = null, Device? device = null)
    {
        shape = CheckShape("empty", shape);
        var dt = dtype ?? DefaultDType;
        var storage = AllocateStorage("empty", shape, dt, device ?? Devices.Default, zeroed: false);
        return new Tensor(storage, new Layout(shape), addRef: false);
    }

    /// <summary>A tensor of zeros.</summary>
    public static Tensor Zeros(int[] shape, DType? dtype = null, Device? device = null)
    {
        shape = CheckShape("zeros", shape);
        var dt = dtype ?? DefaultDType;
        var storage = AllocateStorage("zeros", shape, dt, device ?? Devices.Default, zeroed: true);
        return new Tensor(storage, new Layout(shape), addRef: false);
    }

    /// <summary>A tensor of ones.</summary>
    public static Tensor Ones(int[] shape, DType? dtype = null, Device? device = null) => Full(shape, 1.0, dtype, device);

    /// <summary>A tensor filled with <paramref name="value"/>.</summary>
    public static Tensor Full(int[] shape, double value, DType? dtype = null, Device? device = null)
    {
        var t = Empty(CheckShape("full", shape), dtype, device);
        t.Backend.Fill(t, value);
        return t;
    }

    /// <summary>A rank-0 tensor holding <paramref name="value"/>.</summary>
    public static Tensor Scalar(double value, DType? dtype = null, Device? device = null) => Full([], value, dtype, device);

    /// <summary>Zeros with the shape, dtype and device of <paramref name="other"/>.</summary>
    public static Tensor ZerosLike(Tensor other) => Zeros(other.Layout.Shape, other.DType, other.Device);

    /// <summary>Ones with the shape, dtype and device of <paramref name="other"/>.</summary>
    public static Tensor OnesLike(Tensor other) => Ones(other.Layout.Shape, other.DType, other.Device);

    /// <summary>Values start, start+step, ... below end (PyTorch's <c>arange</c>).</summary>
    public static Tensor Arange(double start, double end, double step = 1, DType? dtype = null, Device? device = null)
    {
        if (step == 0) throw new ArgumentException("arange: step must be nonzero.");
        if ((end - start) / step < 0) throw new ArgumentException($"arange: upper bound and step have inconsistent signs (start={start}, end={end}, step={step}).");
        int n = (int)Math.Ceiling((end - start) / step);
        var values = new double[n];
        for (int i = 0; i < n; i++) values[i] = start + i * step;
        return FromArray(values, [n]).ToDType(dtype ?? DefaultDType).ToDevice(device ?? Devices.Default);
    }

    /// <summary>Values from 0 to end-1 (PyTorch's <c>arange(end)</c>).</summary>
    public static Tensor Arange(double end, DType? dtype = null, Device? device = null) => Arange(0, end, 1, dtype, device);

    /// <summary><paramref name="steps"/> values evenly spaced from start to end inclusive.</summary>
    public static Tensor Linspace(double start, double end, int steps, DType? dtype = null, Device? device = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(steps);
        var values = new double[steps];
        double step = steps > 1 ? (end - start) / (steps - 1) : 0;
        // Fill from both ends, as PyTorch does, so the last value is exactly 'end'; a single step is 'start'.
        if (steps == 1) values[0] = start;
        else for (int i = 0; i < steps; i++) values[i] = i < steps / 2 ? start + step * i : end - step * (steps - 1 - i);
        return FromArray(values, [steps]).ToDType(dtype ?? DefaultDType).ToDevice(device ?? Devices.Default);
    }

    private static unsafe Tensor FromSpan<T>(ReadOnlySpan<T> data, int[]? shape, DType dtype) where T : unmanaged
    {
        shape = CheckShape("from_array", shape ?? [data.Length]);
        if (Layout.Count(shape) != data.Length)
            throw new ArgumentException($"from_array: {data.Length} values cannot fill shape {Layout.Format(shape)} ({Layout.Count(shape)} elements).");
        var t = Empty(shape, dtype, Device.Cpu);
        data.CopyTo(new Span<T>(((CpuStorage)t.Storage).Pointer, data.Length));
        return t;
    }

    /// <summary>An F32 tensor holding a copy of <paramref name="data"/>, shaped <paramref name="shape"/> (1-D by default).</summary>
    public static Tensor FromArray(ReadOnlySpan<float> data, int[]? shape = null) => FromSpan(data, shape, DType.F32);

    /// <summary>An F64 tensor holding a copy of <paramref name="data"/>.</summary>
    public static Tensor FromArray(ReadOnlySpan<double> data, int[]? shape = null) => FromSpan(data, shape, DType.F64);

    /// <summary>An I64 tensor holding a copy of <paramref name="data"/>.</summary>
    public static Tensor FromArray(ReadOnlySpan<long> data, int[]? shape = null) => FromSpan(data, shape, DType.I64);

    /// <summary>A Bool tensor holding a copy of <paramref name="data"/>.</summary>
    public static Tensor FromArray(ReadOnlySpan<bool> data, int[]? shape = null)
    {
        var bytes = new byte[data.Length];
        for (int i = 0; i < data.Length; i++) bytes[i] = data[i] ? (byte)1 : (byte)0;
        return FromSpan<byte>(bytes, shape, DType.Bool);
    }

    /// <summary>A tensor from a rectangular array of any rank (float, double, long or bool elements).</summary>
    public static Tensor FromArray(Array data)
    {
        var shape = new int[data.Rank];
        for (int d = 0; d < data.Rank; d++) shape[d] = data.GetLength(d);
        return data switch
        {
            float[] f => FromArray(f, shape),
            double[] f => FromArray(f, shape),
            long[] f => FromArray(f, shape),
            bool[] f => FromArray(f, shape),
            _ when data.GetType().GetElementType() == typeof(float) => FromArray(data.Cast<float>().ToArray(), shape),
            _ when data.GetType().GetElementType() == typeof(double) => FromArray(data.Cast<double>().ToArray(), shape),
            _ when data.GetType().GetElementType() == typeof(long) => FromArray(data.Cast<long>().ToArray(), shape),
            _ when data.GetType().GetElementType() == typeof(bool) => FromArray(data.Cast<bool>().ToArray(), shape),
            _ => throw new ArgumentException($"from_array: element type {data.GetType().GetElementType()} is not supported (float, double, long, bool)."),
        };
    }

    private static Tensor RandomTensor(string op, int[] shape, RandomDistribution dist, double p0, double p1, DType dtype, Device? device, Generator? generator)
    {
        var t = Empty(CheckShape(op, shape), dtype, device);
        var g = generator ?? Generator.Default;
        ulong offset = g.Reserve(Philox.BlocksFor(dist, dtype, t.NumEl));
        t.Backend.Random(t, dist, g.Seed, offset, p0, p1);
        return t;
    }

    /// <summary>Uniform samples on [0, 1) from the counter-based generator.</summary>
    public static Tensor Rand(int[] shape, DType? dtype = null, Device? device = null, Generator? generator = null)
    {
        var dt = dtype ?? DefaultDType;
        if (!dt.IsFloatingPoint()) throw new ArgumentException($"rand: expected a floating point dtype, got {dt.TorchName()}.");
        return RandomTensor("rand", shape, RandomDistribution.Uniform, 0, 1, dt, device, generator);
    }

    /// <summary>Standard normal samples from the counter-based generator.</summary>
    public static Tensor Randn(int[] shape, DType? dtype = null, Device? device = null, Generator? generator = null)
    {
        var dt = dtype ?? DefaultDType;
        if (!dt.IsFloatingPoint()) throw new ArgumentException($"randn: expected a floating point dtype, got {dt.TorchName()}.");
        return RandomTensor("randn", shape, RandomDistribution.Normal, 0, 1, dt, device, generator);
    }

    /// <summary>Integers uniform on [low, high), I64 unless another dtype is given.</summary>
    public static Tensor RandInt(long low, long high, int[] shape, DType dtype = DType.I64, Device? device = null, Generator? generator = null)
    {
        if (high <= low) throw new ArgumentException($"randint: expected low < high, got low={low}, high={high}.");
        if (dtype == DType.Bool) throw new ArgumentException("randint: the dtype cannot be bool.");
        var t = Empty(CheckShape("randint", shape), DType.I64, device);
        var g = generator ?? Generator.Default;
        ulong offset = g.Reserve(Philox.BlocksFor(RandomDistribution.Integer, DType.I64, t.NumEl));
        t.Backend.RandomInteger(t, g.Seed, offset, low, high);
        if (dtype == DType.I64) return t;
        using (t) return t.ToDType(dtype);
    }

    /// <summary>This tensor if its data is already one row-major span; otherwise a contiguous copy (recorded on the tape).</summary>
    public Tensor Contiguous()
    {
        ThrowIfDisposed("contiguous");
        return IsContiguous ? this : Clone();
    }

    /// <summary>A contiguous handle the caller owns and must dispose: an alias when the data is already contiguous, else a copy.</summary>
    internal Tensor ContiguousHandle() => IsContiguous ? Alias() : Clone();

    /// <summary>A contiguous copy with its own storage; gradients flow back to this tensor.</summary>
    public Tensor Clone()
    {
        ThrowIfDisposed("clone");
        var y = Empty(Layout.Shape, DType, Device);
        Backend.Copy(this, y);
        if (Autograd.Tape.ShouldRecord(this))
            Autograd.Tape.Record("clone", [this], [y], g => [g[0]]);
        return y;
    }

    /// <summary>This tensor converted to <paramref name="dtype"/> (this tensor itself when it already has it).</summary>
    public Tensor ToDType(DType dtype)
    {
        ThrowIfDisposed("to");
        if (dtype == DType) return this;
        var y = Empty(Layout.Shape, dtype, Device);
        Backend.Copy(this, y);
        if (dtype.IsFloatingPoint() && Autograd.Tape.ShouldRecord(this))
        {
            var from = DType;
            Autograd.Tape.Record("to_" + dtype.ShortName(), [this], [y], g => [g[0].ToDType(from)]);
        }
        return y;
    }

    /// <summary>
    /// This tensor on <paramref name="device"/> (this tensor itself when it is already there), like PyTorch's
    /// <c>to(device)</c>: a contiguous copy, recorded on the tape so that the gradient goes back to the
    /// source device. A copy to the host waits for the device's queued work.
    /// </summary>
    public unsafe Tensor ToDevice(Device device)
    {
        ThrowIfDisposed("to");
        if (device == Device) return this;
        Devices.Check(device, "to");
        var y = Empty(Layout.Shape, DType, device);
        using (Autograd.Tape.NoGrad())
        using (var src = ContiguousHandle())
        {
            if (Device.Type == DeviceType.Cpu)
                y.Backend.CopyFromHost((byte*)((CpuStorage)src.Storage).Pointer + src.Offset * DType.SizeOf(), y);
            else if (device.Type == DeviceType.Cpu)
                Backend.CopyToHost(src, (byte*)((CpuStorage)y.Storage).Pointer);
            else
            {
                // Between two GPUs, through the host: peer copies are not bound.
                using var host = src.ToDevice(Device.Cpu);
                y.Backend.CopyFromHost((byte*)((CpuStorage)host.Storage).Pointer + host.Offset * DType.SizeOf(), y);
            }
        }
        if (Autograd.Tape.ShouldRecord(this))
        {
            var from = Device;
            Autograd.Tape.Record("to_" + device.Type.ToString().ToLowerInvariant(), [this], [y], g => [g[0].ToDevice(from)]);
        }
        return y;
    }

    /// <summary>Copies <paramref name="src"/> (broadcast to this shape, any dtype, any device) into this tensor in place, like <c>copy_</c>.</summary>
    public Tensor CopyFrom(Tensor src)
    {
        if (src.Device != Device)
        {
            // copy_ crosses devices: bring the source here first (not recorded: in-place copies never are).
            src.ThrowIfDisposed("copy_");
            using (Autograd.Tape.NoGrad())
            using (var here = src.ToDevice(Device))
                return CopyFrom(here);
        }
        CheckInPlace("copy_", src);
        using var b = src.BroadcastTo(Layout.Shape);
        Backend.Copy(b, this);
        Storage.BumpVersion();
        return this;
    }

    /// <summary>Sets every element to <paramref name="value"/> in place, like <c>fill_</c>.</summary>
    public Tensor Fill(double value)
    {
        CheckInPlace("fill_");
        Backend.Fill(this, value);
        Storage.BumpVersion();
        return this;
    }

    /// <summary>Sets every element to zero in place, like <c>zero_</c>.</summary>
    public Tensor ZeroInPlace() => Fill(0);

    /// <summary>In-place operations are allowed only where the tape cannot be affected.</summary>
    internal void CheckInPlace(string op, params Tensor?[] others)
    {
        ThrowIfDisposed(op);
        if (Autograd.Tape.IsRecording && RequiresGrad)
        {
            if (IsLeaf)
                throw new InvalidOperationException($"{op}: a leaf tensor that requires grad is being used in an in-place operation; wrap it in Tape.NoGrad().");
            throw new InvalidOperationException($"{op}: in-place operations on a tensor recorded on the tape are not supported; use the out-of-place form.");
        }
        foreach (var o in others)
        {
            if (o is null) continue;
            o.ThrowIfDisposed(op);
            if (o.Device != Device)
                throw new ArgumentException($"{op}: expected all tensors to be on the same device, but found {Device} and {o.Device} (shapes {Layout.Format(Layout.Shape)} and {Layout.Format(o.Layout.Shape)}).");
            if (Autograd.Tape.IsRecording && o.RequiresGrad)
                throw new InvalidOperationException($"{op}: the source requires grad; in-place operations are not recorded on the tape. Use the out-of-place form or Tape.NoGrad().");
        }
    }
}
