using Engine.Cpu;
using Engine.Cuda.Native;
using Engine.Tests.Support;
using Xunit;
using static Engine.Tests.CudaEmulator.DeviceArrays;

namespace Engine.Tests.CudaEmulator;

/// <summary>
/// cuFFT through the engine's own bindings (<see cref="CuFft"/>): every transform type against the engine's
/// CPU FFT in basic and advanced layouts on any CUDA driver (the emulator here); the emulator's own promises
/// (C2R's poisoned input, the work-area rules, every bad argument's result code) on the emulator only.
/// </summary>
public class EmulatedCuFftTests
{
    // The CPU reference: a dense row-major complex array of shape dims per batch member, transformed along
    // every axis with the engine's 1-D FFT (each axis's lines gathered into rows).
    private static void CpuFft(double[] re, double[] im, int[] dims, int batch, bool inverse)
    {
        int count = dims.Aggregate(1, (x, y) => x * y);
        for (int axis = 0; axis < dims.Length; axis++)
        {
            int n = dims[axis], inner = dims.Skip(axis + 1).Aggregate(1, (x, y) => x * y), lines = batch * count / n;
            var (lr, li) = (new double[lines * n], new double[lines * n]);
            for (int line = 0; line < lines; line++)
                for (int t = 0; t < n; t++)
                {
                    int at = (line / inner * n + t) * inner + line % inner;
                    (lr[line * n + t], li[line * n + t]) = (re[at], im[at]);
                }
            Fft.Transform(lr, li, n, lines, inverse);
            for (int line = 0; line < lines; line++)
                for (int t = 0; t < n; t++)
                {
                    int at = (line / inner * n + t) * inner + line % inner;
                    (re[at], im[at]) = (lr[line * n + t], li[line * n + t]);
                }
        }
    }

    private static double[] Interleave(double[] re, double[] im) => re.Zip(im).SelectMany(p => new[] { p.First, p.Second }).ToArray();
    private static float[] ToFloat(double[] v) => v.Select(x => (float)x).ToArray();
    private static double[] ToDouble(float[] v) => v.Select(x => (double)x).ToArray();
    private static double[] AsFloats(double[] v) => ToDouble(ToFloat(v));

