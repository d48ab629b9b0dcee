// The differential tester's driver: one Catch2 test case per family of
// forms, each form run on a number of seeded random cases natively and
// through Hayate.
//
//   difftest                        every family
//   difftest "[alu]"                one family (tags: see the TEST_CASEs below)
//   difftest --form "add r32, m32" --verbose --iters 5
//                                   forms whose name contains the text, each case printed
//   difftest --self-check           native against native (checks the tester itself)
//   difftest '[fuzz]' --fuzz 30000   random bytes through Hayate only: the host must survive
//   difftest --list-forms           the form names
//   DIFFTEST_TRACE=1 difftest ...   print every case before it runs
#define CATCH_CONFIG_RUNNER
#define CATCH_CONFIG_NO_POSIX_SIGNALS // the native runner owns SIGFPE/SIGSEGV
#include "tests/difftest/gen.h"
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>

namespace difftest {

namespace {

struct Options {
    int iters = 100;
    uint64_t seed = 1;
    std::string form;
    bool verbose = false;
    bool self_check = false;
    bool list_forms = false;
    int max_reports = 3;
    int fuzz = 0; // random byte sequences to run through Hayate ([fuzz])
} g_opt;

uint64_t hash_name(const std::string& s) {
    uint64_t h = 1469598103934665603ull;
    for (char ch : s) h = (h ^ uint8_t(ch)) * 1099511628211ull;
    return h;
}

Runner& native_runner() {
    static std::unique_ptr<Runner> r = make_native_runner();
    return *r;
}

// The runner compared against the host: Hayate, or the host again (--self-check).
std::unique_ptr<Runner> g_guest;
bool g_guest_made = false;
std::string g_guest_why;

Runner* other_runner(std::string& why) {
    if (g_opt.self_check) return &native_runner();
    native_runner(); // its signal handlers catch crashes of the guest side too
    if (!g_guest_made || (g_guest && g_guest->broken())) {
        g_guest.reset(); // a crashed engine may be inconsistent: leak nothing we can free, rebuild
        g_guest = make_guest_runner(g_guest_why);
        g_guest_made = true;
    }
    why = g_guest_why;
    return g_guest.get();
}

class ErrorFlag : public asmjit::ErrorHandler {
  public:
    bool failed = false;
    std::string message;
    void handleError(asmjit::Error, const char* msg, asmjit::BaseEmitter*) override {
        if (!failed) message = msg;
        failed = true;
    }
};

} // namespace

bool make_case(const Form& form, Rng& rng, Case& c, std::string& error) {
    for (int attempt = 0; attempt < 50; attempt++) {
        c = Case{};
        c.data.resize(kDataSize);
        for (size_t i = 0; i < kDataSize; i += 8) {
            uint64_t v = rng.next();
            std::memcpy(c.data.data() + i, &v, 8);
        }
        asmjit::CodeHolder code;
        code.init(asmjit::Environment::host(), kSnippetAddr);
        ErrorFlag errors;
        code.setErrorHandler(&errors);
        x86::Assembler a(&code);
        a.addDiagnosticOptions(asmjit::DiagnosticOptions::kValidateAssembler);
        Gen g(rng, c, a);
        for (int i = 0; i < 16; i++) c.init.gpr[i] = g.value(64);
        c.init.gpr[4] = kStackTop - 8 * rng.below(64);
        g.random_flags();
        g.set_df(false);
        for (int i = 0; i < 16; i++) g.fill_xmm(i, rng.chance(50) ? Lanes::Bytes : Lanes::F64);
        form.emit(g);
        if (errors.failed) {
            error = errors.message;
            continue;
        }
        code.flatten();
        code.relocateToBase(kSnippetAddr);
        c.code.resize(code.codeSize());
        code.copyFlattenedData(c.code.data(), c.code.size());
        if (c.code.size() > kSnippetMax) {
            error = "snippet too large";
            continue;
        }
        return true;
    }
    return false;
}

namespace {

void print_case(const char* what, const Form& form, int index, const Case& c, const RunResult& n,
                const RunResult& g, const Comparison& cmp) {
    std::string out = std::string(what) + " " + form.name + " #" + std::to_string(index) + ": " +
                      disassemble(c.code) + "\n initial state:\n" + describe_state(c.init, true) +
                      " native:\n" + describe_result(n, true) + " hayate:\n" + describe_result(g, true);
    if (!cmp.diff.empty()) out += " differences:\n" + cmp.diff;
    std::fputs(out.c_str(), stdout);
    std::fputs("\n", stdout);
}

void run_family(const char* family) {
    if (g_opt.list_forms) {
        for (auto& f : families())
            if (!std::strcmp(f.name, family))
                for (auto& form : f.make()) std::printf("%s: %s\n", family, form.name.c_str());
        return;
    }
    std::string why;
    Runner& native = native_runner();
    Runner* other = other_runner(why);
    if (!other) {
        WARN("Hayate's engine is not available (" << why << "); use --self-check to test the tester");
        return;
    }
    const Family* fam = nullptr;
    for (auto& f : families())
        if (!std::strcmp(f.name, family)) fam = &f;
    REQUIRE(fam);
    unsigned have = host_features();
    const bool trace = std::getenv("DIFFTEST_TRACE") != nullptr;
    std::vector<std::string> failing, undefined_only, skipped;
    int forms_run = 0;
    for (const Form& form : fam->make()) {
        if (!g_opt.form.empty() && form.name.find(g_opt.form) == std::string::npos) continue;
        if (form.features & ~have) {
            skipped.push_back(form.name);
            continue;
        }
        forms_run++;
        Rng rng(g_opt.seed * 0x2545f4914f6cdd1dull ^ hash_name(form.name));
        int mismatches = 0, undef = 0, faults = 0;
        std::string first;
        for (int i = 0; i < g_opt.iters; i++) {
            Case c;
            std::string error;
            if (!make_case(form, rng, c, error)) {
                FAIL_CHECK("form " << form.name << " cannot be assembled: " << error);
                break;
            }
            if (trace) { // each case before it runs: finds the one that crashes the tester
                std::printf("case %d: %s\n%s", i, disassemble(c.code).c_str(),
                            describe_state(c.init, true).c_str());
                std::fflush(stdout);
            }
            RunResult n = native.run(c);
            RunResult g = other->run(c);
            if (other->broken()) other = other_runner(why);
            if (!other) break;
            Comparison cmp = compare(c, n, g, undefined_flags_of(c.code));
            if (n.vector >= 0) faults++;
            if (!cmp.match) {
                if (first.empty()) {
                    first = disassemble(c.code);
                    std::string d = cmp.diff.substr(0, cmp.diff.find('\n'));
                    first += " --" + d.substr(d.find_first_not_of(' ') == std::string::npos
                                                  ? 0
                                                  : d.find_first_not_of(' '));
                }
                if (++mismatches <= g_opt.max_reports) print_case("MISMATCH", form, i, c, n, g, cmp);
            } else if (cmp.undefined_only) {
                if (++undef <= 1 || g_opt.verbose)
                    print_case("undefined flags differ:", form, i, c, n, g, cmp);
            } else if (g_opt.verbose) {
                print_case("ok", form, i, c, n, g, cmp);
            }
        }
        if (mismatches)
            failing.push_back(form.name + " (" + std::to_string(mismatches) + "/" +
                              std::to_string(g_opt.iters) + "): " + first);
        if (undef) undefined_only.push_back(form.name);
        if (g_opt.verbose)
            std::printf("form %s: %d mismatches, %d faulting cases\n", form.name.c_str(), mismatches, faults);
        CHECK_FALSE(mismatches);
        if (mismatches) { UNSCOPED_INFO("failing form: " << form.name); }
    }
    auto join = [](const std::vector<std::string>& v) {
        std::string s;
        for (auto& x : v) s += "\n    " + x;
        return s;
    };
    std::printf("[%s] %d forms, %zu failing%s\n", family, forms_run, failing.size(), join(failing).c_str());
    if (!undefined_only.empty())
        std::printf("[%s] forms differing only in undefined flags (warning):%s\n", family,
                    join(undefined_only).c_str());
    if (!skipped.empty())
        std::printf("[%s] skipped (host lacks the feature):%s\n", family, join(skipped).c_str());
    std::fflush(stdout);
}

} // namespace

const std::vector<Family>& families() {
    static const std::vector<Family> list = {
        {"alu", forms_alu},
        {"shift", forms_shift},
        {"muldiv", forms_muldiv},
        {"bit", forms_bit},
        {"cond", forms_cond},
        {"string", forms_string},
        {"stack", forms_stack},
        {"atomic", forms_atomic},
        {"misc", forms_misc},
        {"sse_move", forms_sse_move},
        {"sse_arith", forms_sse_arith},
        {"sse_cmp", forms_sse_cmp},
        {"sse_cvt", forms_sse_cvt},
        {"sse_logic", forms_sse_logic},
        {"sse_int", forms_sse_int},
        {"x87_arith", forms_x87_arith},
        {"x87_move", forms_x87_move},
        {"x87_cmp", forms_x87_cmp},
        {"x87_control", forms_x87_control},
        {"sse3", forms_sse3},
        {"ssse3", forms_ssse3},
        {"sse41", forms_sse41},
        {"sse42", forms_sse42},
        {"aes", forms_aes},
        {"mmx", forms_mmx},
        {"avx_fp", forms_avx_fp},
        {"avx_int", forms_avx_int},
        {"avx_move", forms_avx_move},
        {"fma", forms_fma},
        {"avx_other", forms_avx_other},
        {"avx_sequence", forms_avx_sequence},
    };
    return list;
}

} // namespace difftest

