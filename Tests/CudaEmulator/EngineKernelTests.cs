using Engine.Cuda.Kernels;
using Engine.Cuda.Native;
using Engine.Randomness;
using Engine.Tests.Support;
using Xunit;

namespace Engine.Tests.CudaEmulator;

/// <summary>
/// The engine's own kernels (Engine/Cuda/Kernels/Sources), compiled by the emulator's NVRTC through the engine's
/// PtxCache and run through its Driver binding: the first time they run at all. Sizes are small: an elementwise
/// thread costs about 4 ns on the emulator, a thread at a barrier about 20 ns.
/// </summary>
public sealed class EngineKernelTests
{
    private static readonly Lazy<nint> EngineModule = new(() =>
    {
        var folder = Path.Combine(Path.GetTempPath(), "engine-emu-ptx-" + Guid.NewGuid().ToString("N"));
        try { return Driver.ModuleLoadData(PtxCache.WithNvrtc(folder).GetOrCompile(KernelSource.Assemble(), 90)); }
        finally { if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true); }
    });

    private static nint Kernel(string name) => Driver.ModuleGetFunction(EngineModule.Value, name);

    private static void Launch(string kernel, long n, params object[] args)
    {
        var config = LaunchConfig.ForElements(n);
        Emu.Launch(Kernel(kernel), config.GridX, config.BlockX, args);
    }

    // The prelude's struct Strided { int ndim; i64 sizes[8]; i64 strides[8]; }, passed by value.
    private static byte[] Strided(long[] sizes, long[] strides)
    {
        var raw = new byte[8 + 2 * 8 * KernelSource.MaxDims];
        BitConverter.TryWriteBytes(raw.AsSpan(0), sizes.Length);
        for (int d = 0; d < sizes.Length; d++)
        {
            BitConverter.TryWriteBytes(raw.AsSpan(8 + 8 * d), sizes[d]);
            BitConverter.TryWriteBytes(raw.AsSpan(8 + 8 * KernelSource.MaxDims + 8 * d), strides[d]);
        }
        return raw;
    }

    [GpuFact]
    public void Add_contiguous_adds_every_element_in_f32_and_f64()
    {
        Emu.MakeCurrent();
        const int n = 100_003;
        var a = Enumerable.Range(0, n).Select(i => (float)i).ToArray();
        var b = Enumerable.Range(0, n).Select(i => 0.5f * i - 7).ToArray();
        using (var da = DeviceBuffer.Of<float>(a))
        using (var db = DeviceBuffer.Of<float>(b))
        using (var dc = DeviceBuffer.Of<float>(n))
        {
            Launch("add_contiguous_f32", n, da, db, dc, (long)n);
            Assert.Equal(a.Zip(b, (x, y) => x + y), dc.Download<float>());
        }
        var a64 = a.Select(x => Math.Sqrt(x)).ToArray();
        using (var da = DeviceBuffer.Of<double>(a64))
        using (var dc = DeviceBuffer.Of<double>(n))
        {
            Launch("add_contiguous_f64", n, da, da, dc, (long)n);
            Assert.Equal(a64.Select(x => x + x), dc.Download<double>());
        }
    }

    [GpuFact]
    public void Add_strided_reads_a_transposed_view_and_a_broadcast_row()
    {
        Emu.MakeCurrent();
        const int rows = 37, cols = 53;
        var stored = Enumerable.Range(0, rows * cols).Select(i => (double)i).ToArray();   // [cols, rows], read transposed
        var row = Enumerable.Range(0, cols).Select(j => 1000.0 * j).ToArray();            // [cols], broadcast over rows
        using var da = DeviceBuffer.Of<double>(stored);
        using var db = DeviceBuffer.Of<double>(row);
        using var dc = DeviceBuffer.Of<double>(rows * cols);
        Launch("add_strided_f64", rows * cols, da, Strided([rows, cols], [1, rows]), db, Strided([rows, cols], [0, 1]),
            dc, Strided([rows, cols], [cols, 1]), (long)(rows * cols));
        var c = dc.Download<double>();
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++)
                Assert.Equal(stored[j * rows + i] + row[j], c[i * cols + j]);
    }

    [GpuFact]
    public void Fill_contiguous_and_strided_write_exactly_their_elements()
    {
        Emu.MakeCurrent();
        const int n = 1001;
        using var contiguous = DeviceBuffer.Of<float>(n);
        Launch("fill_contiguous_f32", n, contiguous, 2.5f, (long)n);
        Assert.All(contiguous.Download<float>(), v => Assert.Equal(2.5f, v));

        // Every other element of a fresh buffer: the others keep the emulator's 0xFF poison, a NaN.
        using var strided = DeviceBuffer.Of<double>(2 * n);
        Launch("fill_strided_f64", n, strided, Strided([n], [2]), -1.25, (long)n);
        var values = strided.Download<double>();
        for (int i = 0; i < 2 * n; i++)
        {
            if (i % 2 == 0) Assert.Equal(-1.25, values[i]);
            else Assert.Equal(0xFFFFFFFFFFFFFFFFul, BitConverter.DoubleToUInt64Bits(values[i]));
        }
    }

    [GpuFact]
    public void Sum_f32_is_bit_identical_to_a_host_replica_of_the_same_order()
    {
        Emu.MakeCurrent();
        foreach (int n in new[] { 37, 300_001 })
        {
            var data = new float[n];
            var random = new Random(n);
            for (int i = 0; i < n; i++) data[i] = (float)(random.NextDouble() * 2 - 1);
            Assert.Equal(BitConverter.SingleToUInt32Bits(HostSum(data)), BitConverter.SingleToUInt32Bits(DeviceSum(data, "f32")));
        }
    }

    [GpuFact]
    public void Sum_f64_is_bit_identical_to_a_host_replica_and_close_to_a_plain_sum()
    {
        Emu.MakeCurrent();
        const int n = 200_003;
        var data = Enumerable.Range(0, n).Select(i => Math.Sin(i) * 3).ToArray();
        double device = DeviceSum(data, "f64");
        Assert.Equal(BitConverter.DoubleToUInt64Bits(HostSum(data)), BitConverter.DoubleToUInt64Bits(device));
        Assert.Equal(data.Sum(), device, 1e-9);
    }

    // sum_partials with the grid the host derives from n, then sum_final in one block of 256.
    private static T DeviceSum<T>(T[] data, string suffix) where T : unmanaged
    {
        var config = LaunchConfig.ForElements(data.Length);
        using var input = DeviceBuffer.Of<T>(data);
        using var partials = DeviceBuffer.Of<T>((int)config.GridX);
        using var output = DeviceBuffer.Of<T>(1);
        Emu.Launch(Kernel("sum_partials_" + suffix), config.GridX, 256, input, (long)data.Length, partials);
        Emu.Launch(Kernel("sum_final_" + suffix), 1, 256, partials, (long)config.GridX, output);
        return output.Download<T>()[0];
    }

    // The kernels' order: thread t of block b adds elements t + 256·b, + 256·grid, ...; each block sums its
    // threads in a tree of halving widths; the final pass does the same over the partials with one block.
    private static T HostSum<T>(T[] data) where T : struct, System.Numerics.IFloatingPoint<T>
    {
        const int block = 256;
        int grid = (int)LaunchConfig.ForElements(data.Length).GridX;
        var partials = new T[grid];
        for (int b = 0; b < grid; b++)
            partials[b] = Tree(t => { T acc = T.Zero; for (long i = b * block + t; i < data.Length; i += (long)block * grid) acc += data[i]; return acc; });
        return Tree(t => { T acc = T.Zero; for (int i = t; i < grid; i += block) acc += partials[i]; return acc; });

        static T Tree(Func<int, T> thread)
        {
            var shared = new T[block];
            for (int t = 0; t < block; t++) shared[t] = thread(t);
            for (int width = block / 2; width > 0; width /= 2)
                for (int t = 0; t < width; t++) shared[t] += shared[t + width];
            return shared[0];
        }
    }

    [GpuFact]
    public void Philox_uniform_and_randint_fills_equal_the_cpu_bit_for_bit()
    {
        Emu.MakeCurrent();
        const int n = 10_007;
        const ulong seed = 0x5EED_1234_ABCDul;

        using (var cpu = Tensor.Rand([n], DType.F32, generator: new Generator(seed)))
        using (var device = DeviceBuffer.Of<float>(n))
        {
            Launch("uniform_f32", n, device, (long)n, seed, 0ul, 0.0, 1.0);
            Assert.Equal(cpu.ToArray<float>().Select(BitConverter.SingleToUInt32Bits), device.Download<float>().Select(BitConverter.SingleToUInt32Bits));
        }
        using (var cpu = Tensor.Rand([n], DType.F64, generator: new Generator(seed)))
        using (var device = DeviceBuffer.Of<double>(n))
        {
            Launch("uniform_f64", n, device, (long)n, seed, 0ul, 0.0, 1.0);
            Assert.Equal(cpu.ToArray<double>().Select(BitConverter.DoubleToUInt64Bits), device.Download<double>().Select(BitConverter.DoubleToUInt64Bits));
        }
        const long low = -5_000_000_000, high = 7_000_000_123;
        using (var cpu = Tensor.RandInt(low, high, [n], generator: new Generator(seed)))
        using (var device = DeviceBuffer.Of<long>(n))
        {
            Launch("randint_i64", n, device, (long)n, seed, 0ul, low, (ulong)(high - low));
            Assert.Equal(cpu.ToArray<long>(), device.Download<long>());
        }
    }

    [GpuFact]
    public void Philox_uniform_honours_the_offset_and_the_bounds()
    {
        Emu.MakeCurrent();
        const int n = 999;
        var generator = new Generator(42);
        using (Tensor.Rand([123], DType.F32, generator: generator)) { }   // advances the offset by 31 blocks
        ulong offset = generator.Offset;
        using var cpu = Tensor.Rand([n], DType.F32, generator: generator);
        using var device = DeviceBuffer.Of<float>(n);
        Launch("uniform_f32", n, device, (long)n, 42ul, offset, 0.0, 1.0);
        Assert.Equal(cpu.ToArray<float>(), device.Download<float>());
        Launch("uniform_f32", n, device, (long)n, 42ul, offset, -3.0, 5.0);
        var expected = cpu.ToArray<float>().Select(u => (float)(-3.0 + 8.0 * u));
        Assert.Equal(expected, device.Download<float>());
    }

    [GpuFact]
    public void Philox_normal_matches_the_cpu_within_a_tolerance()
    {
        Emu.MakeCurrent();
        const int n = 20_001;
        const ulong seed = 7;
        using (var cpu = Tensor.Randn([n], DType.F64, generator: new Generator(seed)))
        using (var device = DeviceBuffer.Of<double>(n))
        {
            Launch("normal_f64", n, device, (long)n, seed, 0ul, 0.0, 1.0);
            var expected = cpu.ToArray<double>();
            var actual = device.Download<double>();
            for (int i = 0; i < n; i++) Assert.Equal(expected[i], actual[i], 1e-12);
            Assert.InRange(actual.Average(), -0.03, 0.03);
        }
        using (var cpu = Tensor.Randn([n], DType.F32, generator: new Generator(seed)))
        using (var device = DeviceBuffer.Of<float>(n))
        {
            Launch("normal_f32", n, device, (long)n, seed, 0ul, 2.0, 0.5);
            var expected = cpu.ToArray<float>().Select(z => 2.0 + 0.5 * z).ToArray();
            var actual = device.Download<float>();
            for (int i = 0; i < n; i++) Assert.Equal(expected[i], actual[i], 1e-5);
        }
    }

    [GpuFact]
    public void The_ptx_cache_keys_emulator_images_by_nvrtc_99_and_serves_them_again_from_disk()
    {
        Emu.MakeCurrent();
        var (major, minor) = Nvrtc.Version();
        Assert.Equal(99, major);
        var folder = Path.Combine(Path.GetTempPath(), "engine-emu-ptx-" + Guid.NewGuid().ToString("N"));
        try
        {
            var first = PtxCache.WithNvrtc(folder);
            Assert.Equal($"nvrtc 99.{minor}", first.CompilerVersion);
            var source = KernelSource.Assemble("elementwise.cu");
            var image = first.GetOrCompile(source, 90);
            Assert.StartsWith("//CUDA-EMU-IMAGE v1\n", System.Text.Encoding.ASCII.GetString(image, 0, 20));
            Assert.Equal(0, image[^1]);
            Assert.Equal(1, first.Compilations);
            var second = PtxCache.WithNvrtc(folder);
            Assert.Equal(image, second.GetOrCompile(source, 90));
            Assert.Equal(0, second.Compilations);
            nint module = Driver.ModuleLoadData(image);
            try { Assert.NotEqual(0, Driver.ModuleGetFunction(module, "fill_contiguous_f64")); }
            finally { Driver.ModuleUnload(module); }
        }
        finally { if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true); }
    }
}
