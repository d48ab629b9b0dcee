// Comparing a native and a guest run, and printing states for humans.
#include "tests/difftest/difftest.h"
#include <Zydis/Zydis.h>
#include <cinttypes>
#include <cstdarg>
#include <cstdio>
#include <cstring>

namespace difftest {

namespace {

const char* const kGprNames[16] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                                   "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};

std::string fmt(const char* f, ...) __attribute__((format(printf, 1, 2)));
std::string fmt(const char* f, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, f);
    vsnprintf(buf, sizeof buf, f, ap);
    va_end(ap);
    return buf;
}

std::string flags_text(uint64_t f) {
    std::string s;
    const struct {
        uint64_t bit;
        char c;
    } names[] = {{0x800, 'O'}, {0x400, 'D'}, {0x80, 'S'}, {0x40, 'Z'}, {0x10, 'A'}, {0x4, 'P'}, {0x1, 'C'}};
    for (auto n : names) s += (f & n.bit) ? n.c : '-';
    return s;
}

std::string xmm_text(const uint8_t* x) {
    uint64_t lo, hi;
    std::memcpy(&lo, x, 8);
    std::memcpy(&hi, x + 8, 8);
    return fmt("%016" PRIx64 "_%016" PRIx64, hi, lo);
}

std::string x87_text(const uint8_t* r) {
    uint64_t m;
    std::memcpy(&m, r, 8);
    return fmt("%04x_%016" PRIx64, unsigned(r[8] | r[9] << 8), m);
}

bool any_nonzero(const uint8_t (&v)[16][16]) {
    for (const auto& x : v)
        for (uint8_t b : x)
            if (b) return true;
    return false;
}

// Vector registers: XMMn, or YMMn (upper half first) when `high` is given.
std::string vec_text(const uint8_t* low, const uint8_t* high) {
    return high ? xmm_text(high) + "_" + xmm_text(low) : xmm_text(low);
}

void describe_vectors(std::string& out, const uint8_t (&xmm)[16][16], const uint8_t (&high)[16][16]) {
    const bool ymm = any_nonzero(high);
    for (int i = 0; i < 16; i++)
        out += fmt("  %s%-2d=%s%s", ymm ? "ymm" : "xmm", i, vec_text(xmm[i], ymm ? high[i] : nullptr).c_str(),
                   (ymm || i % 2) ? "\n" : "");
}

template <typename F> void for_each_insn(const std::vector<uint8_t>& code, F&& f) {
    ZydisDecoder dec;
    ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
    size_t off = 0;
    while (off < code.size()) {
        ZydisDecodedInstruction insn;
        ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
        if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(&dec, code.data() + off, code.size() - off, &insn, ops)))
            break;
        f(off, insn, ops);
        off += insn.length;
    }
}

} // namespace

uint64_t undefined_flags_of(const std::vector<uint8_t>& code) {
    uint64_t mask = 0;
    for_each_insn(code, [&](size_t, const ZydisDecodedInstruction& insn, const ZydisDecodedOperand*) {
        if (insn.cpu_flags) mask |= insn.cpu_flags->undefined; // Zydis uses the EFLAGS bit positions
    });
    return mask;
}

std::string disassemble(const std::vector<uint8_t>& code) {
    ZydisFormatter formatter;
    ZydisFormatterInit(&formatter, ZYDIS_FORMATTER_STYLE_INTEL);
    std::string out;
    for_each_insn(code, [&](size_t off, const ZydisDecodedInstruction& insn, const ZydisDecodedOperand* ops) {
        char buf[256];
        ZydisFormatterFormatInstruction(&formatter, &insn, ops, insn.operand_count_visible, buf, sizeof buf,
                                        kSnippetAddr + off, nullptr);
        std::string hex;
        for (unsigned i = 0; i < insn.length; i++) hex += fmt("%02x", code[off + i]);
        if (!out.empty()) out += "; ";
        out += fmt("%s [%s]", buf, hex.c_str());
    });
    return out;
}

std::string describe_state(const RegState& s, bool with_xmm) {
    std::string out;
    for (int i = 0; i < 16; i++)
        out += fmt("  %-3s=%016" PRIx64 "%s", kGprNames[i], s.gpr[i], (i % 4 == 3) ? "\n" : "");
    out += fmt("  rflags=%08" PRIx64 " [%s] mxcsr=%08x\n", s.rflags, flags_text(s.rflags).c_str(), s.mxcsr);
    if (with_xmm) describe_vectors(out, s.xmm, s.ymm_high);
    return out;
}

std::string describe_result(const RunResult& r, bool with_xmm) {
    if (!r.error.empty()) return "  run failed: " + r.error + "\n";
    if (r.vector >= 0) {
        std::string out = fmt("  exception vector %d at rip=%016" PRIx64 " rflags=%08" PRIx64 " [%s]\n",
                              r.vector, r.fault_rip, r.fault_rflags, flags_text(r.fault_rflags).c_str());
        for (int i = 0; i < 16; i++)
            out += fmt("  %-3s=%016" PRIx64 "%s", kGprNames[i], r.fault_gpr[i], (i % 4 == 3) ? "\n" : "");
        out += fmt("  mxcsr at the fault=%08x\n", r.fault_mxcsr);
        if (with_xmm) describe_vectors(out, r.fault_xmm, r.fault_ymm_high);
        return out;
    }
    return describe_state(r.regs, with_xmm);
}

