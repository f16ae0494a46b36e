using System.Collections.Concurrent;
using Engine.Backends;
using Engine.Cuda.Native;

namespace Engine.Cuda.Runtime;

// The FFT primitive on cuFFT. Plans are slow to make, so each (device, kind, dtype, lengths, batch) gets
// one, made once, bound to the compute stream, without a work area of its own: each exec takes one from the
// caching allocator (stream order keeps that safe) and names it to the plan first, under the plan's lock, so
// that two threads sharing a plan cannot swap work areas between the naming and the exec. cuFFT's C2R
// overwrites its input even out of place, so that input is a copy. cuFFT also wants both pointers aligned to
// the complex element (8 bytes in float, 16 in double), the real side of R2C and C2R included: a contiguous
// view at an odd offset is staged through a fresh block (the allocator's blocks are aligned far beyond that).
internal sealed unsafe partial class CudaBackend
{
    private static readonly ConcurrentDictionary<(int Device, FftKind Kind, DType DType, string Lengths, long Batch), Lazy<(int Plan, ulong WorkBytes)>> Plans = new();

    public void Fft(Tensor x, Tensor y, FftKind kind, int[] lengths, bool inverse)
    {
        if (lengths.Length is < 1 or > 2) throw new ArgumentException($"fft: 1 or 2 transformed dimensions, not {lengths.Length}.");
        if (!x.DType.IsFloatingPoint()) throw Kernel.Missing("fft", x);
        long logical = lengths.Aggregate(1L, (p, n) => p * n);
        long batch = kind == FftKind.R2C ? x.NumEl / logical : y.NumEl / (kind == FftKind.C2R ? logical : 2 * logical);
        if (batch == 0 || logical == 0) return;
        if (batch > int.MaxValue) throw new NotSupportedException($"fft: {batch} transforms exceed cuFFT's 32-bit batch.");
        var device = DeviceOf(x);
        bool f32 = x.DType == DType.F32;
        var type = (kind, f32) switch
        {
            (FftKind.C2C, true) => FftType.C2C, (FftKind.C2C, false) => FftType.Z2Z,
            (FftKind.R2C, true) => FftType.R2C, (FftKind.R2C, false) => FftType.D2Z,
            (FftKind.C2R, true) => FftType.C2R, _ => FftType.Z2D,
        };
        var entry = Plans.GetOrAdd((device.Ordinal, kind, x.DType, string.Join("x", lengths), batch),
            key => new Lazy<(int, ulong)>(() => MakePlan(device, type, lengths, (int)key.Batch)));
        var (plan, workBytes) = entry.Value;

        long alignment = 2L * x.DType.SizeOf();
        bool Aligned(Tensor t) => ((CudaStorage)t.Storage).Address(t.Offset) % (ulong)alignment == 0;
        Tensor? copy = null, staged = null;
        var input = x;
        if (kind == FftKind.C2R || !Aligned(x))
        {
            copy = Tensor.Empty(x.Layout.Shape, x.DType, x.Device);
            Copy(x, copy);
            input = copy;
        }
        var output = Aligned(y) ? y : staged = Tensor.Empty(y.Layout.Shape, y.DType, y.Device);
        try
        {
            device.MakeCurrent();
            var work = device.Allocate(Math.Max(workBytes, 1));
            try
            {
                lock (entry)
                {
                    CuFft.SetStream(plan, device.Stream);
                    CuFft.SetWorkArea(plan, work.Pointer);
                    var pin = new CUdeviceptr(((CudaStorage)input.Storage).Address(input.Offset));
                    var pout = new CUdeviceptr(((CudaStorage)output.Storage).Address(output.Offset));
                    var direction = inverse ? FftDirection.Inverse : FftDirection.Forward;
                    device.Counters.LibraryCall();
                    switch (type)
                    {
                        case FftType.C2C: CuFft.ExecC2C(plan, pin, pout, direction); break;
                        case FftType.Z2Z: CuFft.ExecZ2Z(plan, pin, pout, direction); break;
                        case FftType.R2C: CuFft.ExecR2C(plan, pin, pout); break;
                        case FftType.D2Z: CuFft.ExecD2Z(plan, pin, pout); break;
                        case FftType.C2R: CuFft.ExecC2R(plan, pin, pout); break;
                        default: CuFft.ExecZ2D(plan, pin, pout); break;
                    }
                }
            }
            finally { device.Free(work); }
            if (staged is not null) Copy(staged, y);
        }
        finally
        {
            copy?.Dispose();
            staged?.Dispose();
        }
    }

    private static (int, ulong) MakePlan(CudaDevice device, FftType type, int[] lengths, int batch)
    {
        device.MakeCurrent();
        int plan = CuFft.Create();
        CuFft.SetAutoAllocation(plan, false);
        // The basic layout (no embeds): each transform's data is dense, one after another.
        ulong work = CuFft.MakePlanMany(plan, lengths, [], 1, 0, [], 1, 0, type, batch);
        CuFft.SetStream(plan, device.Stream);
        return (plan, work);
    }
}
