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
// Everything here runs with exec_mutex held: one launch at a time in the process, so the state is global.
// No thread_local is touched on a fiber: a fiber may resume on another OS thread at the next launch.
#include "emu_internal.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <mutex>

extern "C" void emu_switch(void** save_sp, void* load_sp);
extern "C" void emu_fiber_trampoline();

namespace emu {
namespace {

enum ThreadState : unsigned char { kUnstarted, kRunning, kAtBarrier, kAtWarp, kReady, kDone };

struct Fiber;

struct Round   // one exchange of a warp function among the lanes of a mask
{
    unsigned mask, need, arrived;
    int readers;
    const char* what;
    const char* file;
    int line;
    unsigned long long slots[33];
};

struct Thread
{
    ThreadState state;
    Fiber* fiber;
    Round* reading;          // the round whose slots this thread may still be reading
    int barrier_result;
};

struct Warp
{
    unsigned existing, exited;
    unsigned long long used, pending;   // bits over rounds[]
    Round rounds[64];
};

struct Barrier
{
    unsigned arrived;
    int op, acc;
    const char* file;
    int line;
    unsigned long long waiting[16];     // by rank
};

struct Fiber
{
    void* sp;
    unsigned char* map;                 // the stack mapping; its lowest page is the guard
    std::size_t map_bytes;
    bool busy;                          // holds a thread's frames
};

constexpr unsigned kMaxThreads = 1024;

struct Launch
{
    const LaunchSpec* spec;
    void (*run)(const void*);
    const void* params;
    cuda_emu_dim3* thread_idx;
    unsigned n;
    bool strict;
    Schedule schedule;
    std::uint64_t seed;
    cuda_emu_dim3 coords[kMaxThreads];
    unsigned order[kMaxThreads];        // rank -> thread
    unsigned rank[kMaxThreads];         // thread -> rank
    // the block being run
    cuda_emu_dim3 block;
    Thread threads[kMaxThreads];
    unsigned next;                      // next unstarted rank
    unsigned ring[kMaxThreads], ring_head, ring_count;
    unsigned done;
    int first_exited;
    Thread* current;
    Barrier barrier;
    Warp warps[kMaxThreads / 32];
    // the outcome
    int error;
    std::string message;
    bool faulted;
    FaultReport fault;
    Thread* fault_thread;
    void* launcher_sp;
    std::uint64_t switches, barriers, rounds;
};

Launch g_launch;
std::vector<Fiber*> g_fibers, g_idle;
Fiber* volatile g_fiber = nullptr;      // the fiber running now; null on the launcher
volatile sig_atomic_t g_in_fiber = 0;
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
    f->busy = false;
}

Fiber* new_fiber()
{
    std::size_t bytes = fiber_stack_bytes() + 4096;
    void* map = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (map == MAP_FAILED) return nullptr;
    mprotect(map, 4096, PROT_NONE);
    Fiber* f = new Fiber{nullptr, (unsigned char*)map, bytes, false};
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

inline void switch_to(Fiber* from, Fiber* to)
{
    Launch& L = g_launch;
    L.switches++;
    void** save = from ? &from->sp : &L.launcher_sp;
    void* load = to ? to->sp : L.launcher_sp;
    g_fiber = to;
    g_in_fiber = to != nullptr;
    emu_switch(save, load);
}

// ---- messages -----------------------------------------------------------------------------------------
unsigned tid_of(const Thread* t) { return (unsigned)(t - g_launch.threads); }

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

// ---- the ready queue and waiting -----------------------------------------------------------------------
inline void make_ready(unsigned tid)
{
    Launch& L = g_launch;
    L.threads[tid].state = kReady;
    L.ring[(L.ring_head + L.ring_count) & (kMaxThreads - 1)] = tid;
    L.ring_count++;
}

inline Thread* pop_ready()
{
    Launch& L = g_launch;
    unsigned tid = L.ring[L.ring_head];
    L.ring_head = (L.ring_head + 1) & (kMaxThreads - 1);
    L.ring_count--;
    return &L.threads[tid];
}

inline void set_thread_idx(const Thread* t) { *g_launch.thread_idx = g_launch.coords[tid_of(t)]; }

// Parks thread t (already marked as waiting) and runs something else until t is released.
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

// ---- warps --------------------------------------------------------------------------------------------
inline void finish_reading(Thread* t)
{
    Round* r = t->reading;
    if (r == nullptr) return;
    t->reading = nullptr;
    if (--r->readers == 0)
    {
        Warp& w = g_launch.warps[tid_of(t) >> 5];
        w.used &= ~(1ull << (r - w.rounds));
    }
}

// Releases every lane of a completed round but those in `running` (the last to arrive, which carries on), in
// rank order.
void complete_round(Warp& w, Round* r, unsigned running)
{
    Launch& L = g_launch;
    w.pending &= ~(1ull << (r - w.rounds));
    r->readers = __builtin_popcount(r->arrived);
    L.rounds++;
    unsigned base = (unsigned)(&w - L.warps) * 32;
    unsigned others = r->arrived & ~running;
    if (L.schedule == Schedule::Forward)
        for (unsigned m = others; m; m &= m - 1) make_ready(base + __builtin_ctz(m));
    else
    {
        unsigned lanes[32], count = 0;
        for (unsigned m = others; m; m &= m - 1) lanes[count++] = base + __builtin_ctz(m);
        for (unsigned i = 1; i < count; ++i)   // insertion sort by rank: at most 32
            for (unsigned j = i; j > 0 && L.rank[lanes[j]] < L.rank[lanes[j - 1]]; --j) std::swap(lanes[j], lanes[j - 1]);
        for (unsigned i = 0; i < count; ++i) make_ready(lanes[i]);
    }
}

const unsigned long long* warp_exchange(unsigned mask, unsigned long long value, const char* what, const char* file, int line)
{
    Launch& L = g_launch;
    Thread* t = L.current;
    finish_reading(t);
    unsigned tid = tid_of(t), lane = tid & 31, bit = 1u << lane;
    Warp& w = L.warps[tid >> 5];
    if (!(mask & bit))
        abort_launch(kLaunchFailed, format("%s at %s: lane %u (%s) is not in its own mask 0x%08x", what, site(file, line).c_str(),
                                           lane, thread_name(tid).c_str(), mask));
    unsigned need = mask & w.existing;
    if (need & w.exited)
    {
        if (L.strict)
            abort_launch(kLaunchFailed, format("%s at %s: the mask 0x%08x of %s names lanes that have exited (0x%08x): they never "
                                               "take part, and what the others read from them is undefined",
                                               what, site(file, line).c_str(), mask, thread_name(tid).c_str(), need & w.exited));
        need &= ~w.exited;
    }
    Round* r = nullptr;
    for (unsigned long long m = w.pending; m; m &= m - 1)
    {
        Round* p = &w.rounds[__builtin_ctzll(m)];
        if (p->mask == mask) { r = p; break; }
        if ((p->need & need) && L.strict)
            abort_launch(kLaunchFailed, format("lanes of warp %u wait in different warp functions or with different masks: %s "
                                               "at %s with mask 0x%08x, while lanes 0x%08x wait in %s at %s with mask 0x%08x",
                                               tid >> 5, what, site(file, line).c_str(), mask, p->arrived, p->what,
                                               site(p->file, p->line).c_str(), p->mask));
    }
    if (r == nullptr)
    {
        unsigned slot = (unsigned)__builtin_ctzll(~w.used);
        w.used |= 1ull << slot;
        w.pending |= 1ull << slot;
        r = &w.rounds[slot];
        r->mask = mask;
        r->need = need;
        r->arrived = 0;
        r->what = what;
        r->file = file;
        r->line = line;
        std::memset(r->slots, 0xFF, 32 * sizeof r->slots[0]);
        r->slots[32] = need;
    }
    r->slots[lane] = value;
    r->arrived |= bit;
    t->reading = r;
    if ((r->arrived & r->need) == r->need)
    {
        complete_round(w, r, bit);
        return r->slots;
    }
    t->state = kAtWarp;
    wait_here(t);
    return r->slots;
}

unsigned active_mask()
{
    Launch& L = g_launch;
    const Warp& w = L.warps[tid_of(L.current) >> 5];
    return w.existing & ~w.exited;
}

// ---- barriers -------------------------------------------------------------------------------------------
int complete_barrier()
{
    Launch& L = g_launch;
    Barrier& b = L.barrier;
    int result = b.op == CUDA_EMU_REDUCE_NONE ? 0 : b.acc;
    unsigned words = (L.n + 63) / 64;
    for (unsigned i = 0; i < words; ++i)
    {
        for (unsigned long long m = b.waiting[i]; m; m &= m - 1)
        {
            unsigned tid = L.order[i * 64 + __builtin_ctzll(m)];
            L.threads[tid].barrier_result = result;
            make_ready(tid);
        }
        b.waiting[i] = 0;
    }
    b.arrived = 0;
    L.barriers++;
    return result;
}

int barrier(int op, int predicate, const char* file, int line)
{
    Launch& L = g_launch;
    Thread* t = L.current;
    finish_reading(t);
    Barrier& b = L.barrier;
    unsigned tid = tid_of(t);
    const char* name = op == CUDA_EMU_REDUCE_COUNT ? "__syncthreads_count" : op == CUDA_EMU_REDUCE_AND ? "__syncthreads_and"
                     : op == CUDA_EMU_REDUCE_OR ? "__syncthreads_or" : "__syncthreads";
    if (b.arrived == 0)
    {
        b.file = file;
        b.line = line;
        b.op = op;
        b.acc = op == CUDA_EMU_REDUCE_AND ? 1 : 0;
    }
    else if (L.strict && (b.line != line || b.op != op || (b.file != file && std::strcmp(b.file, file) != 0)))
        abort_launch(kLaunchFailed, format("divergent __syncthreads: %s at %s (%s) while %u threads wait at %s", thread_name(tid).c_str(),
                                           site(file, line).c_str(), name, b.arrived, site(b.file, b.line).c_str()));
    b.arrived++;
    if (op == CUDA_EMU_REDUCE_COUNT) b.acc += predicate;
    else if (op == CUDA_EMU_REDUCE_AND) b.acc &= predicate;
    else if (op == CUDA_EMU_REDUCE_OR) b.acc |= predicate;
    if (L.strict && L.done > 0 && b.arrived + L.done == L.n)
        abort_launch(kLaunchFailed, format("%s exited before reaching __syncthreads at %s, where the other %u threads of its block "
                                           "wait (a thread that returns early must not skip a barrier)",
                                           thread_name((unsigned)L.first_exited).c_str(), site(file, line).c_str(), b.arrived));
    if (b.arrived + (L.strict ? 0 : L.done) == L.n) return complete_barrier();
    unsigned r = L.rank[tid];
    b.waiting[r / 64] |= 1ull << (r % 64);
    t->state = kAtBarrier;
    wait_here(t);
    return t->barrier_result;
}

// ---- threads --------------------------------------------------------------------------------------------
void thread_exit(Thread* t)
{
    Launch& L = g_launch;
    finish_reading(t);
    unsigned tid = tid_of(t), bit = 1u << (tid & 31);
    t->state = kDone;
    L.done++;
    if (L.first_exited < 0) L.first_exited = (int)tid;
    Warp& w = L.warps[tid >> 5];
    w.exited |= bit;
    for (unsigned long long m = w.pending; m; m &= m - 1)
    {
        Round* r = &w.rounds[__builtin_ctzll(m)];
        if (!(r->need & bit)) continue;
        if (L.strict)
            abort_launch(kLaunchFailed, format("%s exited while lanes 0x%08x of its warp wait for it in %s at %s (mask 0x%08x)",
                                               thread_name(tid).c_str(), r->arrived, r->what, site(r->file, r->line).c_str(), r->mask));
        r->need &= ~bit;
        if ((r->arrived & r->need) == r->need) complete_round(w, r, 0);
    }
    if (L.barrier.arrived)
    {
        if (L.strict)
            abort_launch(kLaunchFailed, format("%s exited while %u threads wait at __syncthreads (%s): a thread that returns early "
                                               "must not skip a barrier", thread_name(tid).c_str(), L.barrier.arrived,
                                               site(L.barrier.file, L.barrier.line).c_str()));
        if (L.barrier.arrived + L.done == L.n) complete_barrier();
    }
}

inline void run_thread(Fiber* self, Thread* t)
{
    Launch& L = g_launch;
    t->state = kRunning;
    t->fiber = self;
    self->busy = true;
    L.current = t;
    set_thread_idx(t);
    L.run(L.params);
    thread_exit(t);
    self->busy = false;
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

std::mutex& exec_mutex()
{
    static std::mutex m;
    return m;
}

const cuda_emu_runtime* runtime_table()
{
    static const cuda_emu_runtime table = {
        CUDA_EMU_ABI_VERSION,
        &barrier,
        &warp_exchange,
        [](const char* message, const char* file, int line) {
            Launch& L = g_launch;
            bool assertion = std::strncmp(message, "assertion", 9) == 0;
            abort_launch(assertion ? 710 : kLaunchFailed,
                         format("%s at %s in %s", message, site(file, line).c_str(), thread_name(tid_of(L.current)).c_str()));
        },
        &active_mask,
    };
    return &table;
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