Comparison compare(const Case& c, const RunResult& n, const RunResult& g, uint64_t undefined_flags) {
    Comparison cmp;
    auto differ = [&](std::string what) {
        cmp.match = false;
        cmp.diff += "  " + what + "\n";
    };
    if (!n.error.empty() || !g.error.empty()) {
        differ("run failed: native: " + (n.error.empty() ? "ok" : n.error) +
               ", hayate: " + (g.error.empty() ? "ok" : g.error));
        return cmp;
    }
    if (n.vector != g.vector) {
        differ(fmt("exception: native %d, hayate %d (-1: none)", n.vector, g.vector));
        return cmp;
    }
    if (n.vector >= 0) {
        // Both faulted: the instruction and the registers at the fault must agree.
        if (n.fault_rip != g.fault_rip)
            differ(fmt("fault rip: native %016" PRIx64 ", hayate %016" PRIx64, n.fault_rip, g.fault_rip));
        for (int i = 0; i < 16; i++)
            if (n.fault_gpr[i] != g.fault_gpr[i])
                differ(fmt("%s at fault: native %016" PRIx64 ", hayate %016" PRIx64, kGprNames[i],
                           n.fault_gpr[i], g.fault_gpr[i]));
        uint64_t fn = n.fault_rflags & kFlagMask, fg = g.fault_rflags & kFlagMask;
        if (fn != fg)
            differ(
                fmt("rflags at fault: native %s, hayate %s", flags_text(fn).c_str(), flags_text(fg).c_str()));
        if (n.fault_mxcsr != g.fault_mxcsr)
            differ(fmt("mxcsr at fault: native %08x, hayate %08x", n.fault_mxcsr, g.fault_mxcsr));
        for (int i = 0; i < 16; i++)
            if (std::memcmp(n.fault_xmm[i], g.fault_xmm[i], 16) ||
                std::memcmp(n.fault_ymm_high[i], g.fault_ymm_high[i], 16))
                differ(fmt("ymm%d at fault: native %s, hayate %s", i,
                           vec_text(n.fault_xmm[i], n.fault_ymm_high[i]).c_str(),
                           vec_text(g.fault_xmm[i], g.fault_ymm_high[i]).c_str()));
        return cmp;
    }
    for (int i = 0; i < 16; i++)
        if (n.regs.gpr[i] != g.regs.gpr[i])
            differ(fmt("%s: native %016" PRIx64 ", hayate %016" PRIx64, kGprNames[i], n.regs.gpr[i],
                       g.regs.gpr[i]));
    uint64_t fn = n.regs.rflags & kFlagMask, fg = g.regs.rflags & kFlagMask;
    if (fn != fg) {
        uint64_t bad = (fn ^ fg) & ~undefined_flags;
        std::string what =
            fmt("rflags: native %s, hayate %s", flags_text(fn).c_str(), flags_text(fg).c_str());
        if (bad) {
            differ(what);
        } else {
            cmp.undefined_only = true;
            cmp.diff += "  (undefined flags only) " + what + "\n";
        }
    }
    for (int i = 0; i < 16; i++)
        if (std::memcmp(n.regs.xmm[i], g.regs.xmm[i], 16))
            differ(fmt("xmm%d: native %s, hayate %s", i, xmm_text(n.regs.xmm[i]).c_str(),
                       xmm_text(g.regs.xmm[i]).c_str()));
    for (int i = 0; i < 16; i++)
        if (std::memcmp(n.regs.ymm_high[i], g.regs.ymm_high[i], 16))
            differ(fmt("ymm%d bits 255:128: native %s, hayate %s", i, xmm_text(n.regs.ymm_high[i]).c_str(),
                       xmm_text(g.regs.ymm_high[i]).c_str()));
    if (n.regs.mxcsr != g.regs.mxcsr)
        differ(fmt("mxcsr: native %08x, hayate %08x", n.regs.mxcsr, g.regs.mxcsr));
    {
        const uint8_t* nx = n.regs.x87;
        const uint8_t* gx = g.regs.x87;
        auto word = [](const uint8_t* p, size_t off) { return unsigned(p[off] | p[off + 1] << 8); };
        const char* const names[3] = {"fcw", "fsw", "ftw"};
        for (size_t k = 0; k < 3; k++)
            if (word(nx, 4 * k) != word(gx, 4 * k))
                differ(fmt("%s: native %04x, hayate %04x", names[k], word(nx, 4 * k), word(gx, 4 * k)));
        for (int i = 0; i < 8; i++)
            if (std::memcmp(nx + 28 + 10 * i, gx + 28 + 10 * i, 10))
                differ(fmt("st%d: native %s, hayate %s", i, x87_text(nx + 28 + 10 * i).c_str(),
                           x87_text(gx + 28 + 10 * i).c_str()));
    }
    unsigned shown = 0;
    for (size_t i = 0; i < n.data.size() && i < g.data.size(); i++) {
        if (n.data[i] == g.data[i]) continue;
        if (shown++ < 16)
            differ(fmt("mem %08" PRIx64 ": native %02x, hayate %02x (was %02x)", kDataAddr + i, n.data[i],
                       g.data[i], c.data[i]));
        else { cmp.match = false; }
    }
    if (shown > 16) cmp.diff += fmt("  ... %u differing bytes in all\n", shown);
    if (!cmp.match) cmp.undefined_only = false;
    return cmp;
}

} // namespace difftest
