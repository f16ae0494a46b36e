// NCCL for a world of one process (the engine's NcclProcessGroup on the emulator): communicators of one rank,
// whose all-reduce, broadcast and all-gather copy the send buffer to the receive buffer on the stream (through
// the emulated cuMemcpyDtoDAsync, so pointers and streams are checked as for any copy). A communicator of more
// ranks is refused with ncclInvalidUsage: the emulator does not connect processes.
#include <cstdint>
#include <cstring>
#include <mutex>
#include <set>
#include <string>

#define EMU_NCCL_EXPORT extern "C" __attribute__((visibility("default")))

typedef unsigned long long CUdeviceptr_t;
extern "C" int cuMemcpyDtoDAsync_v2(CUdeviceptr_t dst, CUdeviceptr_t src, std::size_t bytes, void* stream);

namespace {
enum { ncclSuccess = 0, ncclUnhandledCudaError = 1, ncclInvalidArgument = 4, ncclInvalidUsage = 5 };
struct Comm { int nranks; int rank; };
std::mutex g_lock;
std::set<Comm*> g_comms;
thread_local int t_group_depth = 0;
thread_local std::string t_last;

int fail(int code, const char* fn, const std::string& why)
{
    t_last = std::string(fn) + ": " + why;
    return code;
}

bool known(void* comm)
{
    std::lock_guard<std::mutex> lock(g_lock);
    return g_comms.count(static_cast<Comm*>(comm)) != 0;
}

int type_size(int datatype)
{
    switch (datatype)
    {
        case 0: case 1: return 1;           // int8, uint8
        case 6: case 9: return 2;           // half, bfloat16
        case 2: case 3: case 7: return 4;   // int32, uint32, float
        case 4: case 5: case 8: return 8;   // int64, uint64, double
        default: return 0;
    }
}

int copy(const char* fn, const void* send, void* recv, std::size_t count, int datatype, void* comm, void* stream)
{
    if (!known(comm)) return fail(ncclInvalidArgument, fn, "comm was not made by ncclCommInitRank (or was destroyed)");
    int size = type_size(datatype);
    if (size == 0) return fail(ncclInvalidArgument, fn, "unknown datatype " + std::to_string(datatype));
    if (send == recv || count == 0) return ncclSuccess;
    int e = cuMemcpyDtoDAsync_v2(reinterpret_cast<CUdeviceptr_t>(recv), reinterpret_cast<CUdeviceptr_t>(send), count * size, stream);
    return e == 0 ? ncclSuccess : fail(ncclUnhandledCudaError, fn, "the copy on the stream failed with CUDA error " + std::to_string(e));
}
}

EMU_NCCL_EXPORT int ncclGetVersion(int* version)
{
    if (version == nullptr) return fail(ncclInvalidArgument, "ncclGetVersion", "version is null");
    *version = 22305;
    return ncclSuccess;
}

EMU_NCCL_EXPORT int ncclGetUniqueId(void* id)
{
    if (id == nullptr) return fail(ncclInvalidArgument, "ncclGetUniqueId", "uniqueId is null");
    std::memset(id, 0, 128);
    std::memcpy(id, "cudaemu-nccl", 12);
    return ncclSuccess;
}

// ncclUniqueId is a 128-byte struct passed by value: on x86-64 it travels in memory, as the bytes below.
struct UniqueId { char internal[128]; };

EMU_NCCL_EXPORT int ncclCommInitRank(void** comm, int nranks, UniqueId id, int rank)
{
    const char* fn = "ncclCommInitRank";
    if (comm == nullptr) return fail(ncclInvalidArgument, fn, "comm is null");
    if (std::memcmp(id.internal, "cudaemu-nccl", 12) != 0) return fail(ncclInvalidArgument, fn, "the unique id was not made by ncclGetUniqueId");
    if (nranks != 1 || rank != 0)
        return fail(ncclInvalidUsage, fn, "the CUDA emulator's NCCL has worlds of one rank only (nranks " + std::to_string(nranks) + ", rank " + std::to_string(rank) + ")");
    auto* c = new Comm{nranks, rank};
    std::lock_guard<std::mutex> lock(g_lock);
    g_comms.insert(c);
    *comm = c;
    return ncclSuccess;
}

EMU_NCCL_EXPORT int ncclCommDestroy(void* comm)
{
    std::lock_guard<std::mutex> lock(g_lock);
    if (g_comms.erase(static_cast<Comm*>(comm)) == 0) return fail(ncclInvalidArgument, "ncclCommDestroy", "comm was not made by ncclCommInitRank (or was destroyed)");
    delete static_cast<Comm*>(comm);
    return ncclSuccess;
}

EMU_NCCL_EXPORT int ncclCommCount(void* comm, int* count)
{
    if (!known(comm) || count == nullptr) return fail(ncclInvalidArgument, "ncclCommCount", "bad comm or null count");
    *count = static_cast<Comm*>(comm)->nranks;
    return ncclSuccess;
}

EMU_NCCL_EXPORT int ncclAllReduce(const void* send, void* recv, std::size_t count, int datatype, int op, void* comm, void* stream)
{
    if (op < 0 || op > 4) return fail(ncclInvalidArgument, "ncclAllReduce", "unknown reduction " + std::to_string(op));
    return copy("ncclAllReduce", send, recv, count, datatype, comm, stream);
}

EMU_NCCL_EXPORT int ncclBroadcast(const void* send, void* recv, std::size_t count, int datatype, int root, void* comm, void* stream)
{
    if (root != 0) return fail(ncclInvalidArgument, "ncclBroadcast", "root " + std::to_string(root) + " is outside a world of one");
    return copy("ncclBroadcast", send, recv, count, datatype, comm, stream);
}

EMU_NCCL_EXPORT int ncclAllGather(const void* send, void* recv, std::size_t count, int datatype, void* comm, void* stream)
{
    return copy("ncclAllGather", send, recv, count, datatype, comm, stream);
}

EMU_NCCL_EXPORT int ncclGroupStart() { ++t_group_depth; return ncclSuccess; }

EMU_NCCL_EXPORT int ncclGroupEnd()
{
    if (t_group_depth == 0) return fail(ncclInvalidUsage, "ncclGroupEnd", "ncclGroupEnd without ncclGroupStart");
    --t_group_depth;
    return ncclSuccess;
}

EMU_NCCL_EXPORT const char* ncclGetErrorString(int result)
{
    switch (result)
    {
        case ncclSuccess: return "no error";
        case ncclUnhandledCudaError: return "unhandled cuda error";
        case ncclInvalidArgument: return "invalid argument";
        case ncclInvalidUsage: return "invalid usage";
        default: return "unknown result code";
    }
}

EMU_NCCL_EXPORT const char* ncclGetLastError(void*) { return t_last.c_str(); }
