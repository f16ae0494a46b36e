namespace Engine;

/// <summary>Element type of a tensor.</summary>
public enum DType
{
    /// <summary>32-bit IEEE float.</summary>
    F32,
    /// <summary>64-bit IEEE float; the dtype gradient checks and golden parity run in.</summary>
    F64,
    /// <summary>64-bit signed integer: indices and <c>randint</c> results. Not differentiable.</summary>
    I64,
    /// <summary>One byte per element, 0 or 1: comparison results and masks. Not differentiable.</summary>
    Bool,
}

/// <summary>Facts about each <see cref="DType"/>.</summary>
public static class DTypeInfo
{
    /// <summary>Size of one element in bytes.</summary>
    public static int SizeOf(this DType dtype) => dtype switch
    {
        DType.F32 => 4,
        DType.F64 => 8,
        DType.I64 => 8,
        DType.Bool => 1,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, null),
    };

    /// <summary>True for F32 and F64, the dtypes that carry gradients.</summary>
    public static bool IsFloatingPoint(this DType dtype) => dtype is DType.F32 or DType.F64;

    /// <summary>The name PyTorch prints for this dtype (<c>torch.float32</c> ...).</summary>
    public static string TorchName(this DType dtype) => dtype switch
    {
        DType.F32 => "torch.float32",
        DType.F64 => "torch.float64",
        DType.I64 => "torch.int64",
        DType.Bool => "torch.bool",
        _ => dtype.ToString(),
    };

    /// <summary>The lower-case short name used on command lines and in kernel names (f32, f64, i64, bool).</summary>
    public static string ShortName(this DType dtype) => dtype switch
    {
        DType.F32 => "f32",
        DType.F64 => "f64",
        DType.I64 => "i64",
        DType.Bool => "bool",
        _ => dtype.ToString(),
    };

    /// <summary>The dtype two floating-point operands promote to (F64 wins), as PyTorch does.</summary>
    public static DType Promote(DType a, DType b)
    {
        if (a == b) return a;
        if (a == DType.F64 || b == DType.F64) return DType.F64;
        if (a == DType.F32 || b == DType.F32) return DType.F32;
        if (a == DType.I64 || b == DType.I64) return DType.I64;
        return DType.Bool;
    }
}
