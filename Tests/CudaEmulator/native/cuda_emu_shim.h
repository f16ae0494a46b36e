// The CUDA built-ins for kernels compiled by the emulator's NVRTC: force-included (g++ -include) ahead of
// the exact source the engine gives NVRTC. It declares what NVRTC declares without any #include, and
// nothing else: no libc or libstdc++ header, so a source that forgets a typedef fails here as on NVRTC.
//
// Pass 1 (g++ -E) leaves __global__ and __launch_bounds__ undefined, so they survive as tokens: the
// emulator finds the kernels and their bounds in the preprocessed text, blanks those tokens, rewrites
// `extern __shared__ T name[];` and appends the registration table (see emu_nvrtc.cpp).
#ifndef CUDA_EMU_SHIM_H
#define CUDA_EMU_SHIM_H

#include "cuda_emu_abi.h"

#define __CUDA_EMU__ 1
#define __CUDACC__ 1
#define __CUDACC_RTC__ 1
#ifndef __CUDA_ARCH__
#define __CUDA_ARCH__ 900
#endif

typedef decltype(sizeof(0)) size_t;
typedef decltype((char*)0 - (char*)0) ptrdiff_t;

// ---- qualifiers ----------------------------------------------------------------------------------------
#define __device__
#define __host__
#define __constant__
#define __grid_constant__
#define __forceinline__ inline __attribute__((always_inline))
#define __noinline__ __attribute__((noinline))
#define __restrict__ __restrict
#define __align__(n) __attribute__((aligned(n)))
#define __managed__ _Pragma("GCC error \"__managed__ variables are not supported by the CUDA emulator\"")
// Static shared memory: a section of its own, gathered by emu_shared.ld between __emu_shared_begin and
// __emu_shared_end so that the runtime can poison it at every block. (GCC ignores the attribute for static
// locals of templates and inline functions: the script gathers their .bss._ZZ* sections too.)
#define __shared__ __attribute__((section(".bss.emu_shared"))) static

// ---- built-in variables and vector types -----------------------------------------------------------------
struct uint3 { unsigned x, y, z; };
struct dim3
{
    unsigned x, y, z;
    constexpr dim3(unsigned vx = 1, unsigned vy = 1, unsigned vz = 1) : x(vx), y(vy), z(vz) {}
    constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
    constexpr operator uint3() const { return uint3{x, y, z}; }
};

extern "C" {
__attribute__((visibility("hidden"))) uint3 __emu_thread_idx;
__attribute__((visibility("hidden"))) uint3 __emu_block_idx;
__attribute__((visibility("hidden"))) dim3 __emu_block_dim;
__attribute__((visibility("hidden"))) dim3 __emu_grid_dim;
__attribute__((visibility("hidden"))) void* __emu_dynamic_smem;
__attribute__((visibility("hidden"))) const cuda_emu_runtime* __emu_rt;
extern __attribute__((visibility("hidden"))) unsigned char __emu_shared_begin[];
extern __attribute__((visibility("hidden"))) unsigned char __emu_shared_end[];
}

// Read-only views: `threadIdx.x = 0` does not compile, as on a device.
static const uint3& threadIdx = __emu_thread_idx;
static const uint3& blockIdx = __emu_block_idx;
static const dim3& blockDim = __emu_block_dim;
static const dim3& gridDim = __emu_grid_dim;
static constexpr int warpSize = 32;

#define __EMU_VEC2(T, N, A) struct __attribute__((aligned(A))) N##2 { T x, y; }; \
    static __forceinline__ N##2 make_##N##2(T x, T y) { N##2 v; v.x = x; v.y = y; return v; }
#define __EMU_VEC3(T, N) struct N##3 { T x, y, z; }; \
    static __forceinline__ N##3 make_##N##3(T x, T y, T z) { N##3 v; v.x = x; v.y = y; v.z = z; return v; }
