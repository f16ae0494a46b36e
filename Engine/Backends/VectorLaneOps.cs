using System.Numerics;
using System.Runtime.Intrinsics;

namespace Engine.Backends;

// The lane operations of the elementwise ops' own vector loops (VectorLoops). Each is one IEEE operation, so every
// width gives the scalar form's bits, signed zeros, NaNs and infinities included (tested: ElementwiseSpanTests).

/// <summary>x + y.</summary>
internal readonly struct AddLanes : IBinaryVectorOp
{
    public static T Apply<T>(T x, T y) where T : unmanaged, IFloatingPointIeee754<T> => x + y;
    public static Vector<T> Apply<T>(Vector<T> x, Vector<T> y) where T : unmanaged, IFloatingPointIeee754<T> => x + y;
    public static Vector256<T> Apply<T>(Vector256<T> x, Vector256<T> y) where T : unmanaged, IFloatingPointIeee754<T> => x + y;
}

/// <summary>x - y.</summary>
internal readonly struct SubLanes : IBinaryVectorOp
{
    public static T Apply<T>(T x, T y) where T : unmanaged, IFloatingPointIeee754<T> => x - y;
    public static Vector<T> Apply<T>(Vector<T> x, Vector<T> y) where T : unmanaged, IFloatingPointIeee754<T> => x - y;
    public static Vector256<T> Apply<T>(Vector256<T> x, Vector256<T> y) where T : unmanaged, IFloatingPointIeee754<T> => x - y;
}

/// <summary>x * y.</summary>
internal readonly struct MulLanes : IBinaryVectorOp
{
    public static T Apply<T>(T x, T y) where T : unmanaged, IFloatingPointIeee754<T> => x * y;
    public static Vector<T> Apply<T>(Vector<T> x, Vector<T> y) where T : unmanaged, IFloatingPointIeee754<T> => x * y;
    public static Vector256<T> Apply<T>(Vector256<T> x, Vector256<T> y) where T : unmanaged, IFloatingPointIeee754<T> => x * y;
}

/// <summary>x / y.</summary>
internal readonly struct DivLanes : IBinaryVectorOp
{
    public static T Apply<T>(T x, T y) where T : unmanaged, IFloatingPointIeee754<T> => x / y;
    public static Vector<T> Apply<T>(Vector<T> x, Vector<T> y) where T : unmanaged, IFloatingPointIeee754<T> => x / y;
    public static Vector256<T> Apply<T>(Vector256<T> x, Vector256<T> y) where T : unmanaged, IFloatingPointIeee754<T> => x / y;
}

/// <summary>-x (the sign bit flipped, NaNs included, as the scalar negation does).</summary>
internal readonly struct NegLanes : IUnaryVectorOp
{
    public static T Apply<T>(T x) where T : unmanaged, IFloatingPointIeee754<T> => -x;
    public static Vector<T> Apply<T>(Vector<T> x) where T : unmanaged, IFloatingPointIeee754<T> => -x;
    public static Vector256<T> Apply<T>(Vector256<T> x) where T : unmanaged, IFloatingPointIeee754<T> => -x;
}

/// <summary>|x| (the sign bit cleared).</summary>
internal readonly struct AbsLanes : IUnaryVectorOp
{
    public static T Apply<T>(T x) where T : unmanaged, IFloatingPointIeee754<T> => T.Abs(x);
    public static Vector<T> Apply<T>(Vector<T> x) where T : unmanaged, IFloatingPointIeee754<T> => Vector.Abs(x);
    public static Vector256<T> Apply<T>(Vector256<T> x) where T : unmanaged, IFloatingPointIeee754<T> => Vector256.Abs(x);
}

/// <summary>√x, correctly rounded.</summary>
internal readonly struct SqrtLanes : IUnaryVectorOp
{
    public static T Apply<T>(T x) where T : unmanaged, IFloatingPointIeee754<T> => T.Sqrt(x);
    public static Vector<T> Apply<T>(Vector<T> x) where T : unmanaged, IFloatingPointIeee754<T> => Vector.SquareRoot(x);
    public static Vector256<T> Apply<T>(Vector256<T> x) where T : unmanaged, IFloatingPointIeee754<T> => Vector256.Sqrt(x);
}

/// <summary>1 / x, a true division (not the hardware's reciprocal estimate).</summary>
internal readonly struct ReciprocalLanes : IUnaryVectorOp
{
    public static T Apply<T>(T x) where T : unmanaged, IFloatingPointIeee754<T> => T.One / x;
    public static Vector<T> Apply<T>(Vector<T> x) where T : unmanaged, IFloatingPointIeee754<T> => Vector<T>.One / x;
    public static Vector256<T> Apply<T>(Vector256<T> x) where T : unmanaged, IFloatingPointIeee754<T> => Vector256<T>.One / x;
}
