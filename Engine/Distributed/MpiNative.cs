using System.Runtime.InteropServices;

namespace Engine.Distributed;

/// <summary>
/// The part of OpenMPI's C API the engine uses, bound from <c>libmpi.so.40</c> (Debian's <c>libopenmpi3</c>, OpenMPI
/// 4.x). OpenMPI's handles are pointers: a predefined handle (<c>MPI_COMM_WORLD</c>, <c>MPI_FLOAT</c>, <c>MPI_SUM</c>)
/// is the address of an exported object (<c>ompi_mpi_comm_world</c>, <c>ompi_mpi_float</c>, <c>ompi_mpi_op_sum</c>),
/// read here with <see cref="NativeLibrary.GetExport"/>; <c>MPI_IN_PLACE</c> is <c>(void*)1</c> and
/// <c>MPI_STATUS_IGNORE</c> is null.
/// </summary>
internal static unsafe partial class MpiNative
{
    public const string Lib = "libmpi.so.40";
    public const int Success = 0;
    public const int ThreadSerialized = 2;
    public const int CommTypeShared = 0;
    public static readonly nint InPlace = 1;

    private static readonly Lazy<nint> Handle = new(Load);

    /// <summary>True when libmpi.so.40 can be loaded here (OpenMPI installed).</summary>
    public static bool IsAvailable
    {
        get
        {
            try { return Handle.Value != 0; }
            catch (DllNotFoundException) { return false; }
        }
    }

    /// <summary>The address of the exported object <paramref name="name"/> (a predefined handle).</summary>
    public static nint Export(string name) => NativeLibrary.GetExport(Handle.Value, name);

    /// <summary>
    /// Loads libmpi with RTLD_GLOBAL before anything binds it: OpenMPI opens its components (transports,
    /// collectives) as plugins that look libmpi's symbols up globally, and a library loaded the .NET way
    /// (RTLD_LOCAL) leaves them with undefined symbols.
    /// </summary>
    private static nint Load()
    {
        const int RtldNow = 2, RtldGlobal = 0x100;
        nint h = dlopen(Lib, RtldNow | RtldGlobal);
        if (h == 0)
        {
            var why = Marshal.PtrToStringUTF8(dlerror()) ?? "unknown reason";
            throw new DllNotFoundException($"MPI: cannot load {Lib} ({why}); install OpenMPI (Debian: apt-get install openmpi-bin libopenmpi3).");
        }
        return h;
    }

    [LibraryImport("libc.so.6", StringMarshalling = StringMarshalling.Utf8)] private static partial nint dlopen(string file, int mode);
    [LibraryImport("libc.so.6")] private static partial nint dlerror();

    [LibraryImport(Lib)] public static partial int MPI_Initialized(int* flag);
    [LibraryImport(Lib)] public static partial int MPI_Finalized(int* flag);
    [LibraryImport(Lib)] public static partial int MPI_Init_thread(int* argc, nint argv, int required, int* provided);
    [LibraryImport(Lib)] public static partial int MPI_Finalize();
    [LibraryImport(Lib)] public static partial int MPI_Abort(nint comm, int errorcode);
    [LibraryImport(Lib)] public static partial int MPI_Comm_rank(nint comm, int* rank);
    [LibraryImport(Lib)] public static partial int MPI_Comm_size(nint comm, int* size);
    [LibraryImport(Lib)] public static partial int MPI_Comm_dup(nint comm, nint* newcomm);
    [LibraryImport(Lib)] public static partial int MPI_Comm_split_type(nint comm, int splitType, int key, nint info, nint* newcomm);
    [LibraryImport(Lib)] public static partial int MPI_Comm_free(nint* comm);
    [LibraryImport(Lib)] public static partial int MPI_Comm_set_errhandler(nint comm, nint errhandler);
    [LibraryImport(Lib)] public static partial int MPI_Error_string(int errorcode, byte* text, int* length);
    [LibraryImport(Lib)] public static partial int MPI_Iallreduce(void* sendbuf, void* recvbuf, int count, nint datatype, nint op, nint comm, nint* request);
    [LibraryImport(Lib)] public static partial int MPI_Ibcast(void* buffer, int count, nint datatype, int root, nint comm, nint* request);
    [LibraryImport(Lib)] public static partial int MPI_Iallgather(void* sendbuf, int sendcount, nint sendtype, void* recvbuf, int recvcount, nint recvtype, nint comm, nint* request);
    [LibraryImport(Lib)] public static partial int MPI_Ibarrier(nint comm, nint* request);
    [LibraryImport(Lib)] public static partial int MPI_Test(nint* request, int* flag, nint status);

    /// <summary>OpenMPI's text for an error code.</summary>
    public static string ErrorString(int code)
    {
        var buffer = stackalloc byte[512];
        int length = 0;
        return MPI_Error_string(code, buffer, &length) == Success ? Marshal.PtrToStringUTF8((nint)buffer, length) : $"MPI error {code}";
    }
}