#define __EMU_VEC4(T, N, A) struct __attribute__((aligned(A))) N##4 { T x, y, z, w; }; \
    static __forceinline__ N##4 make_##N##4(T x, T y, T z, T w) { N##4 v; v.x = x; v.y = y; v.z = z; v.w = w; return v; }
__EMU_VEC2(float, float, 8) __EMU_VEC3(float, float) __EMU_VEC4(float, float, 16)
__EMU_VEC2(double, double, 16) __EMU_VEC3(double, double) __EMU_VEC4(double, double, 16)
__EMU_VEC2(int, int, 8) __EMU_VEC3(int, int) __EMU_VEC4(int, int, 16)
__EMU_VEC2(unsigned, uint, 8) __EMU_VEC4(unsigned, uint, 16)
__EMU_VEC2(char, char, 2) __EMU_VEC4(char, char, 4)
__EMU_VEC2(unsigned char, uchar, 2) __EMU_VEC4(unsigned char, uchar, 4)
__EMU_VEC2(short, short, 4) __EMU_VEC4(short, short, 8)
__EMU_VEC2(unsigned short, ushort, 4) __EMU_VEC4(unsigned short, ushort, 8)
__EMU_VEC2(long long, longlong, 16) __EMU_VEC2(unsigned long long, ulonglong, 16)
static __forceinline__ uint3 make_uint3(unsigned x, unsigned y, unsigned z) { uint3 v; v.x = x; v.y = y; v.z = z; return v; }
#undef __EMU_VEC2
#undef __EMU_VEC3
#undef __EMU_VEC4

// ---- libc declarations NVRTC also makes -------------------------------------------------------------------
extern "C" {
int printf(const char* format, ...) noexcept;
void* malloc(size_t bytes) noexcept;
void free(void* p) noexcept;
void* memcpy(void* dst, const void* src, size_t bytes) noexcept;
void* memset(void* dst, int value, size_t bytes) noexcept;
int fegetround(void) noexcept;
int fesetround(int mode) noexcept;
}

// ---- synchronisation -----------------------------------------------------------------------------------
// The memory clobbers keep every shared value out of registers across a switch to another thread.
#define __EMU_SITE const char* __emu_file = __builtin_FILE(), int __emu_line = __builtin_LINE()
#define __EMU_FENCE() __asm__ __volatile__("" ::: "memory")

static __forceinline__ void __syncthreads(__EMU_SITE)
{
    __EMU_FENCE(); __emu_rt->barrier(CUDA_EMU_REDUCE_NONE, 0, __emu_file, __emu_line); __EMU_FENCE();
}
static __forceinline__ int __syncthreads_count(int p, __EMU_SITE)
{
    __EMU_FENCE(); int r = __emu_rt->barrier(CUDA_EMU_REDUCE_COUNT, p != 0, __emu_file, __emu_line); __EMU_FENCE(); return r;
}
static __forceinline__ int __syncthreads_and(int p, __EMU_SITE)
{
    __EMU_FENCE(); int r = __emu_rt->barrier(CUDA_EMU_REDUCE_AND, p != 0, __emu_file, __emu_line); __EMU_FENCE(); return r;
}
static __forceinline__ int __syncthreads_or(int p, __EMU_SITE)
{
    __EMU_FENCE(); int r = __emu_rt->barrier(CUDA_EMU_REDUCE_OR, p != 0, __emu_file, __emu_line); __EMU_FENCE(); return r;
}
static __forceinline__ void __threadfence() { __EMU_FENCE(); }
static __forceinline__ void __threadfence_block() { __EMU_FENCE(); }
static __forceinline__ void __threadfence_system() { __EMU_FENCE(); }
[[noreturn]] static __forceinline__ void __trap(__EMU_SITE)
{
    __emu_rt->trap("__trap()", __emu_file, __emu_line); __builtin_unreachable();
}
[[noreturn]] static __forceinline__ void __brkpt(__EMU_SITE)
{
    __emu_rt->trap("__brkpt()", __emu_file, __emu_line); __builtin_unreachable();
}
[[noreturn]] static __noinline__ void __emu_assert_fail(const char* text, const char* file, int line)
{
    __emu_rt->trap(text, file, line); __builtin_unreachable();
}
#define assert(e) ((e) ? (void)0 : __emu_assert_fail("assertion '" #e "' failed", __FILE__, __LINE__))

