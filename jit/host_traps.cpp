#include "jit/host_traps.h"
#include <map>
#include <mutex>
#include <ucontext.h>

namespace hayate::jit {

namespace {

// Written only while translating; read by the handler of a synchronous signal
// raised by generated code, which never runs while a translation edits the map
// on the same thread. (With several vCPU threads this needs a lock-free
// structure; the lock below orders the writers.)
// Never destroyed: engines held in static objects forget their sites during
// static destruction.
std::map<uintptr_t, uintptr_t>& sites() {
    static auto* m = new std::map<uintptr_t, uintptr_t>;
    return *m;
}
std::mutex g_writers; // trivially destructible in practice (glibc)
struct sigaction g_previous {};
bool g_installed = false;

void on_sigfpe(int sig, siginfo_t* info, void* ctx) {
    if (resume_host_trap(ctx)) return;
    // Not ours: whatever handled SIGFPE before, or the default action.
    if (g_previous.sa_flags & SA_SIGINFO) {
        if (g_previous.sa_sigaction) {
            g_previous.sa_sigaction(sig, info, ctx);
            return;
        }
    } else if (g_previous.sa_handler != SIG_DFL && g_previous.sa_handler != SIG_IGN) {
        g_previous.sa_handler(sig);
        return;
    }
    signal(sig, SIG_DFL); // returning re-executes the instruction, which now ends the process
}

} // namespace

void add_host_trap(const uint8_t* site, const uint8_t* resume) {
    std::lock_guard<std::mutex> lock(g_writers);
    sites()[uintptr_t(site)] = uintptr_t(resume);
}

void forget_host_traps(const uint8_t* begin, const uint8_t* end) {
    std::lock_guard<std::mutex> lock(g_writers);
    auto& m = sites();
    m.erase(m.lower_bound(uintptr_t(begin)), m.lower_bound(uintptr_t(end)));
}

bool resume_host_trap(void* ucontext) {
    auto* uc = static_cast<ucontext_t*>(ucontext);
    const auto& m = sites();
    auto it = m.find(uintptr_t(uc->uc_mcontext.gregs[REG_RIP]));
    if (it == m.end()) return false;
    uc->uc_mcontext.gregs[REG_RIP] = greg_t(it->second);
    return true;
}

void install_host_trap_handler() {
    std::lock_guard<std::mutex> lock(g_writers);
    if (g_installed) return;
    struct sigaction sa {};
    sa.sa_sigaction = on_sigfpe;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGFPE, &sa, &g_previous);
    g_installed = true;
}

} // namespace hayate::jit
