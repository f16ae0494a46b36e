using Engine.Autograd;

namespace Engine.Ops;

/// <summary>
/// The host-computed constants of the spectral operators (DCT bases and their Kronecker products, FFT
/// twiddles, the heat frequencies Ω) as tensors on a device, each uploaded once per (constant, sizes, dtype,
/// device) and kept for the life of the process. The device is part of the key, so a second GPU never gets
/// a pointer into the first one's memory.
/// </summary>
/// <remarks>
/// The values come from the same double-precision host functions the CPU kernels use (<see cref="DctBases"/>),
/// rounded once to the dtype, so both devices multiply by the same numbers. The tensors belong to no
/// <see cref="TensorScope"/> and are never disposed; callers must not dispose them either.
/// </remarks>
internal static class SpectralConstants
{
    private static readonly Dictionary<(string Name, int A, int B, DType DType, Device Device), Tensor> Cache = new();
    private static readonly Lock Gate = new();

    /// <summary>
    /// The constant <paramref name="name"/> of sizes (<paramref name="a"/>, <paramref name="b"/>) on
    /// <paramref name="device"/> in <paramref name="dtype"/>, of <paramref name="shape"/>, made from
    /// <paramref name="values"/> (double, row-major) the first time it is asked for.
    /// </summary>
    public static Tensor Get(string name, int a, int b, DType dtype, Device device, int[] shape, Func<double[]> values)
    {
        var key = (name, a, b, dtype, device);
        lock (Gate)
        {
            if (Cache.TryGetValue(key, out var cached)) return cached;
            var made = Upload(values(), shape, dtype, device);
            Cache[key] = made;
            return made;
        }
    }

    private static Tensor Upload(double[] values, int[] shape, DType dtype, Device device)
    {
        using var noGrad = Tape.NoGrad();
        var t = Tensor.FromArray(values, shape);
        if (dtype != DType.F64) Replace(ref t, t.ToDType(dtype));
        if (device != Device.Cpu) Replace(ref t, t.ToDevice(device));
        return t.DetachFromScope();
    }

    private static void Replace(ref Tensor current, Tensor next)
    {
        if (!ReferenceEquals(current, next)) current.Dispose();
        current = next;
    }
}
