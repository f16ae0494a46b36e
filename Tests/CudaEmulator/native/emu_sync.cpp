// What kernels call to synchronise (through the runtime table of cuda_emu_abi.h): __syncthreads and its
// reductions, and warp_exchange, the one primitive under every warp function.
//
// A barrier completes when all n threads of the block have arrived; the last to arrive releases the others
// (in the schedule's order) and carries on. Each arrival names its call site, so threads waiting at
// different barriers are reported, as is a thread that exits while others wait (NVIDIA hardware tolerates
// it, AMD hangs; the lenient mode counts exited threads as arrived).
//
// warp_exchange: each lane deposits 8 bytes in a round and waits for every existing, non-exited lane of its
// mask. A round lives until each of its lanes has read it (their next runtime call), so a fast lane's next
// round never overwrites slots a slow lane has yet to read. Slots start as 0xFF bytes: reading a lane that
// did not take part gives the poison.
#include "emu_scheduler.h"

#include <cstring>

namespace emu {
namespace sched {
namespace {

// ---- warps --------------------------------------------------------------------------------------------
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

} // namespace

void exit_while_others_wait(Thread* t)
{
    Launch& L = g_launch;
    unsigned tid = tid_of(t), bit = 1u << (tid & 31);
    Warp& w = L.warps[tid >> 5];
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

namespace {
const cuda_emu_runtime* table()
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

} // namespace
} // namespace sched

const cuda_emu_runtime* runtime_table() { return sched::table(); }

} // namespace emu