using difftest::run_family;

TEST_CASE("integer ALU, moves, LEA", "[alu][int]") { run_family("alu"); }
TEST_CASE("shifts and rotates", "[shift][int]") { run_family("shift"); }
TEST_CASE("multiply and divide", "[muldiv][int]") { run_family("muldiv"); }
TEST_CASE("bit operations, BMI1/BMI2", "[bit][int]") { run_family("bit"); }
TEST_CASE("cmovcc, setcc, jcc, loop", "[cond][int]") { run_family("cond"); }
TEST_CASE("string operations", "[string][int]") { run_family("string"); }
TEST_CASE("stack, call, ret", "[stack][int]") { run_family("stack"); }
TEST_CASE("xadd, cmpxchg, locked forms", "[atomic][int]") { run_family("atomic"); }
TEST_CASE("misc integer", "[misc][int]") { run_family("misc"); }
TEST_CASE("SSE moves", "[sse_move][sse]") { run_family("sse_move"); }
TEST_CASE("SSE arithmetic", "[sse_arith][sse]") { run_family("sse_arith"); }
TEST_CASE("SSE compares", "[sse_cmp][sse]") { run_family("sse_cmp"); }
TEST_CASE("SSE conversions", "[sse_cvt][sse]") { run_family("sse_cvt"); }
TEST_CASE("SSE logic and shuffles", "[sse_logic][sse]") { run_family("sse_logic"); }
TEST_CASE("SSE integer, shifts, pack/unpack", "[sse_int][sse]") { run_family("sse_int"); }
TEST_CASE("x87 arithmetic and transcendentals", "[x87_arith][x87]") { run_family("x87_arith"); }
TEST_CASE("x87 loads, stores, BCD, FXCH, FCMOV", "[x87_move][x87]") { run_family("x87_move"); }
TEST_CASE("x87 compares", "[x87_cmp][x87]") { run_family("x87_cmp"); }
TEST_CASE("x87 control", "[x87_control][x87]") { run_family("x87_control"); }
TEST_CASE("SSE3", "[sse3][simd]") { run_family("sse3"); }
TEST_CASE("SSSE3", "[ssse3][simd]") { run_family("ssse3"); }
TEST_CASE("SSE4.1", "[sse41][simd]") { run_family("sse41"); }
TEST_CASE("SSE4.2: string compares, CRC32, PCMPGTQ", "[sse42][simd]") { run_family("sse42"); }
TEST_CASE("AES-NI, PCLMULQDQ", "[aes][simd]") { run_family("aes"); }
TEST_CASE("MMX and the MMX forms of SSE/SSSE3", "[mmx]") { run_family("mmx"); }

