using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Engine.Cpu;

namespace Engine.Ops;

/// <summary>
/// The matrices of a convolution as GEMM operands that pack themselves straight from the tensors, so the
/// column matrix of <see cref="Im2Col"/> is never written: its micro-panels are filled from the input image
/// while they are still in the cache the micro-kernel reads them from. The whole batch is one matrix: column
/// (or k step) j is pixel j % (Ho·Wo) of image j / (Ho·Wo).
/// </summary>
/// <remarks>
/// Every panel holds exactly the values the column matrix would hold (zeros in the padding), so the GEMM
/// computes the same sums in the same order as over a stored matrix.
/// </remarks>
internal static unsafe class ConvOperands
{
    [ThreadStatic] private static bool t_scalarEdges;

    /// <summary>
    /// Tests only: copy the rows of stride-1 convolutions with whole vectors and a scalar tail instead of masked
    /// vectors (the layout before the masked copies; same bits). Read by an operand when it is created, on the
    /// calling thread, so the GEMM's workers see the caller's setting.
    /// </summary>
    internal static bool ScalarEdges
    {
        get => t_scalarEdges;
        set => t_scalarEdges = value;
    }

    /// <summary>Whether the masked row copy can run: AVX-512 (masked loads never touch the masked-off lanes' memory).</summary>
    private static bool MaskedCopies => Avx512F.IsSupported && Vector512.IsHardwareAccelerated && !t_scalarEdges;

    /// <summary>A run of output pixels along one output row of one image: lanes or steps [At, At + Length).</summary>
    private struct Run
    {
        public int At, Length, Image, Oy, Ox;

        /// <summary>
        /// For the masked stride-1 copies: the input row of tap (0, 0) (may be outside the input, in the padding),
        /// and where its output column 0 reads, channel 0 of the run's image (may point before the row).
        /// </summary>
        public int Iy0;
        public long Offset;
    }

    /// <summary>
    /// Cuts output pixels [<paramref name="first"/>, + <paramref name="count"/>) of the batch into runs along
    /// output rows (whole planes for a pointwise convolution, whose "row" is the plane). Returns the number of runs.
    /// </summary>
    private static int Runs(ConvGeometry g, long first, int count, Span<Run> runs)
    {
        int rowLength = g.IsPointwise ? g.OutPlane : g.Wo;
        int image = (int)(first / g.OutPlane), pixel = (int)(first % g.OutPlane);
        int oy = pixel / rowLength, ox = pixel % rowLength;
        int n = 0;
        for (int at = 0; at < count;)
        {
            int length = Math.Min(count - at, rowLength - ox);
            int iy0 = oy * g.SH - g.PadTop;
            long offset = (long)image * g.Cin * g.InPlane + (long)iy0 * g.W + ox * g.SW - g.PadLeft;
            runs[n++] = new Run { At = at, Length = length, Image = image, Oy = oy, Ox = ox, Iy0 = iy0, Offset = offset };
            at += length;
            ox = 0;
            if (++oy * rowLength == g.OutPlane)
            {
                oy = 0;
                image++;
            }
        }
        return n;
    }

    /// <summary>Most runs a span of <paramref name="count"/> pixels can cut into.</summary>
    private static int MaxRuns(ConvGeometry g, int count) => Math.Min(count, count / (g.IsPointwise ? g.OutPlane : g.Wo) + 2);

