using System.Runtime.InteropServices;
using Engine.Cuda.Memory;
using Engine.Cuda.Native;

namespace Engine.Tests.Gpu;

/// <summary>A device with a capacity and no memory behind it: addresses are handed out and checked, nothing is stored.</summary>
internal sealed class FakeDeviceMemory(ulong capacity) : IDeviceMemory
{
    private readonly Dictionary<ulong, ulong> _live = new();
    private ulong _next = 0x7000_0000_0000;

    public ulong Used => _live.Values.Aggregate(0UL, (a, b) => a + b);
    public int AllocCalls { get; private set; }
    public int FreeCalls { get; private set; }
    public int LiveCount => _live.Count;

    public CUdeviceptr Alloc(ulong bytes)
    {
        AllocCalls++;
        if (Used + bytes > capacity) return CUdeviceptr.Null;
        var address = _next;
        _next += bytes + 4096;
        _live.Add(address, bytes);
        return new CUdeviceptr(address);
    }

    public void Free(CUdeviceptr pointer)
    {
        FreeCalls++;
        if (!_live.Remove(pointer.Address)) throw new InvalidOperationException($"fake device: {pointer} freed but not allocated");
    }

    public (ulong Free, ulong Total) FreeInfo() => (capacity - Used, capacity);
}

/// <summary>Host memory from the C heap, standing in for page-locked memory.</summary>
internal sealed unsafe class FakeHostMemory : IHostMemory
{
    public int Live { get; private set; }
    public nint Alloc(ulong bytes) { Live++; return (nint)NativeMemory.Alloc((nuint)bytes); }
    public void Free(nint pointer) { Live--; NativeMemory.Free((void*)pointer); }
}
