using System.Runtime.InteropServices;
using Engine.Cuda.Native;

namespace Engine.Distributed;

/// <summary>
/// NCCL (<c>libnccl.so.2</c>, found like the CUDA libraries: <c>ENGINE_LIBNCCL</c>, the toolkit's folders, NVIDIA's
/// <c>nvidia-nccl</c> wheel; on the CUDA emulator its world-of-one NCCL). Handles are pointers; an
/// <c>ncclUniqueId</c> is 128 bytes passed by value; every collective is queued on a CUDA stream.
/// </summary>
internal static unsafe partial class NcclNative
{
    private const string Lib = "nccl";
    public const int UniqueIdBytes = 128;

    static NcclNative() => NativeLibraries.EnsureRegistered();

    /// <summary>ncclDataType_t.</summary>
    public enum DataType { Uint8 = 1, Int64 = 4, Float32 = 7, Float64 = 8 }

    /// <summary>ncclRedOp_t.</summary>
    public enum RedOp { Sum = 0, Max = 2, Avg = 4 }

    /// <summary>The 128 bytes of an ncclUniqueId.</summary>
    [StructLayout(LayoutKind.Sequential, Size = UniqueIdBytes)]
    public struct UniqueId { private fixed byte _bytes[UniqueIdBytes]; }

    public static void Check(int result, string function)
    {
        if (result == 0) return;
        string text = Marshal.PtrToStringUTF8(ncclGetErrorString(result)) ?? "unknown";
        string last = "";
        try { last = Marshal.PtrToStringUTF8(ncclGetLastError(0)) ?? ""; } catch (EntryPointNotFoundException) { }
        throw new DistributedException($"NCCL: {function} failed: {text} ({result}){(last.Length > 0 ? ": " + last : "")}.", []);
    }

    [LibraryImport(Lib)] public static partial int ncclGetVersion(int* version);
    [LibraryImport(Lib)] public static partial int ncclGetUniqueId(UniqueId* id);
    [LibraryImport(Lib)] public static partial int ncclCommInitRank(nint* comm, int nranks, UniqueId id, int rank);
    [LibraryImport(Lib)] public static partial int ncclCommDestroy(nint comm);
    [LibraryImport(Lib)] public static partial int ncclAllReduce(void* send, void* recv, nuint count, DataType type, RedOp op, nint comm, nint stream);
    [LibraryImport(Lib)] public static partial int ncclBroadcast(void* send, void* recv, nuint count, DataType type, int root, nint comm, nint stream);
    [LibraryImport(Lib)] public static partial int ncclAllGather(void* send, void* recv, nuint count, DataType type, nint comm, nint stream);
    [LibraryImport(Lib)] public static partial int ncclGroupStart();
    [LibraryImport(Lib)] public static partial int ncclGroupEnd();
    [LibraryImport(Lib)] public static partial nint ncclGetErrorString(int result);
    [LibraryImport(Lib)] public static partial nint ncclGetLastError(nint comm);
}
