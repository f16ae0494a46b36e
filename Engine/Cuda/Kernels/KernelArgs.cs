using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Engine.Cuda.Runtime;

namespace Engine.Cuda.Kernels;

/// <summary>
/// A kernel's argument list, built by type over a caller's stack buffer:
/// <code>
/// var args = new KernelArgs(stackalloc byte[KernelArgs.Bytes]);
/// args.Add(x); args.Add(y); args.Add(n);          // device addresses by tensor; i64, i32, f64 by value
/// kernel.Launch(LaunchConfig.ForElements(n), args);
/// </code>
/// Each value is stored aligned to its size, and <see cref="Pointers"/> is the <c>void**</c> that
/// <c>cuLaunchKernel</c> takes (the driver copies the values at launch, so the stack is fine). The size of
/// every value is kept, so that the launch can check the list against the kernel's own parameter list.
/// A tensor is passed as the device address of its first element; null passes a null pointer.
/// </summary>
public unsafe ref struct KernelArgs
{
    /// <summary>The most arguments a list holds.</summary>
    public const int MaxArguments = 32;

    /// <summary>The most bytes of values (the driver's limit for a launch's parameters is 4 KiB).</summary>
    public const int MaxValueBytes = 4096;

    private const int PointerBytes = MaxArguments * 8;
    private const int SizeBytes = MaxArguments * 4;
    private const int ValuesStart = PointerBytes + SizeBytes;

    /// <summary>The size of the buffer a list needs.</summary>
    public const int Bytes = ValuesStart + MaxValueBytes;

    private readonly Span<byte> _buffer;
    private int _count;
    private int _used;
    private string? _deviceProblem;
    private int _deviceIndex;

    /// <summary>A list over <paramref name="buffer"/> (<see cref="Bytes"/> bytes, from <c>stackalloc</c>).</summary>
    public KernelArgs(Span<byte> buffer)
    {
        if (buffer.Length < Bytes) throw new ArgumentException($"KernelArgs needs a buffer of {Bytes} bytes, got {buffer.Length}.", nameof(buffer));
        _buffer = buffer;
        _deviceIndex = -1;
    }

    /// <summary>Number of arguments added.</summary>
    public readonly int Count => _count;

    /// <summary>The size in bytes of argument <paramref name="i"/>.</summary>
    public readonly int SizeOf(int i) => MemoryMarshal.Read<int>(_buffer[(PointerBytes + 4 * i)..]);

    /// <summary>The <c>void**</c> for cuLaunchKernel: entry i points at the value of argument i.</summary>
    public readonly void** Pointers => (void**)Unsafe.AsPointer(ref MemoryMarshal.GetReference(_buffer));

    /// <summary>The CUDA device every tensor argument is on, or -1 when there were none.</summary>
    public readonly int DeviceIndex => _deviceIndex;

    /// <summary>Why the tensor arguments cannot be used on one device, or null when they can.</summary>
    public readonly string? DeviceProblem => _deviceProblem;

    private void Put<T>(T value) where T : unmanaged
    {
        if (_count == MaxArguments) throw new InvalidOperationException($"KernelArgs: more than {MaxArguments} arguments.");
        int size = sizeof(T), align = Math.Min(size, 8);
        int at = (_used + align - 1) / align * align;
        if (at + size > MaxValueBytes) throw new InvalidOperationException($"KernelArgs: the arguments exceed the driver's {MaxValueBytes} bytes.");
        var slot = _buffer.Slice(ValuesStart + at, size);
        MemoryMarshal.Write(slot, in value);
        MemoryMarshal.Write(_buffer[(8 * _count)..], (nint)Unsafe.AsPointer(ref MemoryMarshal.GetReference(slot)));
        MemoryMarshal.Write(_buffer[(PointerBytes + 4 * _count)..], size);
        _used = at + size;
        _count++;
    }

    /// <summary>A tensor's device address (of its first element, offset included), or null for a null tensor.</summary>
    public void Add(Tensor? tensor)
    {
        if (tensor is null) { Put(0UL); return; }
        if (tensor.Device.Type != DeviceType.Cuda)
            _deviceProblem ??= $"argument {_count} is a {tensor.DType.TorchName()} tensor {Layout.Format(tensor.Layout.Shape)} on {tensor.Device}";
        else if (_deviceIndex >= 0 && _deviceIndex != tensor.Device.Index)
            _deviceProblem ??= $"argument {_count} is on {tensor.Device} while an earlier one is on cuda:{_deviceIndex}";
        else _deviceIndex = tensor.Device.Index;
        Put(tensor.Storage is CudaStorage s ? s.Address(tensor.Offset) : 0UL);
    }

    /// <summary>A byte (<c>u8</c>: a Bool value).</summary>
    public void Add(byte value) => Put(value);

    /// <summary>A 32-bit integer (<c>int</c>).</summary>
    public void Add(int value) => Put(value);

    /// <summary>A 64-bit integer (<c>i64</c>).</summary>
    public void Add(long value) => Put(value);

    /// <summary>An unsigned 64-bit integer (<c>u64</c>).</summary>
    public void Add(ulong value) => Put(value);

    /// <summary>A <c>float</c>.</summary>
    public void Add(float value) => Put(value);

    /// <summary>A <c>double</c>.</summary>
    public void Add(double value) => Put(value);

    /// <summary>A strided layout (<c>Strided</c>, by value).</summary>
    public void Add(in StridedArg layout) => Put(layout);

    /// <summary>
    /// A struct by value, for kernels that take a table (for example the addresses of many tensors, updated by one
    /// launch). Its C# layout must be the kernel's: the launch's size check catches a size that differs, not a
    /// field order. Device addresses inside it are not checked against the launch's device: the caller checks them.
    /// </summary>
    public void AddStruct<T>(in T value) where T : unmanaged => Put(value);
}