    /// <summary>
    /// Copies column-matrix row (<paramref name="c"/>, <paramref name="ky"/>, <paramref name="kx"/>) over one run
    /// to <paramref name="dst"/> (contiguous). <paramref name="lo"/>..<paramref name="hi"/> are the output columns
    /// whose tap kx reads inside the input (<see cref="Im2Col.ValidColumns"/>, worked out once per tap by the caller).
    /// </summary>
    private static void CopyRun<T>(ConvGeometry g, T* x, in Run run, int c, int ky, int kx, int lo, int hi, T* dst)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int length = run.Length;
        T* plane = x + ((long)run.Image * g.Cin + c) * g.InPlane;
        if (g.IsPointwise)
        {
            Copy(plane + run.Ox, dst, length);
            return;
        }
        int iy = run.Oy * g.SH - g.PadTop + ky * g.DH;
        if ((uint)iy >= (uint)g.H)
        {
            Zero(dst, length);
            return;
        }
        lo = Math.Clamp(lo - run.Ox, 0, length);
        hi = Math.Clamp(hi - run.Ox, lo, length);
        T* src = plane + (long)iy * g.W + (run.Ox * g.SW - g.PadLeft + kx * g.DW);
        Zero(dst, lo);
        if (g.SW == 1) Copy(src + lo, dst + lo, hi - lo);
        else for (int q = lo; q < hi; q++) dst[q] = src[(long)q * g.SW];
        Zero(dst + hi, length - hi);
    }

    /// <summary>
    /// The masked path of <see cref="CopyRun{T}"/> for a stride-1 row, with the run's offsets worked out once
    /// (<see cref="Run.Offset"/>) and the tap's once per step: <paramref name="tap"/> is c·H·W + ky·dH·W + kx·dW,
    /// <paramref name="lo"/>..<paramref name="hi"/> the tap's valid output columns (<see cref="Im2Col.ValidColumns"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CopyRunMasked<T>(T* x, in Run run, long tap, int iy, int h, int lo, int hi, T* dst) where T : unmanaged
    {
        if ((uint)iy >= (uint)h) MaskedCopy(x, dst, run.Length, 0, 0);
        else MaskedCopy(x + run.Offset + tap, dst, run.Length, Math.Max(lo - run.Ox, 0), Math.Min(hi - run.Ox, run.Length));
    }

    /// <summary>
    /// dst[q] = src[q] for q in [lo, hi), zero elsewhere in [0, length): whole vectors throughout, the padding
    /// columns and the run's ragged end through masks, where the scalar path spends a loop per element. Masked
    /// loads do not touch the masked-off lanes' memory, so src may point outside the input there.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void MaskedCopy<T>(T* src, T* dst, int length, int lo, int hi) where T : unmanaged
    {
        if (typeof(T) == typeof(float))
        {
            float* s = (float*)src, d = (float*)dst;
            var vlo = Vector512.Create(lo);
            var vhi = Vector512.Create(hi);
            var vlength = Vector512.Create(length);
            for (int q = 0; q < length; q += 16)
            {
                if (q >= lo && q + 16 <= hi)
                {
                    Vector512.Store(Vector512.Load(s + q), d + q);
                    continue;
                }
                var at = Vector512<int>.Indices + Vector512.Create(q);
                var inside = Vector512.GreaterThanOrEqual(at, vlo) & Vector512.LessThan(at, vhi);
                var v = Avx512F.MaskLoad(s + q, inside.AsSingle(), Vector512<float>.Zero);
                if (q + 16 <= length) Vector512.Store(v, d + q);
                else Avx512F.MaskStore(d + q, Vector512.LessThan(at, vlength).AsSingle(), v);
            }
        }
        else if (typeof(T) == typeof(double))
        {
            double* s = (double*)src, d = (double*)dst;
            var vlo = Vector512.Create((long)lo);
            var vhi = Vector512.Create((long)hi);
            var vlength = Vector512.Create((long)length);
            for (int q = 0; q < length; q += 8)
            {
                if (q >= lo && q + 8 <= hi)
                {
                    Vector512.Store(Vector512.Load(s + q), d + q);
                    continue;
                }
                var at = Vector512<long>.Indices + Vector512.Create((long)q);
                var inside = Vector512.GreaterThanOrEqual(at, vlo) & Vector512.LessThan(at, vhi);
                var v = Avx512F.MaskLoad(s + q, inside.AsDouble(), Vector512<double>.Zero);
                if (q + 8 <= length) Vector512.Store(v, d + q);
                else Avx512F.MaskStore(d + q, Vector512.LessThan(at, vlength).AsDouble(), v);
            }
        }
        else throw new NotSupportedException($"conv2d: element type {typeof(T).Name} is not supported (float or double).");
    }

    /// <summary>The valid output columns of every tap kx (<see cref="Im2Col.ValidColumns"/>), (lo, hi) pairs.</summary>
    private static int[] ValidColumnTable(ConvGeometry g)
    {
        var table = new int[2 * g.KW];
        for (int kx = 0; kx < g.KW; kx++) (table[2 * kx], table[2 * kx + 1]) = Im2Col.ValidColumns(g, kx);
        return table;
    }

    // Runs are a few dozen elements: whole vectors and a scalar tail beat a memmove call there.
    private static void Copy<T>(T* src, T* dst, int n) where T : unmanaged
    {
        int q = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; q <= n - Vector512<T>.Count; q += Vector512<T>.Count) Vector512.Store(Vector512.Load(src + q), dst + q);
        else if (Vector256.IsHardwareAccelerated)
            for (; q <= n - Vector256<T>.Count; q += Vector256<T>.Count) Vector256.Store(Vector256.Load(src + q), dst + q);
        for (; q < n; q++) dst[q] = src[q];
    }

    private static void Zero<T>(T* dst, int n) where T : unmanaged
    {
        int q = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; q <= n - Vector512<T>.Count; q += Vector512<T>.Count) Vector512.Store(Vector512<T>.Zero, dst + q);
        for (; q < n; q++) dst[q] = default;
    }

    /// <summary>
    /// Group <paramref name="group"/>'s column matrix as B of the forward product W_g · cols_g: k step r is row
    /// (c, ky, kx) of the group, lane j is output pixel j of the batch.
    /// </summary>
    public sealed class Columns<T>(ConvGeometry g, T* x, int group) : GemmOperand<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        private readonly T* _x = x;
        private readonly int[] _valid = ValidColumnTable(g);
        private readonly bool _masked = MaskedCopies;

        public override void PackPanel(T* dst, long lane0, int lanes, int width, int step0, int steps)
        {
            Span<Run> runs = stackalloc Run[MaxRuns(g, lanes)];
            int count = Runs(g, lane0, lanes, runs);
            int taps = g.KH * g.KW;
            int c = group * g.CinG + step0 / taps, ky = step0 % taps / g.KW, kx = step0 % g.KW;
            if (_masked && g.SW == 1 && !g.IsPointwise)
            {
                fixed (Run* r = runs)
                fixed (int* valid = _valid)
                    PackMasked(g, _x, valid, r, count, dst, lanes, width, steps, c, ky, kx);
                return;
            }
            for (int p = 0; p < steps; p++)
            {
                T* d = dst + (long)p * width;
                int lo = _valid[2 * kx], hi = _valid[2 * kx + 1];
                for (int i = 0; i < count; i++) CopyRun(g, _x, runs[i], c, ky, kx, lo, hi, d + runs[i].At);
                if (lanes < width) Zero(d + lanes, width - lanes);
                // Next row of the column matrix: (c, ky, kx) in row-major order.
                if (++kx == g.KW)
                {
                    kx = 0;
                    if (++ky == g.KH) { ky = 0; c++; }
                }
            }
        }
    }

    /// <summary>
    /// The masked stride-1 path of <see cref="Columns{T}.PackPanel"/> from step (c, ky, kx) on: a method of its own,
    /// without the caller's stackalloc, so the JIT tiers it up with its profile and keeps the loop in registers
    /// (inline in PackPanel it spilled a dozen values per step). The tap's offset moves by dW along a kernel row.
    /// </summary>
    private static void PackMasked<T>(ConvGeometry g, T* x, int* valid, Run* runs, int count, T* dst, int lanes, int width,
        int steps, int c, int ky, int kx) where T : unmanaged
    {
        int kw = g.KW, kh = g.KH, h = g.H, dh = g.DH, dw = g.DW;
        long plane = g.InPlane, kernelRow = (long)dh * g.W;
        long tap = c * plane + ky * kernelRow + kx * dw;
        int iyOff = ky * dh;
        for (int p = 0; p < steps; p++)
        {
            T* d = dst + (long)p * width;
            int lo = valid[2 * kx], hi = valid[2 * kx + 1];
            for (int i = 0; i < count; i++)
            {
                Run* run = runs + i;
                CopyRunMasked(x, *run, tap, run->Iy0 + iyOff, h, lo, hi, d + run->At);
            }
            if (lanes < width) Zero(d + lanes, width - lanes);
            // Next row of the column matrix: (c, ky, kx) in row-major order.
            tap += dw;
            if (++kx == kw)
            {
                kx = 0;
                iyOff += dh;
                if (++ky == kh)
                {
                    ky = 0;
                    iyOff = 0;
                    c++;
                }
                tap = c * plane + ky * kernelRow;
            }
        }
    }

    /// <summary>
    /// The masked stride-1 path of <see cref="ColumnRows{T}.PackPanel"/>: column-matrix rows [row0, + lanes) (counted
    /// over all groups: c·kH·kW + ky·kW + kx) over the runs, row l to rows + l·steps. A method of its own for the
    /// reason given at <see cref="PackMasked{T}"/>.
    /// </summary>
    private static void PackRowsMasked<T>(ConvGeometry g, T* x, int* valid, Run* runs, int count, T* rows, long row0, int lanes, int steps)
        where T : unmanaged
    {
        int taps = g.KH * g.KW, kw = g.KW, h = g.H, dh = g.DH;
        for (int l = 0; l < lanes; l++)
        {
            long r = row0 + l;
            int c = (int)(r / taps), ky = (int)(r % taps) / kw, kx = (int)(r % kw);
            int lo = valid[2 * kx], hi = valid[2 * kx + 1], iyOff = ky * dh;
            long tap = (long)c * g.InPlane + (long)ky * dh * g.W + kx * g.DW;
            T* row = rows + (long)l * steps;
            for (int i = 0; i < count; i++)
            {
                Run* run = runs + i;
                CopyRunMasked(x, *run, tap, run->Iy0 + iyOff, h, lo, hi, row + run->At);
            }
        }
    }

    /// <summary>
    /// Group <paramref name="group"/>'s column matrix as A of the transposed weight gradient cols_g · gY_gᵀ:
    /// lane r is row (c, ky, kx) of the group, k step p is output pixel p of the batch.
    /// </summary>
    /// <remarks>Each lane's run is first copied whole (contiguous reads and writes), then the lanes are interleaved into the panel.</remarks>
    public sealed class ColumnRows<T>(ConvGeometry g, T* x, int group) : GemmOperand<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        private readonly T* _x = x;
        private readonly int[] _valid = ValidColumnTable(g);
        private readonly bool _masked = MaskedCopies;

        public override void PackPanel(T* dst, long lane0, int lanes, int width, int step0, int steps)
        {
            Span<Run> runs = stackalloc Run[MaxRuns(g, steps)];
            int count = Runs(g, step0, steps, runs);
            int taps = g.KH * g.KW;
            T* rows = (T*)ConvOperandBuffer.Get((long)lanes * steps * sizeof(T));
            if (_masked && g.SW == 1 && !g.IsPointwise)
            {
                fixed (Run* r = runs)
                fixed (int* valid = _valid)
                    PackRowsMasked(g, _x, valid, r, count, rows, group * g.Kg + lane0, lanes, steps);
            }
            else
                for (int l = 0; l < lanes; l++)
                {
                    long r = lane0 + l;
                    int c = group * g.CinG + (int)(r / taps), ky = (int)(r % taps) / g.KW, kx = (int)(r % g.KW);
                    int lo = _valid[2 * kx], hi = _valid[2 * kx + 1];
                    for (int i = 0; i < count; i++) CopyRun(g, _x, runs[i], c, ky, kx, lo, hi, rows + (long)l * steps + runs[i].At);
                }
            GemmPack.Pack(dst, rows, steps, 1, lanes, steps, width, 0, 1);
        }
    }

    /// <summary>
    /// Group <paramref name="group"/>'s output gradient gY_g, lane i output channel i of the group and k step p
    /// output pixel p of the batch (images side by side): B of the transposed weight gradient (gY_gᵀ).
    /// </summary>
    public sealed class OutputRows<T>(ConvGeometry g, T* gy, int group) : GemmOperand<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        private readonly T* _gy = gy;

        public override void PackPanel(T* dst, long lane0, int lanes, int width, int step0, int steps)
        {
            for (int at = 0; at < steps;)
            {
                long pixel = step0 + (long)at;
                int image = (int)(pixel / g.OutPlane), offset = (int)(pixel % g.OutPlane);
                int length = Math.Min(steps - at, g.OutPlane - offset);
                T* src = _gy + ((long)image * g.Cout + group * g.CoutG + lane0) * g.OutPlane + offset;
                GemmPack.Pack(dst + (long)at * width, src, g.OutPlane, 1, lanes, length, width, 0, 1);
                at += length;
            }
        }
    }
}

/// <summary>Per-thread scratch of <see cref="ConvOperands.ColumnRows{T}"/>: grow-only, 64-byte aligned, freed with the thread.</summary>
internal sealed unsafe class ConvOperandBuffer
{
    [ThreadStatic] private static ConvOperandBuffer? t_buffer;
    private void* _ptr;
    private long _bytes;

    public static void* Get(long bytes)
    {
        var b = t_buffer ??= new ConvOperandBuffer();
        if (bytes > b._bytes)
        {
            System.Runtime.InteropServices.NativeMemory.AlignedFree(b._ptr);
            b._ptr = null;
            b._bytes = 0;
            b._ptr = System.Runtime.InteropServices.NativeMemory.AlignedAlloc((nuint)bytes, 64);
            b._bytes = bytes;
        }
        return b._ptr;
    }

    ~ConvOperandBuffer() => System.Runtime.InteropServices.NativeMemory.AlignedFree(_ptr);
}
