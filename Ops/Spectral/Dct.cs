using System.Diagnostics;
using Engine.Autograd;
using Engine.Backends;

namespace Engine.Ops;

/// <summary>How <see cref="Functional.Dct2"/> and <see cref="Functional.Idct2"/> compute the transform.</summary>
public enum DctImplementation
{
    /// <summary>Picks the faster of the two for the plane size (see <see cref="Functional.DctFftCrossover"/>).</summary>
    Auto,
    /// <summary>Products with cached dense bases: O(H·W·(H+W)) per plane.</summary>
    Matmul,
    /// <summary>Through the complex FFT: O(H·W·log(H·W)) per plane.</summary>
    Fft,
}

public static partial class Functional
{
    /// <summary>
    /// Planes whose larger side is at least this long take the FFT path under <see cref="DctImplementation.Auto"/>;
    /// smaller ones the matrix products. Measured on this project's CPU (docs/ops-notes/dct.md).
    /// </summary>
    public static int DctFftCrossover { get; set; } = 768;

    /// <summary>
    /// The same switch for tensors on CUDA: planes whose larger side is at least this long take the FFT path
    /// (cuFFT) under <see cref="DctImplementation.Auto"/>. 512 is an estimate from an H100's arithmetic and
    /// memory rates, not a measurement (docs/ops-notes/dct.md); measure with <c>engine bench dct --device cuda</c>.
    /// </summary>
    public static int DctFftCrossoverCuda { get; set; } = 512;

    /// <summary>
    /// The orthonormal 2-D DCT-II over the last two axes (scipy's <c>dctn(x, type=2, norm='ortho', axes=(-2, -1))</c>):
    /// for each (H, W) plane X, Y = D_H · X · D_Wᵀ with D_N[k, i] = α_k cos(π k (i + ½) / N),
    /// α_0 = √(1/N), α_k = √(2/N). Orthonormal, so its adjoint and inverse is <see cref="Idct2"/>, which
    /// is also its backward.
    /// </summary>
    /// <param name="input">Tensor of shape (*, H, W), float32 or float64, any strides.</param>
    /// <param name="implementation">Matrix products, FFT, or the faster of the two for the size.</param>
    public static Tensor Dct2(Tensor input, DctImplementation implementation = DctImplementation.Auto) =>
        DctFunction.Apply("dct2", input, inverse: false, implementation);

    /// <summary>
    /// The orthonormal 2-D DCT-III over the last two axes, the inverse of <see cref="Dct2"/>:
    /// X = D_Hᵀ · Y · D_W for each (H, W) plane. Its backward is <see cref="Dct2"/>.
    /// </summary>
    /// <param name="input">Tensor of shape (*, H, W), float32 or float64, any strides.</param>
    /// <param name="implementation">Matrix products, FFT, or the faster of the two for the size.</param>
    public static Tensor Idct2(Tensor input, DctImplementation implementation = DctImplementation.Auto) =>
        DctFunction.Apply("idct2", input, inverse: true, implementation);
}

/// <summary>Argument checks, path choice, the tape node and the device switch shared by the DCT and its inverse.</summary>
internal static class DctFunction
{
    public static Tensor Apply(string op, Tensor input, bool inverse, DctImplementation implementation)
    {
        FamilyGuards.Float(op, input);
        if (input.Rank < 2)
            throw new ArgumentException($"{op}: expected an input of shape (*, H, W) with at least 2 dimensions, but got input of shape {FamilyGuards.Shape(input)}.");
        if (!Enum.IsDefined(implementation))
            throw new ArgumentException($"{op}: unknown implementation {(int)implementation} (input of shape {FamilyGuards.Shape(input)}).");

        long t0 = Stopwatch.GetTimestamp();
        var shape = input.Layout.Shape;
        int h = shape[^2], w = shape[^1];
        var path = Choose(op, implementation, h, w, input);
        var y = Tensor.Empty(shape, input.DType, input.Device);
        using (var x = FamilyGuards.Dense(input))
            Transform(op, x, y, h, w, inverse, path);

        if (Tape.ShouldRecord(input))
        {
            // Orthonormal: the adjoint of the DCT-II is the DCT-III and vice versa.
            Tape.Record(op, [input], [y], g => [DctFunction.Apply(inverse ? "dct2" : "idct2", g[0], !inverse, path)], [], t0);
        }
        return y;
    }

    private static DctImplementation Choose(string op, DctImplementation requested, int h, int w, Tensor input)
    {
        if (requested == DctImplementation.Fft && !DctFft.Available)
            throw new NotSupportedException($"{op}: the FFT implementation needs the engine's CPU FFT, which this build does not have (input of shape {FamilyGuards.Shape(input)}); use DctImplementation.Matmul.");
        if (requested != DctImplementation.Auto) return requested;
        int crossover = input.Device.Type == DeviceType.Cuda ? Functional.DctFftCrossoverCuda : Functional.DctFftCrossover;
        return DctFft.Available && Math.Max(h, w) >= crossover ? DctImplementation.Fft : DctImplementation.Matmul;
    }

    private static void Transform(string op, Tensor x, Tensor y, int h, int w, bool inverse, DctImplementation path)
    {
        switch (x.Device.Type)
        {
            case DeviceType.Cpu: DctCpu.Transform(x, y, h, w, inverse, path); break;
            case DeviceType.Cuda: DctCuda.Transform(x, y, h, w, inverse, path); break;
            default: throw Kernel.Missing(op, x);
        }
    }
}
