namespace Engine;

/// <summary>Kind of device a tensor lives on.</summary>
public enum DeviceType
{
    /// <summary>Host memory, CPU kernels.</summary>
    Cpu,
    /// <summary>An NVIDIA GPU through the CUDA driver.</summary>
    Cuda,
}

/// <summary>A device: the CPU, or the CUDA GPU with a given ordinal.</summary>
public readonly record struct Device(DeviceType Type, int Index)
{
    /// <summary>The host CPU.</summary>
    public static Device Cpu { get; } = new(DeviceType.Cpu, 0);

    /// <summary>The CUDA device with ordinal <paramref name="index"/>.</summary>
    public static Device Cuda(int index = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        return new(DeviceType.Cuda, index);
    }

    /// <summary>Parses "cpu", "cuda" or "cuda:N".</summary>
    public static Device Parse(string text)
    {
        var t = text.Trim().ToLowerInvariant();
        if (t == "cpu") return Cpu;
        if (t == "cuda") return Cuda(0);
        if (t.StartsWith("cuda:", StringComparison.Ordinal) && int.TryParse(t.AsSpan(5), out var i) && i >= 0) return Cuda(i);
        throw new ArgumentException($"Unknown device '{text}': expected 'cpu', 'cuda' or 'cuda:N'.", nameof(text));
    }

    /// <inheritdoc/>
    public override string ToString() => Type == DeviceType.Cpu ? "cpu" : $"cuda:{Index}";
}