// ---- warp functions ----------------------------------------------------------------------------------
// One exchange round per call (runtime's warp_exchange); shuffles follow PTX shfl.sync: the segment is
// `width` lanes, and a lane whose source is outside its segment keeps its own value.
static __forceinline__ unsigned __emu_lane()
{
    return (threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z)) & 31u;
}
template <class T> static __forceinline__ unsigned long long __emu_bits(T v)
{
    static_assert(sizeof(T) <= 8, "warp shuffles move at most 8 bytes");
    unsigned long long b = 0; __builtin_memcpy(&b, &v, sizeof(T)); return b;
}
template <class T> static __forceinline__ T __emu_from_bits(unsigned long long b)
{
    T v; __builtin_memcpy(&v, &b, sizeof(T)); return v;
}
enum __emu_shfl_kind { __emu_idx, __emu_up, __emu_down, __emu_xor };
template <class T> static __forceinline__ T __emu_shfl(unsigned mask, T var, int arg, int width, __emu_shfl_kind kind,
                                                      const char* what, const char* file, int line)
{
    __EMU_FENCE();
    const unsigned long long* s = __emu_rt->warp_exchange(mask, __emu_bits(var), what, file, line);
    if (width < 1 || width > 32 || (width & (width - 1)) != 0) __emu_rt->trap("shuffle width must be a power of 2 from 1 to 32", file, line);
    unsigned lane = __emu_lane(), seg = 32u - (unsigned)width;
    unsigned min_lane = lane & seg, max_lane = kind == __emu_up ? min_lane : (min_lane | (31u & ~seg));
    int j; bool ok;
    switch (kind)
    {
        case __emu_up: j = (int)lane - arg; ok = j >= (int)max_lane; break;
        case __emu_down: j = (int)lane + arg; ok = j <= (int)max_lane; break;
        case __emu_xor: j = (int)(lane ^ (unsigned)arg); ok = j <= (int)max_lane; break;
        default: j = (int)(min_lane | ((unsigned)arg & (unsigned)(width - 1))); ok = true; break;
    }
    T r = __emu_from_bits<T>(s[ok ? j : (int)lane]);
    __EMU_FENCE();
    return r;
}
template <class T> static __forceinline__ T __shfl_sync(unsigned mask, T var, int src, int width = 32, __EMU_SITE)
{ return __emu_shfl(mask, var, src, width, __emu_idx, "__shfl_sync", __emu_file, __emu_line); }
template <class T> static __forceinline__ T __shfl_up_sync(unsigned mask, T var, unsigned d, int width = 32, __EMU_SITE)
{ return __emu_shfl(mask, var, (int)d, width, __emu_up, "__shfl_up_sync", __emu_file, __emu_line); }
template <class T> static __forceinline__ T __shfl_down_sync(unsigned mask, T var, unsigned d, int width = 32, __EMU_SITE)
{ return __emu_shfl(mask, var, (int)d, width, __emu_down, "__shfl_down_sync", __emu_file, __emu_line); }
template <class T> static __forceinline__ T __shfl_xor_sync(unsigned mask, T var, int m, int width = 32, __EMU_SITE)
{ return __emu_shfl(mask, var, m, width, __emu_xor, "__shfl_xor_sync", __emu_file, __emu_line); }