    private static void Near(double[] expected, double[] actual, double tol, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        double scale = 1 + expected.Max(Math.Abs);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tol * scale, $"{what}: element {i} is {actual[i]:R}, CPU gives {expected[i]:R}");
    }

    private static int BasicPlan(int[] n, FftType type, int batch)
    {
        int plan = CuFft.Create();
        CuFft.MakePlanMany(plan, n, [], 1, 0, [], 1, 0, type, batch);
        return plan;
    }

    [GpuFact]
    public void ComplexTransformsMatchTheCpuFft()
    {
        ComplexCase([12], 3, FftDirection.Forward);
        ComplexCase([6, 10], 2, FftDirection.Inverse);
        ComplexCase([32, 4], 1, FftDirection.Forward);
    }

    private static void ComplexCase(int[] dims, int batch, FftDirection direction)
    {
        using var d = new DeviceArrays();
        int count = dims.Aggregate(1, (x, y) => x * y) * batch;
        var (re, im) = (AsFloats(Random(1, count)), AsFloats(Random(2, count)));
        var input = Interleave(re, im);
        CpuFft(re, im, dims, batch, direction == FftDirection.Inverse);
        var want = Interleave(re, im);
        string what = $"{string.Join("x", dims)} batch {batch} {direction}";

        int c2c = BasicPlan(dims, FftType.C2C, batch);
        var output = d.Alloc<float>(2 * count);
        CuFft.ExecC2C(c2c, d.Upload(ToFloat(input)), output, direction);
        Near(want, ToDouble(Download<float>(output, 2 * count)), 1e-6, "C2C " + what);

        int z2z = BasicPlan(dims, FftType.Z2Z, batch);
        var (zin, zout) = (d.Upload(input), d.Alloc<double>(2 * count));
        CuFft.ExecZ2Z(z2z, zin, zout, direction);
        Near(want, Download<double>(zout, 2 * count), 1e-13, "Z2Z " + what);
        CuFft.ExecZ2Z(z2z, zin, zin, direction);
        Near(want, Download<double>(zin, 2 * count), 1e-13, "Z2Z in place " + what);
        CuFft.Destroy(c2c);
        CuFft.Destroy(z2z);
    }

    [GpuFact]
    public void RealTransformsMatchTheCpuFftAndRoundTrip()
    {
        RealCase([10], 3);
        RealCase([9], 2);
        RealCase([6, 8], 2);
        RealCase([5, 7], 1);
    }

    private static void RealCase(int[] dims, int batch)
    {
        using var d = new DeviceArrays();
        int count = dims.Aggregate(1, (x, y) => x * y), last = dims[^1], h = last / 2 + 1, half = count / last * h;
        var x = AsFloats(Random(3, count * batch));
        var (re, im) = ((double[])x.Clone(), new double[count * batch]);
        CpuFft(re, im, dims, batch, inverse: false);
        var want = new double[2 * half * batch];  // the first n/2+1 bins of each last-axis line
        for (int line = 0; line < batch * count / last; line++)
            for (int k = 0; k < h; k++) (want[2 * (line * h + k)], want[2 * (line * h + k) + 1]) = (re[line * last + k], im[line * last + k]);

        foreach (bool dbl in new[] { false, true })
        {
            string what = $"{(dbl ? "D2Z/Z2D" : "R2C/C2R")} {string.Join("x", dims)} batch {batch}";
            int forward = BasicPlan(dims, dbl ? FftType.D2Z : FftType.R2C, batch);
            int inverse = BasicPlan(dims, dbl ? FftType.Z2D : FftType.C2R, batch);
            var real = dbl ? d.Upload(x) : d.Upload(ToFloat(x));
            var spectrum = dbl ? d.Alloc<double>(want.Length) : d.Alloc<float>(want.Length);
            var back = dbl ? d.Alloc<double>(count * batch) : d.Alloc<float>(count * batch);
            if (dbl) CuFft.ExecD2Z(forward, real, spectrum); else CuFft.ExecR2C(forward, real, spectrum);
            var got = dbl ? Download<double>(spectrum, want.Length) : ToDouble(Download<float>(spectrum, want.Length));
            Near(want, got, dbl ? 1e-13 : 1e-6, what + " forward");
            // C2R's input is a Hermitian half spectrum; it is unnormalised, so the round trip scales by the size.
            if (dbl) CuFft.ExecZ2D(inverse, spectrum, back); else CuFft.ExecC2R(inverse, spectrum, back);
            var roundTrip = dbl ? Download<double>(back, count * batch) : ToDouble(Download<float>(back, count * batch));
            Near(x.Select(v => v * count).ToArray(), roundTrip, dbl ? 1e-13 : 1e-6, what + " round trip");
            CuFft.Destroy(forward);
            CuFft.Destroy(inverse);
        }
    }

    [EmulatedLibraryFact]
    public void ComplexToRealPoisonsItsInputEvenOutOfPlace()
    {
        using var d = new DeviceArrays();
        var spectrum = new double[2 * 4 * 5];  // a 4x8 real transform's half spectrum: 4x5 complex
        spectrum[0] = 32;                       // DC only: the unnormalised inverse is 32 at every point
        int plan = BasicPlan([4, 8], FftType.Z2D, 1);
        var (input, output) = (d.Upload(spectrum), d.Alloc<double>(32));
        CuFft.ExecZ2D(plan, input, output);
        Assert.All(Download<double>(output, 32), v => Assert.Equal(32.0, v));
        Assert.All(Download<double>(input, spectrum.Length), v => Assert.True(double.IsNaN(v), "cuFFT may overwrite a C2R input: the emulator poisons it"));
        CuFft.Destroy(plan);
    }

    // The batched 2-D layout the engine uses over [B, H, W] (interop notes §3), with the input's rows padded:
    // element (b, y, x) at b·idist + (y·inembed[1] + x)·istride.
    [GpuFact]
    public void AdvancedLayoutReadsAndWritesThroughEmbedsStridesAndDists()
    {
        using var d = new DeviceArrays();
        const int B = 2, H = 3, W = 6, Wp = 9, K = W / 2 + 1;
        var x = Random(4, B * H * W);
        var padded = new double[B * H * Wp];
        for (int row = 0; row < B * H; row++) Array.Copy(x, row * W, padded, row * Wp, W);

        int basic = BasicPlan([H, W], FftType.D2Z, B);
        var dense = d.Alloc<double>(2 * B * H * K);
        CuFft.ExecD2Z(basic, d.Upload(x), dense);
        var want = Download<double>(dense, 2 * B * H * K);

        int advanced = CuFft.Create();
        CuFft.MakePlanMany(advanced, [H, W], [H, Wp], 1, H * Wp, [H, K], 1, H * K, FftType.D2Z, B);
        var spectrum = d.Alloc<double>(2 * B * H * K);
        CuFft.ExecD2Z(advanced, d.Upload(padded), spectrum);
        Near(want, Download<double>(spectrum, 2 * B * H * K), 1e-14, "padded input rows");

        // Output with stride 2 and a gap of one between members: the slots in between are never written.
        const int odist = 2 * H * K + 1;
        int strided = CuFft.Create();
        CuFft.MakePlanMany(strided, [H, W], [H, Wp], 1, H * Wp, [H, K], 2, odist, FftType.D2Z, B);
        var spread = d.NaNs<double>(2 * odist * B);
        CuFft.ExecD2Z(strided, d.Upload(padded), spread);
        var all = Download<double>(spread, 2 * odist * B);
        var gathered = new double[want.Length];
        for (int b = 0; b < B; b++)
            for (int e = 0; e < H * K; e++)
            {
                int at = b * odist + 2 * e;
                (gathered[2 * (b * H * K + e)], gathered[2 * (b * H * K + e) + 1]) = (all[2 * at], all[2 * at + 1]);
                Assert.True(double.IsNaN(all[2 * (at + 1)]) && double.IsNaN(all[2 * (at + 1) + 1]), $"slot {at + 1} lies between elements and stays unwritten");
            }
        Near(want, gathered, 1e-14, "strided output");
        foreach (int p in new[] { basic, advanced, strided }) CuFft.Destroy(p);
    }

    [EmulatedLibraryFact]
    public void WithoutAutoAllocationExecNeedsAWorkAreaOfTheReportedSize()
    {
        using var d = new DeviceArrays();
        int plan = CuFft.Create();
        CuFft.SetAutoAllocation(plan, false);
        ulong work = CuFft.MakePlanMany(plan, [8], [], 1, 0, [], 1, 0, FftType.C2C, 2);
        Assert.True(work > 0, "a non-zero work size");
        Assert.Equal(work, CuFft.WorkSize(plan));
        var input = d.Upload(Enumerable.Range(0, 32).Select(i => (float)i).ToArray());
        var output = d.Alloc<float>(32);
        Fails(6, "no work area", () => CuFft.ExecC2C(plan, input, output, FftDirection.Forward));
        CuFft.SetWorkArea(plan, d.Alloc<byte>((long)work - 1));
        Fails(6, "work area", () => CuFft.ExecC2C(plan, input, output, FftDirection.Forward));
        var area = d.Upload(new byte[work]);
        CuFft.SetWorkArea(plan, area);
        CuFft.ExecC2C(plan, input, output, FftDirection.Forward);
        Assert.Equal(0 + 2 + 4 + 6 + 8 + 10 + 12 + 14, Download<float>(output, 1)[0]);  // the real part of batch 0's DC
        Assert.All(Download<byte>(area, (long)work), v => Assert.Equal(0xFF, v));      // poisoned: nothing may rely on it
        var freed = Driver.MemAlloc(work);
        Driver.MemFree(freed);
        CuFft.SetWorkArea(plan, freed);
        Fails(6, "freed", () => CuFft.ExecC2C(plan, input, output, FftDirection.Forward));
        CuFft.Destroy(plan);
    }

    [EmulatedLibraryFact]
    public void BadArgumentsGiveCuFftResultCodesAndSayWhy()
    {
        using var d = new DeviceArrays();
        int plan = CuFft.Create();
        Assert.True(plan >= 1, "plan handles count from 1");
        ulong Make(int[] n, int[] inEmbed, int[] outEmbed, int stride, FftType type, int batch) =>
            CuFft.MakePlanMany(plan, n, inEmbed, stride, 64, outEmbed, stride, 64, type, batch);
        Fails(8, "rank", () => Make([], [], [], 1, FftType.C2C, 1));
        Fails(8, "rank", () => Make([2, 2, 2, 2], [], [], 1, FftType.C2C, 1));
        Fails(8, "at least 1", () => Make([4, 0], [], [], 1, FftType.C2C, 1));
        Fails(8, "batch", () => Make([4], [], [], 1, FftType.C2C, 0));
        Fails(3, "cufftType", () => Make([4], [], [], 1, (FftType)0x99, 1));
        Fails(4, "onembed is NULL", () => Make([4, 4], [4, 4], [], 1, FftType.C2C, 1));
        Fails(4, "embed[1]", () => Make([4, 4], [4, 3], [4, 4], 1, FftType.C2C, 1));
        Fails(4, "stride", () => Make([4, 4], [4, 4], [4, 4], 0, FftType.C2C, 1));
        Fails(1, "has not been made", () => CuFft.WorkSize(plan));
        Make([4], [], [], 1, FftType.C2C, 2);
        Fails(1, "already made", () => Make([4], [], [], 1, FftType.C2C, 2));
        Fails(1, "already made", () => CuFft.SetAutoAllocation(plan, false));

        var (input, output, wide) = (d.Upload(new float[16]), d.Alloc<float>(16), d.Upload(new float[32]));
        Fails(3, "C2C plan", () => CuFft.ExecR2C(plan, input, output));
        Fails(3, "C2C plan", () => CuFft.ExecZ2Z(plan, input, output, FftDirection.Forward));
        Fails(4, "direction", () => CuFft.ExecC2C(plan, input, output, (FftDirection)0));
        Fails(6, "input", () => CuFft.ExecC2C(plan, input.Offset(8), output, FftDirection.Forward));
        Fails(4, "overlap", () => CuFft.ExecC2C(plan, wide, wide.Offset(8), FftDirection.Forward));
        Fails(4, "not a live stream", () => CuFft.SetStream(plan, 0x1234));
        CuFft.Destroy(plan);
        Fails(1, "destroyed", () => CuFft.Destroy(plan));
        Fails(1, "destroyed", () => CuFft.ExecC2C(plan, input, output, FftDirection.Forward));
        Fails(1, "not made by cufftCreate", () => CuFft.SetWorkArea(987654, input));
    }
}
