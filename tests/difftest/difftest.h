// Differential tester: instruction snippets run natively on the host and
// through Hayate's translator from the same state; the results must match.
//
// Both sides see the same virtual addresses: the snippet sits at kSnippetAddr
// and memory operands point into a data buffer at kDataAddr (a fixed host
// mapping natively, identity-style page-table mappings in the guest), so
// pointer registers, RIP-relative operands and fault addresses are equal.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace difftest {

constexpr uint64_t kCodeAddr = 0x0e000000;     // native prologue
constexpr uint64_t kSnippetAddr = 0x0e001000;  // the snippet (both sides)
constexpr uint64_t kSnippetMax = 0x2000 - 16;  // room for the snippet and its terminator
constexpr uint64_t kEpilogueAddr = 0x0e003000; // native epilogue
constexpr uint64_t kCodeSize = 0x4000;
constexpr uint64_t kNativeAreaAddr = 0x0f000000; // native register save area (abs32-addressable)
constexpr uint64_t kDataAddr = 0x10000000;       // data buffer (both sides)
constexpr uint64_t kDataSize = 0x8000;
constexpr uint64_t kStackTop = kDataAddr + 0x7800; // default RSP region: [0x5000, 0x8000)

// True when the host CPU and OS run AVX (CPUID AVX and OSXSAVE, XCR0 SSE|AVX):
// both runners then carry the YMM upper halves and the guest gets
// CR4.OSXSAVE and XCR0 = x87|SSE|AVX.
bool host_has_avx();

// Flags compared: OSZAPC and DF.
constexpr uint64_t kFlagMask = 0x8d5 | 0x400;

struct RegState {
    uint64_t gpr[16] = {};
    uint64_t rflags = 2;
    alignas(16) uint8_t xmm[16][16] = {};
    // Bits 255:128 of YMM0-15 (loaded, kept and compared only where the host
    // has AVX; zero otherwise).
    alignas(16) uint8_t ymm_high[16][16] = {};
    uint32_t mxcsr = 0x1f80;
    // x87 state as FNSAVE stores it (32-bit protected-mode layout). Only FCW,
    // FSW, FTW and the registers are set and compared (the pointers are
    // host addresses natively). Default: the FNINIT state.
    alignas(16) uint8_t x87[108] = {0x7f, 0x03, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
};

struct RunResult {
    RegState regs;
    std::vector<uint8_t> data;
    int vector = -1;        // exception vector raised by the snippet, -1 if none
    uint64_t fault_rip = 0; // RIP the exception reported
    uint64_t fault_rflags = 0;
    uint64_t fault_gpr[16] = {}; // registers at the fault (RSP: the interrupted RSP)
    // Vector state at the fault (an #XM leaves the registers unchanged and
    // the exception's flag set in MXCSR).
    alignas(16) uint8_t fault_xmm[16][16] = {};
    alignas(16) uint8_t fault_ymm_high[16][16] = {};
    uint32_t fault_mxcsr = 0;
    std::string error; // the run itself failed (setup, timeout, triple fault)
};

struct Case {
    std::vector<uint8_t> code; // assembled at kSnippetAddr, without terminator
    RegState init;
    std::vector<uint8_t> data; // kDataSize bytes
};

// Something that runs a case: the host CPU, or Hayate.
class Runner {
  public:
    virtual ~Runner() = default;
    virtual RunResult run(const Case& c) = 0;
    // True after a run crashed the host process' view of the runner (it
    // must be rebuilt before the next run).
    virtual bool broken() const { return false; }
};

// Runs `fn`, turning a host SIGSEGV/SIGBUS/SIGFPE/SIGILL/SIGTRAP in it into
// `false` with a description (the native runner's handlers must be installed).
bool run_protected(const std::function<void()>& fn, std::string& crash);

// Fuzzing the translator with random bytes (difftest --fuzz): the guest side
// rebuilds its system tables before every run (a snippet may overwrite them)
// and gives up on a run after this many milliseconds (random code loops).
struct GuestFuzzSettings {
    bool fresh_tables = false;
    int watchdog_ms = 5000;
};
extern GuestFuzzSettings g_guest_fuzz;

std::unique_ptr<Runner> make_native_runner();
// nullptr (with `why`) if Hayate's engine is not available in this build.
std::unique_ptr<Runner> make_guest_runner(std::string& why);

// --- deterministic random numbers ---
class Rng {
  public:
    explicit Rng(uint64_t seed) : s_(seed ^ 0x9e3779b97f4a7c15ull) {}
    uint64_t next() {
        uint64_t z = (s_ += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }
    uint64_t below(uint64_t n) { return n ? next() % n : 0; }
    bool chance(unsigned percent) { return below(100) < percent; }
    template <typename T> const T& pick(const std::vector<T>& v) { return v[below(v.size())]; }

  private:
    uint64_t s_;
};

// --- comparison and reporting ---
struct Comparison {
    bool match = true;           // everything defined matches
    bool undefined_only = false; // only SDM-undefined flags differ
    std::string diff;            // what differs
};
// `undefined_flags`: EFLAGS bits the snippet's instructions leave undefined.
Comparison compare(const Case& c, const RunResult& native, const RunResult& guest, uint64_t undefined_flags);
uint64_t undefined_flags_of(const std::vector<uint8_t>& code);
std::string disassemble(const std::vector<uint8_t>& code);
std::string describe_state(const RegState& s, bool with_xmm);
std::string describe_result(const RunResult& r, bool with_xmm);

} // namespace difftest
