namespace Engine.Models.Serialization;

/// <summary>The element types the safetensors format names in its header.</summary>
public enum SafeTensorsDType
{
    /// <summary>One byte, 0 or 1.</summary>
    BOOL,
    /// <summary>Unsigned 8-bit integer.</summary>
    U8,
    /// <summary>Signed 8-bit integer.</summary>
    I8,
    /// <summary>8-bit float, 5 exponent bits and 2 mantissa bits (IEEE-like, with infinities).</summary>
    F8_E5M2,
    /// <summary>8-bit float, 4 exponent bits and 3 mantissa bits (the "fn" variant: no infinities, one NaN pattern).</summary>
    F8_E4M3,
    /// <summary>Signed 16-bit integer.</summary>
    I16,
    /// <summary>Unsigned 16-bit integer.</summary>
    U16,
    /// <summary>IEEE half precision.</summary>
    F16,
    /// <summary>bfloat16: the upper half of an IEEE single.</summary>
    BF16,
    /// <summary>Signed 32-bit integer.</summary>
    I32,
    /// <summary>Unsigned 32-bit integer.</summary>
    U32,
    /// <summary>IEEE single precision.</summary>
    F32,
    /// <summary>IEEE double precision.</summary>
    F64,
    /// <summary>Signed 64-bit integer.</summary>
    I64,
    /// <summary>Unsigned 64-bit integer.</summary>
    U64,
}

/// <summary>Facts about each <see cref="SafeTensorsDType"/> and how it maps onto the engine's dtypes.</summary>
public static class SafeTensorsDTypeInfo
{
    /// <summary>Size of one element in bytes.</summary>
    public static int SizeOf(this SafeTensorsDType dtype) => dtype switch
    {
        SafeTensorsDType.BOOL or SafeTensorsDType.U8 or SafeTensorsDType.I8 or SafeTensorsDType.F8_E5M2 or SafeTensorsDType.F8_E4M3 => 1,
        SafeTensorsDType.I16 or SafeTensorsDType.U16 or SafeTensorsDType.F16 or SafeTensorsDType.BF16 => 2,
        SafeTensorsDType.I32 or SafeTensorsDType.U32 or SafeTensorsDType.F32 => 4,
        SafeTensorsDType.F64 or SafeTensorsDType.I64 or SafeTensorsDType.U64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, null),
    };

    /// <summary>
    /// The engine dtype a stored element type is read into: floats narrower than 32 bits widen to F32,
    /// integers to I64, BOOL to Bool; F32, F64 and I64 are kept.
    /// </summary>
    public static DType EngineDType(this SafeTensorsDType dtype) => dtype switch
    {
        SafeTensorsDType.BOOL => DType.Bool,
        SafeTensorsDType.F64 => DType.F64,
        SafeTensorsDType.F32 or SafeTensorsDType.F16 or SafeTensorsDType.BF16 or SafeTensorsDType.F8_E4M3 or SafeTensorsDType.F8_E5M2 => DType.F32,
        _ => DType.I64,
    };

    /// <summary>The stored element type an engine dtype is written as by default.</summary>
    public static SafeTensorsDType FromEngine(DType dtype) => dtype switch
    {
        DType.F32 => SafeTensorsDType.F32,
        DType.F64 => SafeTensorsDType.F64,
        DType.I64 => SafeTensorsDType.I64,
        DType.Bool => SafeTensorsDType.BOOL,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, null),
    };

    /// <summary>Parses a header dtype name (exact, upper case, as the format spells it).</summary>
    public static bool TryParse(string name, out SafeTensorsDType dtype) =>
        Enum.TryParse(name, ignoreCase: false, out dtype) && Enum.IsDefined(dtype) && !int.TryParse(name, out _);

    /// <summary>The dtype names the format defines, for error messages.</summary>
    public static string KnownNames => string.Join(", ", Enum.GetNames<SafeTensorsDType>());
}
