// Faults in kernels become launch errors. cuInit installs SIGSEGV, SIGBUS and SIGFPE handlers that remember
// the previous ones (.NET's): a fault is the emulator's only when it happens on the thread running a launch,
// inside a fiber; the handler then records it and switches straight to the launcher, abandoning the fiber.
// Any other fault goes to the previous handler, so .NET's NullReferenceException keeps working.
//
// The watchdog (CUDA_EMU_TIMEOUT) stops a launch that never ends (a spin-wait on another thread or block,
// which cooperative threads never satisfy): a helper thread signals the launcher thread, whose handler
// aborts the launch when the thread is executing kernel code.
#include "emu_internal.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace emu {
namespace {

struct sigaction g_previous[NSIG];
std::atomic<std::uint64_t> g_arm_generation{0};
volatile std::uint64_t g_signalled_generation = 0;
volatile int g_watchdog_misses = 0;

int watchdog_signal() { return SIGRTMAX - 1; }

void chain(int signal, siginfo_t* info, void* context)
{
    const struct sigaction& p = g_previous[signal];
    if (p.sa_flags & SA_SIGINFO)
    {
        if (p.sa_sigaction) p.sa_sigaction(signal, info, context);
        return;
    }
    if (p.sa_handler == SIG_IGN) return;
    if (p.sa_handler == SIG_DFL)
    {
        // Back to the default action; the faulting instruction runs again and the process ends as it would have.
        struct sigaction d{};
        d.sa_handler = SIG_DFL;
        sigaction(signal, &d, nullptr);
        return;
    }
    p.sa_handler(signal);
}

void handler(int signal, siginfo_t* info, void* context)
{
    auto* uc = (ucontext_t*)context;
    std::uintptr_t pc = (std::uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
    if (signal == watchdog_signal())
    {
        if (g_signalled_generation != g_arm_generation.load()) return;   // meant for an earlier launch
        // Abort only in the kernel's own code (not inside libc, which may hold a lock); after 50 tries, anywhere.
        if (fault_is_ours(pc, true) || (++g_watchdog_misses > 50 && fault_is_ours(pc, false)))
            abandon_fiber_after_fault(FaultReport{0, 0, 0, pc, false});
        return;
    }
    if (fault_is_ours(pc, false))
    {
        bool write = (uc->uc_mcontext.gregs[REG_ERR] & 2) != 0;
        abandon_fiber_after_fault(FaultReport{signal, info->si_code, (std::uintptr_t)info->si_addr, pc, write});
    }
    chain(signal, info, context);
}

struct Watchdog
{
    std::mutex mutex;
    std::condition_variable wake;
    bool armed = false;
    std::chrono::steady_clock::time_point deadline;
    pid_t thread = 0;
    std::uint64_t generation = 0;
};

Watchdog& watchdog()
{
    static Watchdog* w = new Watchdog();
    return *w;
}

void watchdog_loop()
{
    Watchdog& w = watchdog();
    std::unique_lock<std::mutex> lock(w.mutex);
    for (;;)
    {
        if (!w.armed) { w.wake.wait(lock); continue; }
        if (w.wake.wait_until(lock, w.deadline) != std::cv_status::timeout || !w.armed) continue;
        if (std::chrono::steady_clock::now() < w.deadline) continue;
        g_signalled_generation = w.generation;
        syscall(SYS_tgkill, getpid(), w.thread, watchdog_signal());
        w.deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(10);   // again until it stops
    }
}

} // namespace

void install_fault_handlers()
{
    static std::once_flag once;
    std::call_once(once, [] {
        for (int s : {SIGSEGV, SIGBUS, SIGFPE, watchdog_signal()})
        {
            struct sigaction a{};
            a.sa_sigaction = handler;
            a.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
            sigemptyset(&a.sa_mask);
            sigaction(s, &a, &g_previous[s]);
        }
    });
}

void ensure_signal_stack()
{
    stack_t current{};
    if (sigaltstack(nullptr, &current) != 0 || !(current.ss_flags & SS_DISABLE)) return;   // .NET's own stays
    const std::size_t bytes = 64 << 10;
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return;
    stack_t s{};
    s.ss_sp = p;
    s.ss_size = bytes;
    sigaltstack(&s, nullptr);
}

void watchdog_arm(double seconds)
{
    if (seconds <= 0) return;
    Watchdog& w = watchdog();
    static std::once_flag started;
    std::call_once(started, [] { std::thread(watchdog_loop).detach(); });
    std::lock_guard<std::mutex> lock(w.mutex);
    w.armed = true;
    w.thread = (pid_t)syscall(SYS_gettid);
    w.deadline = std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                                        std::chrono::duration<double>(seconds));
    w.generation = ++g_arm_generation;
    g_watchdog_misses = 0;
    w.wake.notify_one();
}

void watchdog_disarm()
{
    Watchdog& w = watchdog();
    std::lock_guard<std::mutex> lock(w.mutex);
    if (!w.armed) return;
    w.armed = false;
    ++g_arm_generation;
    w.wake.notify_one();
}

} // namespace emu
