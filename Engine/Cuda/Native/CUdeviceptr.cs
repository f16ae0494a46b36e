namespace Engine.Cuda.Native;

/// <summary>A device address (<c>CUdeviceptr</c>, 64 bits). Passed by value it has the C type's ABI.</summary>
/// <param name="Address">The raw address; zero is the null pointer.</param>
public readonly record struct CUdeviceptr(ulong Address)
{
    /// <summary>The null device pointer.</summary>
    public static CUdeviceptr Null => default;

    /// <summary>Whether this is the null pointer.</summary>
    public bool IsNull => Address == 0;

    /// <summary>The address <paramref name="bytes"/> further on.</summary>
    public CUdeviceptr Offset(ulong bytes) => new(Address + bytes);

    /// <inheritdoc/>
    public override string ToString() => $"0x{Address:x}";
}