static __forceinline__ const unsigned long long* __emu_round(unsigned mask, unsigned long long v, const char* what, const char* f, int l)
{
    __EMU_FENCE(); const unsigned long long* s = __emu_rt->warp_exchange(mask, v, what, f, l); __EMU_FENCE(); return s;
}
static __forceinline__ unsigned __ballot_sync(unsigned mask, int p, __EMU_SITE)
{
    const unsigned long long* s = __emu_round(mask, p != 0, "__ballot_sync", __emu_file, __emu_line);
    unsigned r = 0, in = (unsigned)s[32];
    for (int j = 0; j < 32; ++j) if (((in >> j) & 1u) && s[j] == 1) r |= 1u << j;
    return r;
}
static __forceinline__ int __any_sync(unsigned mask, int p, __EMU_SITE)
{
    const unsigned long long* s = __emu_round(mask, p != 0, "__any_sync", __emu_file, __emu_line);
    for (int j = 0; j < 32; ++j) if ((((unsigned)s[32] >> j) & 1u) && s[j] == 1) return 1;
    return 0;
}
static __forceinline__ int __all_sync(unsigned mask, int p, __EMU_SITE)
{
    const unsigned long long* s = __emu_round(mask, p != 0, "__all_sync", __emu_file, __emu_line);
    for (int j = 0; j < 32; ++j) if ((((unsigned)s[32] >> j) & 1u) && s[j] == 0) return 0;
    return 1;
}
static __forceinline__ void __syncwarp(unsigned mask = 0xffffffffu, __EMU_SITE)
{
    __emu_round(mask, 0, "__syncwarp", __emu_file, __emu_line);
}
static __forceinline__ unsigned __activemask() { return __emu_rt->active_mask(); }
template <class T> static __forceinline__ unsigned __match_any_sync(unsigned mask, T v, __EMU_SITE)
{
    unsigned long long b = __emu_bits(v);
    const unsigned long long* s = __emu_round(mask, b, "__match_any_sync", __emu_file, __emu_line);
    unsigned r = 0, in = (unsigned)s[32];
    for (int j = 0; j < 32; ++j) if (((in >> j) & 1u) && s[j] == b) r |= 1u << j;
    return r;
}
template <class T> static __forceinline__ unsigned __match_all_sync(unsigned mask, T v, int* pred, __EMU_SITE)
{
    unsigned long long b = __emu_bits(v);
    const unsigned long long* s = __emu_round(mask, b, "__match_all_sync", __emu_file, __emu_line);
    unsigned in = (unsigned)s[32];
    for (int j = 0; j < 32; ++j) if (((in >> j) & 1u) && s[j] != b) { *pred = 0; return 0; }
    *pred = 1; return in;
}
#define __EMU_WARP_REDUCE(NAME, T, INIT, EXPR)                                                          \
    static __forceinline__ T NAME(unsigned mask, T v, __EMU_SITE)                                       \
    {                                                                                                   \
        const unsigned long long* s = __emu_round(mask, (unsigned long long)(unsigned)v, #NAME, __emu_file, __emu_line); \
        T r = INIT; unsigned in = (unsigned)s[32];                                                      \
        for (int j = 0; j < 32; ++j) if ((in >> j) & 1u) { T x = (T)(unsigned)s[j]; r = EXPR; }         \
        return r;                                                                                       \
    }
__EMU_WARP_REDUCE(__reduce_add_sync, unsigned, 0u, r + x)
__EMU_WARP_REDUCE(__reduce_add_sync, int, 0, (int)((unsigned)r + (unsigned)x))
__EMU_WARP_REDUCE(__reduce_min_sync, unsigned, 0xffffffffu, x < r ? x : r)
__EMU_WARP_REDUCE(__reduce_min_sync, int, 0x7fffffff, x < r ? x : r)
__EMU_WARP_REDUCE(__reduce_max_sync, unsigned, 0u, x > r ? x : r)
__EMU_WARP_REDUCE(__reduce_max_sync, int, (int)0x80000000, x > r ? x : r)
__EMU_WARP_REDUCE(__reduce_and_sync, unsigned, 0xffffffffu, r & x)
__EMU_WARP_REDUCE(__reduce_or_sync, unsigned, 0u, r | x)
__EMU_WARP_REDUCE(__reduce_xor_sync, unsigned, 0u, r ^ x)
#undef __EMU_WARP_REDUCE

// ---- atomics: plain read-modify-writes (one OS thread runs a launch; switches happen only in barriers and
// warp functions, so nothing can come between the read and the write) -----------------------------------
#define __EMU_ATOMIC(NAME, T, EXPR) \
    static __forceinline__ T NAME(T* a, T v) { T old = *a; *a = (EXPR); return old; } \
    static __forceinline__ T NAME##_block(T* a, T v) { return NAME(a, v); } \
    static __forceinline__ T NAME##_system(T* a, T v) { return NAME(a, v); }
#define __EMU_ATOMIC_ALL_INT(NAME, EXPR) __EMU_ATOMIC(NAME, int, EXPR) __EMU_ATOMIC(NAME, unsigned, EXPR) \
    __EMU_ATOMIC(NAME, long long, EXPR) __EMU_ATOMIC(NAME, unsigned long long, EXPR)
__EMU_ATOMIC_ALL_INT(atomicAdd, old + v)
__EMU_ATOMIC(atomicAdd, float, old + v)
__EMU_ATOMIC(atomicAdd, double, old + v)
__EMU_ATOMIC_ALL_INT(atomicSub, old - v)
__EMU_ATOMIC_ALL_INT(atomicExch, v)
__EMU_ATOMIC(atomicExch, float, v)
__EMU_ATOMIC_ALL_INT(atomicMin, v < old ? v : old)
__EMU_ATOMIC_ALL_INT(atomicMax, v > old ? v : old)
__EMU_ATOMIC_ALL_INT(atomicAnd, old & v)
__EMU_ATOMIC_ALL_INT(atomicOr, old | v)
__EMU_ATOMIC_ALL_INT(atomicXor, old ^ v)
__EMU_ATOMIC(atomicInc, unsigned, old >= v ? 0u : old + 1u)
__EMU_ATOMIC(atomicDec, unsigned, (old == 0u || old > v) ? v : old - 1u)
#undef __EMU_ATOMIC_ALL_INT
#undef __EMU_ATOMIC
#define __EMU_CAS(T) \
    static __forceinline__ T atomicCAS(T* a, T compare, T v) { T old = *a; if (old == compare) *a = v; return old; } \
    static __forceinline__ T atomicCAS_block(T* a, T c, T v) { return atomicCAS(a, c, v); } \
    static __forceinline__ T atomicCAS_system(T* a, T c, T v) { return atomicCAS(a, c, v); }
__EMU_CAS(int) __EMU_CAS(unsigned) __EMU_CAS(unsigned long long) __EMU_CAS(unsigned short)
#undef __EMU_CAS

// ---- cache-hinted loads and stores: plain accesses -----------------------------------------------------
template <class T> static __forceinline__ T __ldg(const T* p) { return *p; }
template <class T> static __forceinline__ T __ldca(const T* p) { return *p; }
template <class T> static __forceinline__ T __ldcg(const T* p) { return *p; }
template <class T> static __forceinline__ T __ldcs(const T* p) { return *p; }
template <class T> static __forceinline__ T __ldlu(const T* p) { return *p; }
template <class T> static __forceinline__ T __ldcv(const T* p) { return *p; }
template <class T> static __forceinline__ void __stwb(T* p, T v) { *p = v; }
template <class T> static __forceinline__ void __stcg(T* p, T v) { *p = v; }
template <class T> static __forceinline__ void __stcs(T* p, T v) { *p = v; }
template <class T> static __forceinline__ void __stwt(T* p, T v) { *p = v; }

// ---- timing -------------------------------------------------------------------------------------------
typedef long clock_t;
static __forceinline__ long long clock64() { return (long long)__builtin_ia32_rdtsc(); }
static __forceinline__ clock_t clock() { return (clock_t)__builtin_ia32_rdtsc(); }
static __forceinline__ unsigned long long __globaltimer() { return __builtin_ia32_rdtsc(); }
static __forceinline__ void __nanosleep(unsigned) {}

#include "cuda_emu_math.h"

// ---- registration (used by the table the emulator appends to each unit) --------------------------------
namespace __emu {
template <class T> struct strip { typedef T type; };
template <class T> struct strip<const T> { typedef T type; };
template <class T> struct strip<volatile T> { typedef T type; };
template <class T> struct strip<const volatile T> { typedef T type; };
template <class T> struct is_pointer { static constexpr bool value = false; };
template <class T> struct is_pointer<T*> { static constexpr bool value = true; };
template <class T> struct is_reference { static constexpr bool value = false; };
template <class T> struct is_reference<T&> { static constexpr bool value = true; };
template <class T> struct is_reference<T&&> { static constexpr bool value = true; };
template <unsigned... I> struct seq {};
template <unsigned N, unsigned... I> struct make_seq : make_seq<N - 1, N - 1, I...> {};
template <unsigned... I> struct make_seq<0, I...> { typedef seq<I...> type; };

// The parameter buffer as the driver lays it out: each parameter at the next multiple of its alignment.
template <class... A> struct Layout
{
    static constexpr unsigned count = sizeof...(A);
    static constexpr unsigned sizes[count + 1] = {(unsigned)sizeof(A)..., 0u};
    static constexpr unsigned aligns[count + 1] = {(unsigned)alignof(A)..., 1u};
    static constexpr unsigned char pointers[count + 1] = {(unsigned char)is_pointer<typename strip<A>::type>::value..., 0};
    struct Offsets { unsigned at[count + 1]; unsigned total; };
    static constexpr Offsets compute()
    {
        Offsets o{};
        unsigned at = 0;
        for (unsigned i = 0; i < count; ++i) { at = (at + aligns[i] - 1) / aligns[i] * aligns[i]; o.at[i] = at; at += sizes[i]; }
        o.total = at;
        return o;
    }
    static constexpr Offsets offsets = compute();
};

template <auto F> struct Kernel;
template <class... A, void (*F)(A...)> struct Kernel<F>
{
    static_assert(!(is_reference<A>::value || ...), "a kernel parameter cannot be a reference");
    typedef Layout<typename strip<A>::type...> L;
    template <unsigned... I> static __forceinline__ void call(const unsigned char* p, seq<I...>)
    {
        F(*reinterpret_cast<const typename strip<A>::type*>(p + L::offsets.at[I])...);
    }
    static void run(const void* params) { call(static_cast<const unsigned char*>(params), typename make_seq<sizeof...(A)>::type()); }
    static constexpr cuda_emu_kernel entry(const char* name, int max_threads)
    {
        return cuda_emu_kernel{name, L::count, L::offsets.at, L::sizes, L::pointers, L::offsets.total, max_threads, &run};
    }
};

static inline int init_module(const cuda_emu_runtime* rt, cuda_emu_module_info* info, const cuda_emu_kernel* kernels, unsigned count)
{
    if (rt == nullptr || rt->abi_version != CUDA_EMU_ABI_VERSION || info == nullptr) return CUDA_EMU_ABI_VERSION;
    __emu_rt = rt;
    info->abi_version = CUDA_EMU_ABI_VERSION;
    info->shim_revision = CUDA_EMU_SHIM_REVISION;
    info->kernels = kernels;
    info->kernel_count = count;
    info->thread_idx = reinterpret_cast<cuda_emu_dim3*>(&__emu_thread_idx);
    info->block_idx = reinterpret_cast<cuda_emu_dim3*>(&__emu_block_idx);
    info->block_dim = reinterpret_cast<cuda_emu_dim3*>(&__emu_block_dim);
    info->grid_dim = reinterpret_cast<cuda_emu_dim3*>(&__emu_grid_dim);
    info->dynamic_shared = &__emu_dynamic_smem;
    info->shared_begin = __emu_shared_begin;
    info->shared_end = __emu_shared_end;
    info->runtime = &__emu_rt;
    return 0;
}
} // namespace __emu

#undef __EMU_FENCE
#endif
