// The scheduler's state, shared by the launcher (emu_scheduler.cpp) and the synchronisation functions that
// kernels call (emu_sync.cpp). One launch runs at a time (exec_mutex), so the state is global; nothing here is
// thread_local, because a fiber may resume on another OS thread at a later launch.
#pragma once

#include "emu_internal.h"

#include <signal.h>

#include <vector>

extern "C" void emu_switch(void** save_sp, void* load_sp);

namespace emu {
namespace sched {

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

extern Launch g_launch;
extern Fiber* volatile g_fiber;          // the fiber running now; null on the launcher
extern volatile sig_atomic_t g_in_fiber;

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

inline unsigned tid_of(const Thread* t) { return (unsigned)(t - g_launch.threads); }

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

// A thread's previous warp round may be freed once the thread calls the runtime again (or exits).
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

std::string thread_name(unsigned tid);   // "thread (3,0,0) of block (1,0,0)"
std::string site(const char* file, int line);
// Ends the launch with code and message from within a fiber. Never returns.
[[noreturn]] void abort_launch(int code, const std::string& message);
// Parks thread t (already marked as waiting) and runs something else until t is released.
void wait_here(Thread* t);
// The checks when a thread leaves while lanes of its warp or threads of its block wait (emu_sync.cpp).
void exit_while_others_wait(Thread* t);

} // namespace sched
} // namespace emu
