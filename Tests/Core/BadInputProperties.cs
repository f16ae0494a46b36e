using FsCheck;
using FsCheck.Fluent;
using Xunit;

namespace Engine.Tests.Core;

/// <summary>
/// Issue 21, part 3: public entry points fed generated arguments, good and bad alike (negative, zero and huge
/// sizes, out-of-range dims, mismatched shapes and dtypes, NaN and infinity, empty tensors). The only allowed
/// outcomes are a result of the right shape or an <see cref="ArgumentException"/> whose message names the
/// operation; any other exception is a failure. The table in docs/reliability.md lists what each one was tried with.
/// </summary>
public class BadInputProperties
{
    private static readonly Config Quick = Config.QuickThrowOnFailure.WithMaxTest(300);

    /// <summary>Sizes a user or a file might give: mostly small, some zero or negative, some huge.</summary>
    private static readonly Gen<int> Size = Gen.Frequency(
        (8, Gen.Choose(0, 4)),
        (1, Gen.Choose(-3, -1)),
        (1, Gen.Elements(int.MaxValue, 1 << 20, 1 << 16, int.MinValue)));

    private static readonly Gen<int[]> Shape = from rank in Gen.Choose(0, 4) from dims in Gen.ArrayOf(Size, rank) select dims;

    private static readonly Gen<int[]> SmallShape = from rank in Gen.Choose(0, 3) from dims in Gen.ArrayOf(Gen.Choose(0, 3), rank) select dims;

    private static readonly Gen<int> Dim = Gen.Frequency((6, Gen.Choose(-4, 4)), (1, Gen.Elements(int.MaxValue, int.MinValue, 100)));

    private static readonly Gen<DType> AnyDType = Gen.Elements(DType.F32, DType.F64, DType.I64);

    /// <summary>True when <paramref name="body"/> ran or threw an ArgumentException naming <paramref name="op"/>; else a failure with what happened.</summary>
    private static bool ResultOrOurException(string op, Func<Tensor> body, Func<Tensor, bool>? check = null)
    {
        using var scope = Tensor.Scope();
        try
        {
            var result = body();
            return check?.Invoke(result) ?? true;
        }
        catch (ArgumentException e) when (e.Message.Contains(op, StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }
        catch (Exception e)
        {
            throw new Xunit.Sdk.XunitException($"{op}: {e.GetType().Name}: {e.Message}");
        }
    }

    private static long Count(int[] shape) => shape.Aggregate(1L, (a, b) => a * b);

    private static bool Small(int[] shape) => shape.All(d => d >= 0) && Count(shape) <= 1 << 16;

    [Fact]
    public void Constructors_give_a_tensor_of_the_shape_or_refuse_naming_themselves()
    {
        Check.One(Quick, Prop.ForAll(Arb.From(from shape in Shape from dtype in AnyDType select (shape, dtype)), c =>
            // Only the small ones are built: the huge ones must be refused (a negative size), or would be allocated.
            !Small(c.shape) && c.shape.All(d => d >= 0) ? true :
            ResultOrOurException("zeros", () => Tensor.Zeros(c.shape, c.dtype), t => t.Shape.SequenceEqual(c.shape))
            && ResultOrOurException("full", () => Tensor.Full(c.shape, double.NaN, c.dtype == DType.I64 ? DType.F32 : c.dtype), t => t.Shape.SequenceEqual(c.shape))));
    }

    [Fact]
    public void FromArray_checks_the_length_against_the_shape()
    {
        Check.One(Quick, Prop.ForAll(Arb.From(from shape in Shape from length in Gen.Choose(0, 20) select (shape, length)), c =>
            ResultOrOurException("from_array", () => Tensor.FromArray(new float[c.length], c.shape),
                t => t.NumEl == c.length && t.Shape.SequenceEqual(c.shape))));
    }

    [Fact]
    public void Shape_ops_give_a_result_or_refuse_naming_themselves()
    {
        var cases = from shape in SmallShape from target in Shape from d0 in Dim from d1 in Dim from n in Size select (shape, target, d0, d1, n);
        Check.One(Quick, Prop.ForAll(Arb.From(cases), c =>
        {
            Tensor X() => Tensor.Arange(Count(c.shape), DType.F32).Reshape(c.shape);
            return ResultOrOurException("reshape", () => X().Reshape(c.target), t => Count(t.Shape) == Count(c.shape))
                && ResultOrOurException("view", () => X().View(c.target))
                && ResultOrOurException("transpose", () => X().Transpose(c.d0, c.d1))
                && ResultOrOurException("permute", () => X().Permute(c.target))
                && ResultOrOurException("narrow", () => X().Narrow(c.d0, c.d1, c.n))
                && ResultOrOurException("unsqueeze", () => X().Unsqueeze(c.d0))
                && ResultOrOurException("squeeze", () => X().Squeeze(c.d0))
                && ResultOrOurException("expand", () => X().Expand(c.target))
                && ResultOrOurException("sum", () => X().Sum(c.d0))
                && ResultOrOurException("mean", () => X().Mean([c.d0, c.d1]))
                && ResultOrOurException("cat", () => Tensor.Cat([X(), X()], c.d0))
                && ResultOrOurException("stack", () => Tensor.Stack([X(), X()], c.d0));
        }));
    }

    [Fact]
    public void Binary_ops_and_matmul_on_any_two_shapes_and_dtypes()
    {
        var cases = from a in SmallShape from b in SmallShape from da in AnyDType from db in AnyDType select (a, b, da, db);
        Check.One(Quick, Prop.ForAll(Arb.From(cases), c =>
        {
            Tensor A() => Tensor.Full(c.a, double.PositiveInfinity, c.da == DType.I64 ? DType.F32 : c.da);
            Tensor B() => Tensor.Zeros(c.b, c.db);
            return ResultOrOurException("add", () => A() + B())
                && ResultOrOurException("mul", () => A() * B())
                && ResultOrOurException("div", () => A() / B())
                && ResultOrOurException("maximum", () => Tensor.Maximum(A(), B()))
                && ResultOrOurException("matmul", () => A().MatMul(B()));
        }));
    }

    [Fact]
    public void Softmax_and_reductions_on_empty_and_non_finite_tensors()
    {
        var cases = from shape in SmallShape from dim in Dim from value in Gen.Elements(double.NaN, double.PositiveInfinity, double.NegativeInfinity, 0.0, -1e300) select (shape, dim, value);
        Check.One(Quick, Prop.ForAll(Arb.From(cases), c =>
        {
            Tensor X() => Tensor.Full(c.shape, c.value, DType.F64);
            return ResultOrOurException("softmax", () => Engine.Ops.Functional.Softmax(X(), c.dim), t => t.Shape.SequenceEqual(c.shape))
                && ResultOrOurException("sum", () => X().Sum())
                && ResultOrOurException("argmax", () => X().ArgMax(c.dim));
        }));
    }
}
