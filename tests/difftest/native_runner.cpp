// The reference side: runs a snippet on the host CPU.
//
// Fixed mappings: a code region (prologue, snippet, epilogue), a register
// save area below 2 GiB (so the prologue and epilogue address it with
// absolute 32-bit displacements and need no free register), and the data
// buffer. The prologue loads every GPR (RSP included), RFLAGS, MXCSR, the
// XMM registers and (where the host has AVX) the YMM upper halves from the
// save area; the snippet runs; a jump at its end goes
// to the epilogue, which stores everything back and returns to C++.
// Exceptions (#DE, #PF, #GP, #UD, #XM ...) arrive as signals on an alternate
// stack; the handler takes the vector from the kernel's trap number and the
// registers from the signal context, then long-jumps out.
#ifdef DIFFTEST_HAVE_GUEST
#include "jit/host_traps.h"
#endif
#include "tests/difftest/difftest.h"
#include <asmjit/x86.h>
#include <cpuid.h>
#include <csetjmp>
#include <csignal>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <sys/mman.h>
#include <ucontext.h>

namespace difftest {

namespace {

namespace x86 = asmjit::x86;

struct NativeArea {
    uint64_t gpr[16];
    uint64_t rflags;
    uint64_t host_rsp;
    uint32_t mxcsr;
    uint32_t host_mxcsr;
    uint64_t pad;
    alignas(16) uint8_t xmm[16][16];
    alignas(16) uint8_t x87[108];
    alignas(16) uint8_t ymm_high[16][16];
};
static_assert(offsetof(NativeArea, xmm) % 16 == 0);

NativeArea* area() { return reinterpret_cast<NativeArea*>(kNativeAreaAddr); }

x86::Mem abs_mem(size_t offset, uint32_t size) {
    x86::Mem m = x86::ptr_abs(kNativeAreaAddr + offset, size);
    m.setAbs();
    return m;
}

void* map_fixed(uint64_t addr, size_t size, int prot) {
    void* p = mmap(reinterpret_cast<void*>(addr), size, prot,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (p == MAP_FAILED || p != reinterpret_cast<void*>(addr))
        throw std::runtime_error("difftest: cannot map the fixed address " + std::to_string(addr));
    return p;
}

template <typename Fn> void assemble_at(uint64_t addr, size_t max, Fn&& body) {
    asmjit::CodeHolder code;
    code.init(asmjit::Environment::host(), addr);
    x86::Assembler a(&code);
    body(a);
    code.flatten();
    code.relocateToBase(addr);
    if (code.codeSize() > max) throw std::runtime_error("difftest: native stub too large");
    code.copyFlattenedData(reinterpret_cast<void*>(addr), max);
}

// --- signal state (one native run at a time) ---
sigjmp_buf g_jump;
volatile sig_atomic_t g_active = 0;
struct {
    int trapno;
    uint64_t rip, rflags, gpr[16];
    uint32_t mxcsr;
    uint8_t xmm[16][16], ymm_high[16][16];
} g_fault;

// The vector state in a signal frame: the FXSAVE image, followed (when the
// kernel saved with XSAVE, marked by FP_XSTATE_MAGIC1 in its software bytes)
// by the XSAVE header and the standard-format AVX component at offset 576.
void save_fault_vectors(const ucontext_t* uc) {
    const auto* fx = reinterpret_cast<const uint8_t*>(uc->uc_mcontext.fpregs);
    std::memset(g_fault.ymm_high, 0, sizeof g_fault.ymm_high);
    if (!fx) {
        g_fault.mxcsr = 0;
        std::memset(g_fault.xmm, 0, sizeof g_fault.xmm);
        return;
    }
    std::memcpy(&g_fault.mxcsr, fx + 24, 4);
    std::memcpy(g_fault.xmm, fx + 160, sizeof g_fault.xmm);
    uint32_t magic1;
    std::memcpy(&magic1, fx + 464, 4);
    if (magic1 != 0x46505853u) return;
    uint64_t xstate_bv;
    std::memcpy(&xstate_bv, fx + 512, 8);
    if (xstate_bv & 4) std::memcpy(g_fault.ymm_high, fx + 576, sizeof g_fault.ymm_high);
}

sigjmp_buf g_protect_jump;
volatile sig_atomic_t g_protect_active = 0;
int g_protect_sig = 0;
uint64_t g_protect_rip = 0, g_protect_addr = 0;

void on_signal(int sig, siginfo_t* info, void* ctx) {
#ifdef DIFFTEST_HAVE_GUEST
    // Hayate's own SIGFPE handling (guest SIMD exceptions) comes first while
    // Hayate runs: this handler replaced the one the engine installed.
    if (sig == SIGFPE && !g_active && hayate::jit::resume_host_trap(ctx)) return;
#endif
    if (g_protect_active && !g_active) {
        g_protect_active = 0;
        g_protect_sig = sig;
        g_protect_rip = uint64_t(static_cast<ucontext_t*>(ctx)->uc_mcontext.gregs[REG_RIP]);
        g_protect_addr = uint64_t(info->si_addr);
        siglongjmp(g_protect_jump, 1);
    }
    if (!g_active) {
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    g_active = 0;
    auto* uc = static_cast<ucontext_t*>(ctx);
    const greg_t* r = uc->uc_mcontext.gregs;
    static constexpr int order[16] = {REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP, REG_RSI, REG_RDI,
                                      REG_R8,  REG_R9,  REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15};
    for (int i = 0; i < 16; i++) g_fault.gpr[i] = uint64_t(r[order[i]]);
    g_fault.rip = uint64_t(r[REG_RIP]);
    g_fault.rflags = uint64_t(r[REG_EFL]);
    g_fault.trapno = int(r[REG_TRAPNO]);
    save_fault_vectors(uc);
    siglongjmp(g_jump, 1);
}

class NativeRunner final : public Runner {
  public:
    NativeRunner() {
        map_fixed(kCodeAddr, kCodeSize, PROT_READ | PROT_WRITE | PROT_EXEC);
        map_fixed(kNativeAreaAddr, 0x1000, PROT_READ | PROT_WRITE);
        map_fixed(kDataAddr, kDataSize, PROT_READ | PROT_WRITE);
        build_stubs();

        static std::vector<uint8_t> altstack(1 << 16);
        stack_t ss{};
        ss.ss_sp = altstack.data();
        ss.ss_size = altstack.size();
        sigaltstack(&ss, nullptr);
        install_handlers();
    }

    // Our handlers, on the alternate stack (a snippet's RSP may point
    // anywhere). Checked before every run: Hayate's engine, built after this
    // runner, installs its own SIGFPE handler (without SA_ONSTACK), and
    // on_signal does its work (resume_host_trap) anyway.
    static void install_handlers() {
        const int signals[] = {SIGFPE, SIGSEGV, SIGBUS, SIGILL, SIGTRAP};
        bool ours = true;
        for (int s : signals) {
            struct sigaction cur {};
            sigaction(s, nullptr, &cur);
            ours &= (cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == on_signal;
        }
        if (ours) return;
        struct sigaction sa {};
        sa.sa_sigaction = on_signal;
        sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
        sigemptyset(&sa.sa_mask);
        for (int s : signals) sigaction(s, &sa, nullptr);
    }

    ~NativeRunner() override {
        munmap(reinterpret_cast<void*>(kCodeAddr), kCodeSize);
        munmap(reinterpret_cast<void*>(kNativeAreaAddr), 0x1000);
        munmap(reinterpret_cast<void*>(kDataAddr), kDataSize);
    }

    RunResult run(const Case& c) override {
        RunResult out;
        if (c.code.size() > kSnippetMax) {
            out.error = "snippet too large";
            return out;
        }
        auto* snip = reinterpret_cast<uint8_t*>(kSnippetAddr);
        std::memcpy(snip, c.code.data(), c.code.size());
        uint8_t* j = snip + c.code.size();
        int32_t rel = int32_t(int64_t(kEpilogueAddr) - int64_t(kSnippetAddr + c.code.size() + 5));
        j[0] = 0xe9;
        std::memcpy(j + 1, &rel, 4);
        __builtin___clear_cache(reinterpret_cast<char*>(snip), reinterpret_cast<char*>(j + 5));

        std::memcpy(reinterpret_cast<void*>(kDataAddr), c.data.data(), kDataSize);
        NativeArea* a = area();
        std::memcpy(a->gpr, c.init.gpr, sizeof a->gpr);
        a->rflags = (c.init.rflags & kFlagMask) | 2;
        a->mxcsr = c.init.mxcsr;
        std::memcpy(a->xmm, c.init.xmm, sizeof a->xmm);
        std::memcpy(a->x87, c.init.x87, sizeof a->x87);
        std::memcpy(a->ymm_high, c.init.ymm_high, sizeof a->ymm_high);

        install_handlers();
        uint32_t host_mxcsr = 0x1f80;
        __asm__ volatile("stmxcsr %0" : "=m"(host_mxcsr));
        if (sigsetjmp(g_jump, 1) == 0) {
            g_active = 1;
            reinterpret_cast<void (*)()>(kCodeAddr)();
            g_active = 0;
            std::memcpy(out.regs.gpr, a->gpr, sizeof a->gpr);
            out.regs.rflags = a->rflags;
            out.regs.mxcsr = a->mxcsr;
            std::memcpy(out.regs.xmm, a->xmm, sizeof a->xmm);
            std::memcpy(out.regs.x87, a->x87, sizeof a->x87);
            if (host_has_avx()) std::memcpy(out.regs.ymm_high, a->ymm_high, sizeof a->ymm_high);
        } else {
            // The signal handler ran on a fresh x87 unit; make sure C++ gets one.
            __asm__ volatile("fninit");
            __asm__ volatile("ldmxcsr %0" : : "m"(host_mxcsr));
            out.vector = g_fault.trapno;
            out.fault_rip = g_fault.rip;
            out.fault_rflags = g_fault.rflags;
            std::memcpy(out.fault_gpr, g_fault.gpr, sizeof g_fault.gpr);
            out.fault_mxcsr = g_fault.mxcsr;
            std::memcpy(out.fault_xmm, g_fault.xmm, sizeof g_fault.xmm);
            std::memcpy(out.fault_ymm_high, g_fault.ymm_high, sizeof g_fault.ymm_high);
            if (host_has_avx()) __asm__ volatile("vzeroupper");
        }
        out.data.assign(reinterpret_cast<uint8_t*>(kDataAddr),
                        reinterpret_cast<uint8_t*>(kDataAddr) + kDataSize);
        return out;
    }

  private:
    static void build_stubs() {
        using asmjit::x86::Assembler;
        const x86::Gp callee_saved[] = {x86::rbx, x86::rbp, x86::r12, x86::r13, x86::r14, x86::r15};
        assemble_at(kCodeAddr, 0x1000, [&](Assembler& a) {
            for (auto r : callee_saved) a.push(r);
            a.stmxcsr(abs_mem(offsetof(NativeArea, host_mxcsr), 4));
            a.mov(abs_mem(offsetof(NativeArea, host_rsp), 8), x86::rsp);
            a.ldmxcsr(abs_mem(offsetof(NativeArea, mxcsr), 4));
            for (int i = 0; i < 16; i++)
                a.movdqu(x86::xmm(i), abs_mem(offsetof(NativeArea, xmm) + 16 * i, 16));
            if (host_has_avx())
                for (int i = 0; i < 16; i++)
                    a.vinsertf128(x86::ymm(i), x86::ymm(i),
                                  abs_mem(offsetof(NativeArea, ymm_high) + 16 * i, 16), asmjit::Imm(1));
            a.frstor(abs_mem(offsetof(NativeArea, x87), 108));
            a.push(abs_mem(offsetof(NativeArea, rflags), 8));
            a.popfq();
            for (int i = 0; i < 16; i++) a.mov(x86::gpq(i), abs_mem(offsetof(NativeArea, gpr) + 8 * i, 8));
            a.jmp(asmjit::Imm(kSnippetAddr));
        });
        assemble_at(kEpilogueAddr, 0x1000, [&](Assembler& a) {
            for (int i = 0; i < 16; i++) a.mov(abs_mem(offsetof(NativeArea, gpr) + 8 * i, 8), x86::gpq(i));
            a.mov(x86::rsp, abs_mem(offsetof(NativeArea, host_rsp), 8));
            a.pushfq();
            a.pop(abs_mem(offsetof(NativeArea, rflags), 8));
            a.cld();
            a.stmxcsr(abs_mem(offsetof(NativeArea, mxcsr), 4));
            for (int i = 0; i < 16; i++)
                a.movdqu(abs_mem(offsetof(NativeArea, xmm) + 16 * i, 16), x86::xmm(i));
            if (host_has_avx()) {
                for (int i = 0; i < 16; i++)
                    a.vextractf128(abs_mem(offsetof(NativeArea, ymm_high) + 16 * i, 16), x86::ymm(i),
                                   asmjit::Imm(1));
                a.vzeroupper(); // C++ code runs with clean upper halves
            }
            a.fnsave(abs_mem(offsetof(NativeArea, x87), 108)); // also leaves a clean unit for C++
            a.ldmxcsr(abs_mem(offsetof(NativeArea, host_mxcsr), 4));
            for (int i = 5; i >= 0; i--) a.pop(callee_saved[i]);
            a.ret();
        });
    }
};

} // namespace

bool host_has_avx() {
    static const bool avx = [] {
        unsigned a, b, c, d;
        if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
        const bool avx_osxsave = (c & (1u << 28)) && (c & (1u << 27));
        if (!avx_osxsave) return false;
        uint32_t xcr0_lo, xcr0_hi;
        __asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
        return (xcr0_lo & 6) == 6;
    }();
    return avx;
}

bool run_protected(const std::function<void()>& fn, std::string& crash) {
    if (sigsetjmp(g_protect_jump, 1) == 0) {
        g_protect_active = 1;
        fn();
        g_protect_active = 0;
        return true;
    }
    char buf[160];
    snprintf(buf, sizeof buf, "host signal %d (%s) at host rip %#llx, address %#llx", g_protect_sig,
             strsignal(g_protect_sig), (unsigned long long)g_protect_rip, (unsigned long long)g_protect_addr);
    crash = buf;
    return false;
}

std::unique_ptr<Runner> make_native_runner() { return std::make_unique<NativeRunner>(); }

} // namespace difftest