// The VEX families: nothing to compare where the host has no AVX (said, not passed silently).
namespace {
bool host_runs_avx() {
    if (difftest::host_has_avx()) return true;
    WARN("SKIPPED: the host has no AVX (CPUID AVX/OSXSAVE or XCR0 SSE|AVX missing): no VEX form tested");
    std::printf("SKIPPED: the host has no AVX, no VEX form tested\n");
    return false;
}
} // namespace
TEST_CASE("AVX floating point", "[avx_fp][avx]") {
    if (host_runs_avx()) run_family("avx_fp");
}
TEST_CASE("AVX/AVX2 integer", "[avx_int][avx]") {
    if (host_runs_avx()) run_family("avx_int");
}
TEST_CASE("AVX moves, broadcasts, inserts, extracts", "[avx_move][avx]") {
    if (host_runs_avx()) run_family("avx_move");
}
TEST_CASE("FMA3", "[fma][avx]") {
    if (host_runs_avx()) run_family("fma");
}
TEST_CASE("F16C, VEX AES-NI/PCLMULQDQ, masked moves, gathers, MXCSR, VZERO*", "[avx_other][avx]") {
    if (host_runs_avx()) run_family("avx_other");
}
TEST_CASE("VEX and SSE sequences (YMM upper halves across transitions)", "[avx_sequence][avx]") {
    if (host_runs_avx()) run_family("avx_sequence");
}
// Every mnemonic frontend/emit_avx.cpp translates has forms in the families above.
TEST_CASE("the AVX families cover the translator's VEX table", "[avx_coverage][avx]") {
    if (difftest::g_opt.list_forms) return;
    const std::vector<std::string> missing = difftest::avx_mnemonics_without_form();
    std::string text;
    for (const auto& m : missing) text += " " + m;
    INFO("mnemonics of emit_avx.cpp without a difftest form:" << text);
    CHECK(missing.empty());
}

