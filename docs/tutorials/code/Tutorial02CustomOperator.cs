// Tutorial 2: write your own operator. docs/tutorials/02-write-your-own-operator.md embeds the regions of this
// file; a test compiles and runs it, and checks that the page shows the regions as they are.
using System.Diagnostics;
using Engine;
using Engine.Autograd;
using Engine.Cpu;
using Engine.Tests.Gradients;
using Xunit;
using static Engine.Tests.Gradients.Generators;

namespace Engine.Tutorials;

#region operator
/// <summary>
/// squareplus(x) = (x + sqrt(x² + b)) / 2, a smooth ReLU (Barron 2021): one fused tape node with a CPU kernel
/// for the forward and one for the backward, d/dx = (1 + x / sqrt(x² + b)) / 2.
/// </summary>
public static class SquarePlus
{
    public static Tensor Apply(Tensor x, double b = 4)
    {
        if (!x.DType.IsFloatingPoint())
            throw new ArgumentException($"squareplus: expected a floating point tensor, got {x.DType.TorchName()} of shape {Layout.Format(x.Shape)}.");
        if (b <= 0) throw new ArgumentOutOfRangeException(nameof(b), $"squareplus: b must be positive, got {b}.");
        if (x.Device != Device.Cpu) throw new NotSupportedException("squareplus: only the CPU kernel exists (the CUDA kernel comes with the GPU backend).");

        long t0 = Stopwatch.GetTimestamp();           // lets the tape table show the forward time
        var y = Tensor.Empty(x.Shape, x.DType);
        using (var dense = Dense(x)) Kernels.Forward(dense, y, b);

        if (Tape.ShouldRecord(x))
        {
            var saved = Tape.Save(x);                 // the backward needs x; the tape frees it after use
            var (shape, dtype) = (x.Shape, x.DType);
            Tape.Record("squareplus", [x], [y], grads =>
            {
                var gx = Tensor.Empty(shape, dtype);
                using var xs = Dense(saved.Value);
                using var g = Dense(grads[0]);
                Kernels.Backward(xs, g, gx, b);
                return [gx];
            }, [saved], t0);
        }
        return y;
    }

    /// <summary>A handle of our own on row-major data: the same memory when the tensor is row-major already, else a copy.</summary>
    private static Tensor Dense(Tensor t)
    {
        using var noGrad = Tape.NoGrad();             // the copy is ours, not an operation on the tape
        return t.IsContiguous ? t.Detach() : t.Contiguous();
    }
}
#endregion

#region kernels
/// <summary>The CPU kernels: plain loops over row-major memory, split across threads by CpuParallel.</summary>
internal static unsafe class Kernels
{
    public static void Forward(Tensor x, Tensor y, double b)
    {
        if (x.DType == DType.F64) Run<double>(x, y, null, b, backward: false);
        else Run<float>(x, y, null, b, backward: false);
    }

    public static void Backward(Tensor x, Tensor g, Tensor gx, double b)
    {
        if (x.DType == DType.F64) Run<double>(x, gx, g, b, backward: true);
        else Run<float>(x, gx, g, b, backward: true);
    }

    private static void Run<T>(Tensor x, Tensor result, Tensor? g, double b, bool backward) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        T* px = Pointer<T>(x), pr = Pointer<T>(result), pg = g is null ? null : Pointer<T>(g);
        T half = T.CreateTruncating(0.5), bb = T.CreateTruncating(b);
        // Each element is written by exactly one thread, so the result does not depend on the thread count.
        CpuParallel.For(x.NumEl, costPerItem: 20, (start, end) =>
        {
            for (long i = start; i < end; i++)
            {
                T v = px[i], root = T.Sqrt(v * v + bb);
                pr[i] = backward ? pg[i] * half * (T.One + v / root) : half * (v + root);
            }
        });
    }

    private static T* Pointer<T>(Tensor t) where T : unmanaged =>
        (T*)((CpuStorage)t.Storage).Pointer + t.Offset;
}
#endregion

#region property
/// <summary>The tests every operator gets here: a float64 gradient property and bad-input messages.</summary>
public class SquarePlusTests
{
    /// <summary>
    /// Random shapes of rank 0 to 4 (sizes 0 to 7, size-1 dimensions included), contiguous, permuted, stepped
    /// and broadcast inputs, and b from the case; a failure shrinks to a minimal case.
    /// </summary>
    [Fact]
    public void GradientMatchesCentralDifferences() =>
        GradientProperty.Check(Arbitrary(Single()), (x, c) => SquarePlus.Apply(x[0], b: 0.25 + c.Choice % 4), _ => Values.Normal);

    [Fact]
    public void BadInputsNameTheOpAndTheShape()
    {
        using var scope = Tensor.Scope();
        var e = Assert.Throws<ArgumentException>(() => SquarePlus.Apply(Tensor.FromArray(new long[] { 1, 2 }, [2])));
        Assert.Equal("squareplus: expected a floating point tensor, got torch.int64 of shape [2].", e.Message);
        Assert.Contains("b must be positive, got 0", Assert.Throws<ArgumentOutOfRangeException>(() => SquarePlus.Apply(Tensor.Zeros([1]), 0)).Message);
    }
}
#endregion

public static class Tutorial02CustomOperator
{
    public static GradCheckResult CheckOnce()
    {
        #region gradcheck
        var x = Tensor.Randn([5, 3], DType.F64).RequiresGradInPlace();
        var result = GradCheck.Check(v => SquarePlus.Apply(v[0].T, b: 2), [x]);   // through a transposed view
        if (!result.Passed) throw new InvalidOperationException(result.ToString());
        #endregion
        return result;
    }

    public static string OnTheTape()
    {
        #region tape
        var x = Tensor.Randn([64, 128]).RequiresGradInPlace();
        var loss = SquarePlus.Apply(x).Mean();
        loss.Backward(retainGraph: true);
        string table = TapePrinter.Format(loss);        // squareplus shows up like any built-in op
        #endregion
        return table;
    }
}
