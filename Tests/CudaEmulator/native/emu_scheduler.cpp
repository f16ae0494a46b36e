// Running a launch: every block, one after another on the calling OS thread; within a block, its threads as
// cooperative fibers.
//
// For each block the launcher switches to a worker fiber, which runs threads one after another to
// completion. A thread that blocks (a barrier or a warp function) keeps the fiber it is on, and the next
// runnable thread continues on another worker, taken from the idle pool or created then. So a barrier-free
// kernel costs two switches per block, and a block that reaches __syncthreads needs one fiber per thread.
// When a thread blocks, the next to run is: the oldest released thread, else the next unstarted thread,
// else the launcher, which then tells "block done" from "deadlock". Kernel frames never sit on the OS
// thread's stack, so an aborted launch just abandons its fibers and re-primes them: nothing unwinds.
//
// Everything here runs with exec_mutex held: one launch at a time in the process, so the state is global
// (emu_scheduler.h). Barriers and warp functions are in emu_sync.cpp.
#include "emu_scheduler.h"

#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <mutex>

extern "C" void emu_fiber_trampoline();

namespace emu {
namespace sched {

Launch g_launch;
Fiber* volatile g_fiber = nullptr;
volatile sig_atomic_t g_in_fiber = 0;

namespace {

std::vector<Fiber*> g_fibers, g_idle;
volatile pid_t g_launcher_tid = 0;
std::uintptr_t g_text_begin = 0, g_text_end = 0;

// The dynamic shared memory of the launch: a mapping whose last page is a guard, the buffer ending there.
unsigned char* g_dyn_map = nullptr;
std::size_t g_dyn_map_bytes = 0;
unsigned char* g_dyn_ptr = nullptr;
unsigned g_dyn_bytes = 0;

// ---- fibers -------------------------------------------------------------------------------------------
[[noreturn]] void worker_loop(Fiber* self);

extern "C" void emu_fiber_entry(Fiber* self) { worker_loop(self); }

void prepare_fiber(Fiber* f)
{
    std::uintptr_t top = ((std::uintptr_t)f->map + f->map_bytes) & ~(std::uintptr_t)15;
    auto* sp = (std::uint64_t*)(top - 64);
    sp[0] = 0x1F80ull | (0x037Full << 32);   // MXCSR and x87 control word: the ABI's defaults
    sp[1] = sp[2] = sp[3] = 0;               // r15, r14, r13
    sp[4] = (std::uint64_t)&emu_fiber_entry; // r12: called by the trampoline
    sp[5] = (std::uint64_t)f;                // rbx: its argument
    sp[6] = 0;                               // rbp
    sp[7] = (std::uint64_t)&emu_fiber_trampoline;
    f->sp = sp;
}

Fiber* new_fiber()
{
    std::size_t bytes = fiber_stack_bytes() + 4096;
    void* map = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (map == MAP_FAILED) return nullptr;
    mprotect(map, 4096, PROT_NONE);
    Fiber* f = new Fiber{nullptr, (unsigned char*)map, bytes};
    prepare_fiber(f);
    g_fibers.push_back(f);
    counters().fibers++;
    return f;
}

Fiber* idle_fiber()
{
    if (!g_idle.empty()) { Fiber* f = g_idle.back(); g_idle.pop_back(); return f; }
    return new_fiber();
}

} // namespace

// ---- shared with emu_sync.cpp -------------------------------------------------------------------------
std::string thread_name(unsigned tid)
{
    const cuda_emu_dim3& c = g_launch.coords[tid];
    const cuda_emu_dim3& b = g_launch.block;
    return format("thread (%u,%u,%u) of block (%u,%u,%u)", c.x, c.y, c.z, b.x, b.y, b.z);
}

std::string site(const char* file, int line) { return format("%s:%d", file ? file : "?", line); }

[[noreturn]] void abort_launch(int code, const std::string& message)
{
    Launch& L = g_launch;
    L.error = code;
    L.message = message;
    switch_to(g_fiber, nullptr);
    __builtin_unreachable();
}

void wait_here(Thread* t)
{
    Launch& L = g_launch;
    Fiber* self = t->fiber;
    if (L.ring_count) switch_to(self, pop_ready()->fiber);
    else if (L.next < L.n)
    {
        Fiber* w = idle_fiber();
        if (w == nullptr) abort_launch(kLaunchOutOfResources, "cannot map another fiber stack");
        switch_to(self, w);
    }
    else switch_to(self, nullptr);
    L.current = t;
    t->state = kRunning;
    set_thread_idx(t);
}

namespace {

// ---- threads --------------------------------------------------------------------------------------------
inline void thread_exit(Thread* t)
{
    Launch& L = g_launch;
    finish_reading(t);
    unsigned tid = tid_of(t);
    t->state = kDone;
    L.done++;
    if (L.first_exited < 0) L.first_exited = (int)tid;
    Warp& w = L.warps[tid >> 5];
    w.exited |= 1u << (tid & 31);
    if (w.pending || L.barrier.arrived) exit_while_others_wait(t);
}

inline void run_thread(Fiber* self, Thread* t)
{
    Launch& L = g_launch;
    t->state = kRunning;
    t->fiber = self;
    L.current = t;
    set_thread_idx(t);
    L.run(L.params);
    thread_exit(t);
}

[[noreturn]] void worker_loop(Fiber* self)
{
    for (;;)
    {
        Launch& L = g_launch;
        if (L.ring_count)
        {
            Thread* t = pop_ready();
            g_idle.push_back(self);
            switch_to(self, t->fiber);
        }
        else if (L.next < L.n) run_thread(self, &L.threads[L.order[L.next++]]);
        else
        {
            g_idle.push_back(self);
            switch_to(self, nullptr);
        }
    }
}

// ---- the launcher ------------------------------------------------------------------------------------------
std::uint64_t mix(std::uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

void set_order(std::uint64_t block_linear)
{
    Launch& L = g_launch;
    unsigned n = L.n;
    for (unsigned i = 0; i < n; ++i) L.order[i] = L.schedule == Schedule::Reverse ? n - 1 - i : i;
    if (L.schedule == Schedule::Random)
    {
        std::uint64_t s = mix(L.seed ^ mix(block_linear));
        for (unsigned i = n - 1; i > 0; --i)
        {
            s = mix(s);
            unsigned j = (unsigned)(s % (i + 1));
            std::swap(L.order[i], L.order[j]);
        }
    }
    for (unsigned i = 0; i < n; ++i) L.rank[L.order[i]] = i;
}

void begin_block(const cuda_emu_dim3& block, std::uint64_t linear)
{
    Launch& L = g_launch;
    L.block = block;
    if (L.schedule == Schedule::Random) set_order(linear);
    for (unsigned i = 0; i < L.n; ++i) L.threads[i] = Thread{kUnstarted, nullptr, nullptr, 0};
    L.next = 0;
    L.ring_head = L.ring_count = 0;
    L.done = 0;
    L.first_exited = -1;
    L.current = nullptr;
    L.barrier.arrived = 0;
    for (unsigned w = 0; w < (L.n + 31) / 32; ++w)
    {
        unsigned lanes = L.n - w * 32 >= 32 ? 32 : L.n - w * 32;
        L.warps[w].existing = lanes == 32 ? 0xFFFFFFFFu : (1u << lanes) - 1;
        L.warps[w].exited = 0;
        L.warps[w].used = L.warps[w].pending = 0;
    }
}

std::string deadlock_message()
{
    Launch& L = g_launch;
    unsigned at_barrier = 0, at_warp = 0;
    const Round* example = nullptr;
    for (unsigned i = 0; i < L.n; ++i)
    {
        if (L.threads[i].state == kAtBarrier) at_barrier++;
        if (L.threads[i].state == kAtWarp) { at_warp++; if (!example) example = L.threads[i].reading; }
    }
    std::string m = format("deadlock in block (%u,%u,%u): %u of %u threads done, %u at __syncthreads (%s), %u at warp functions",
                           L.block.x, L.block.y, L.block.z, L.done, L.n, at_barrier,
                           at_barrier ? site(L.barrier.file, L.barrier.line).c_str() : "-:0", at_warp);
    if (example) m += format(" (%s at %s, mask 0x%08x, lanes 0x%08x arrived)", example->what, site(example->file, example->line).c_str(),
                             example->mask, example->arrived);
    return m;
}

std::string fault_message()
{
    Launch& L = g_launch;
    const FaultReport& f = L.fault;
    std::string who = L.fault_thread ? " in " + thread_name(tid_of(L.fault_thread)) : "";
    if (f.signal == SIGFPE)
    {
        const char* what = f.code == FPE_INTDIV ? "integer division by zero" : f.code == FPE_INTOVF ? "integer overflow (INT_MIN / -1?)"
                                                                                                    : "floating-point trap";
        return format("arithmetic exception%s: %s", who.c_str(), what);
    }
    if (f.signal == 0)
        return format("the launch ran longer than CUDA_EMU_TIMEOUT = %g s and was stopped%s: a spin-wait on another thread or "
                      "block? (threads run one at a time and switch only at barriers and warp functions, so such a wait never ends)",
                      launch_timeout_seconds(), who.c_str());
    if (is_fiber_guard(f.address))
        return format("fiber stack overflow%s: the kernel's frames outgrew CUDA_EMU_STACK = %zu KiB; raise it", who.c_str(),
                      fiber_stack_bytes() >> 10);
    unsigned dyn = 0;
    if (is_dynamic_shared_guard(f.address, &dyn))
        return format("illegal %s%s at 0x%lx, past the end of the dynamic shared memory (the launch gave %u bytes)",
                      f.write ? "write" : "read", who.c_str(), (unsigned long)f.address, dyn);
    return format("illegal %s%s at %s", f.write ? "write" : "read", who.c_str(), mem::describe_fault_address(f.address).c_str());
}

void prepare_dynamic_shared(unsigned bytes)
{
    std::size_t need = (bytes + 15u) & ~15u;
    std::size_t pages = (need + 4095) & ~(std::size_t)4095;
    if (g_dyn_map == nullptr || pages + 4096 > g_dyn_map_bytes)
    {
        if (g_dyn_map) munmap(g_dyn_map, g_dyn_map_bytes);
        g_dyn_map_bytes = pages + 4096;
        g_dyn_map = (unsigned char*)mmap(nullptr, g_dyn_map_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        mprotect(g_dyn_map + g_dyn_map_bytes - 4096, 4096, PROT_NONE);
    }
    g_dyn_ptr = g_dyn_map + g_dyn_map_bytes - 4096 - need;
    g_dyn_bytes = bytes;
}

} // namespace
} // namespace sched

using namespace sched;

std::mutex& exec_mutex()
{
    static std::mutex m;
    return m;
}

int run_launch(const LaunchSpec& spec, std::string* message)
{
    Launch& L = g_launch;
    L.spec = &spec;
    L.run = spec.kernel->run;
    L.params = spec.params;
    L.thread_idx = spec.module->thread_idx;
    L.n = spec.block.x * spec.block.y * spec.block.z;
    L.strict = strict();
    L.schedule = schedule(&L.seed);
    L.error = 0;
    L.message.clear();
    L.faulted = false;
    L.fault_thread = nullptr;
    L.switches = L.barriers = L.rounds = 0;
    for (unsigned i = 0; i < L.n; ++i)
        L.coords[i] = cuda_emu_dim3{i % spec.block.x, (i / spec.block.x) % spec.block.y, i / (spec.block.x * spec.block.y)};
    set_order(0);

    prepare_dynamic_shared(spec.dynamic_shared_bytes);
    *spec.module->dynamic_shared = g_dyn_ptr;
    *spec.module->grid_dim = spec.grid;
    *spec.module->block_dim = spec.block;
    unsigned char* shared = spec.module->shared_begin;
    std::size_t static_shared = (std::size_t)(spec.module->shared_end - spec.module->shared_begin);

    ensure_signal_stack();
    g_text_begin = spec.module_text_begin;
    g_text_end = spec.module_text_end;
    g_launcher_tid = (pid_t)syscall(SYS_gettid);
    watchdog_arm(launch_timeout_seconds());
    std::uint64_t blocks = 0;
    for (unsigned z = 0; z < spec.grid.z && !L.error; ++z)
        for (unsigned y = 0; y < spec.grid.y && !L.error; ++y)
            for (unsigned x = 0; x < spec.grid.x && !L.error; ++x)
            {
                begin_block(cuda_emu_dim3{x, y, z}, ((std::uint64_t)z * spec.grid.y + y) * spec.grid.x + x);
                *spec.module->block_idx = L.block;
                if (static_shared) std::memset(shared, 0xFF, static_shared);
                if (g_dyn_bytes) std::memset(g_dyn_ptr, 0xFF, g_dyn_bytes);
                Fiber* w = idle_fiber();
                if (w == nullptr) { L.error = kLaunchOutOfResources; L.message = "cannot map a fiber stack"; break; }
                switch_to(nullptr, w);
                if (L.error) break;
                if (L.done != L.n) { L.error = kLaunchFailed; L.message = deadlock_message(); break; }
                blocks++;
            }
    watchdog_disarm();
    g_launcher_tid = 0;
    if (L.faulted) L.message = fault_message();
    if (L.error)
    {
        // Abandon every fiber's frames: re-prime them all as idle workers.
        g_idle.clear();
        for (Fiber* f : g_fibers) { prepare_fiber(f); g_idle.push_back(f); }
    }
    Counters& c = counters();
    c.launches++;
    c.blocks += blocks;
    c.threads += blocks * L.n;
    c.switches += L.switches;
    c.barriers += L.barriers;
    c.warp_rounds += L.rounds;
    *message = L.message;
    return L.error;
}

// ---- hooks for the signal handlers (async-signal-safe: no locks, no allocation) --------------------------
bool fault_is_ours(std::uintptr_t pc, bool watchdog)
{
    if (!g_in_fiber || g_launcher_tid == 0 || (pid_t)syscall(SYS_gettid) != g_launcher_tid) return false;
    return !watchdog || (pc >= g_text_begin && pc < g_text_end);
}

void abandon_fiber_after_fault(const FaultReport& report)
{
    Launch& L = g_launch;
    L.faulted = true;
    L.fault = report;
    L.fault_thread = L.current;
    L.error = report.signal == SIGSEGV || report.signal == SIGBUS ? kIllegalAddress : kLaunchFailed;
    void* scratch;
    g_fiber = nullptr;
    g_in_fiber = 0;
    emu_switch(&scratch, L.launcher_sp);
    __builtin_unreachable();
}

bool is_fiber_guard(std::uintptr_t address)
{
    for (Fiber* f : g_fibers)
        if (address >= (std::uintptr_t)f->map && address < (std::uintptr_t)f->map + 4096) return true;
    return false;
}

bool is_dynamic_shared_guard(std::uintptr_t address, unsigned* launch_bytes)
{
    if (g_dyn_map == nullptr) return false;
    std::uintptr_t guard = (std::uintptr_t)g_dyn_map + g_dyn_map_bytes - 4096;
    *launch_bytes = g_dyn_bytes;
    return address >= guard && address < guard + 4096;
}

} // namespace emu