// The translator fed random bytes as guest code, from random registers and
// data: whatever the guest does (fault, loop, triple fault, wreck its own
// tables), the host must survive it. Only Hayate runs; a host signal in
// Hayate fails the test.
TEST_CASE("random bytes as guest code", "[fuzz]") {
    using namespace difftest;
    constexpr int kRsp = 4;
    std::string why;
    if (g_opt.self_check) return;
    g_guest_fuzz.fresh_tables = true;
    g_guest_fuzz.watchdog_ms = 50;
    Rng rng(g_opt.seed ^ 0xf022);
    const int cases = g_opt.fuzz > 0 ? g_opt.fuzz : 2000;
    int crashes = 0, faults = 0, timeouts = 0, other = 0;
    std::map<std::string, int> endings; // the other ways runs ended, by their first words
    for (int i = 0; i < cases; i++) {
        Case c;
        c.code.resize(1 + rng.below(32));
        for (auto& b : c.code) b = uint8_t(rng.next());
        for (int r = 0; r < 16; r++) {
            const uint64_t v = rng.next();
            switch (rng.below(4)) {
            case 0: c.init.gpr[r] = kDataAddr + (v & (kDataSize - 1)); break; // a valid pointer
            case 1: c.init.gpr[r] = v & 0xff; break;
            default: c.init.gpr[r] = v; break;
            }
        }
        c.init.gpr[kRsp] = kStackTop;
        c.init.rflags = 2 | (rng.next() & kFlagMask);
        for (auto& x : c.init.xmm)
            for (auto& b : x) b = uint8_t(rng.next());
        c.data.resize(kDataSize);
        for (auto& b : c.data) b = uint8_t(rng.next());
        Runner* guest = other_runner(why);
        if (!guest) {
            WARN("Hayate's engine is not available (" << why << ")");
            return;
        }
        RunResult r = guest->run(c);
        if (r.error.find("crashed") != std::string::npos) {
            crashes++;
            std::string hex;
            for (uint8_t b : c.code) {
                char two[3];
                std::snprintf(two, sizeof two, "%02x", b);
                hex += two;
            }
            UNSCOPED_INFO("case " << i << " [" << hex << "]: " << r.error);
        } else if (r.error.find("timeout") != std::string::npos) {
            timeouts++;
        } else if (!r.error.empty()) {
            other++;
            endings[r.error.substr(0, std::min(r.error.find(" at "), r.error.find_first_of("\n:")))]++;
        } else if (r.vector >= 0) {
            faults++;
        }
    }
    g_guest_fuzz = GuestFuzzSettings{};
    std::printf("[fuzz] %d cases: %d raised an exception, %d ran too long, %d ended otherwise "
                "(triple fault, shutdown), %d crashed the host\n",
                cases, faults, timeouts, other, crashes);
    for (const auto& [what, n] : endings) std::printf("[fuzz]   %d: %s\n", n, what.c_str());
    CHECK(crashes == 0);
}

int main(int argc, char** argv) {
    Catch::Session session;
    using namespace Catch::clara;
    auto& o = difftest::g_opt;
    auto cli = session.cli() | Opt(o.iters, "n")["--iters"]("random cases per form (default 100)") |
               Opt(o.seed, "seed")["--seed"]("random seed (default 1)") |
               Opt(o.form, "text")["--form"]("only forms whose name contains this text") |
               Opt(o.verbose)["--verbose"]("print every case") |
               Opt(o.self_check)["--self-check"]("compare the host with itself (tests the tester)") |
               Opt(o.list_forms)["--list-forms"]("print the form names") |
               Opt(o.max_reports, "n")["--max-reports"]("mismatches printed per form (default 3)") |
               Opt(o.fuzz, "n")["--fuzz"]("random byte sequences for the [fuzz] test (default 2000)");
    session.cli(cli);
    int rc = session.applyCommandLine(argc, argv);
    if (rc != 0) return rc;
    return session.run();
}
