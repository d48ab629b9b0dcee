// Integer instruction forms.
#include "tests/difftest/gen.h"
#include <cstring>

namespace difftest {

namespace {

namespace Inst = asmjit::x86::Inst;
const unsigned kWidths[] = {8, 16, 32, 64};
const unsigned kWidths16[] = {16, 32, 64};
const unsigned kWidths32[] = {32, 64};

std::string r(unsigned w) { return std::string("r") + width_name(w); }
std::string m(unsigned w) { return std::string("m") + width_name(w); }

void add(std::vector<Form>& v, std::string name, std::function<void(Gen&)> e, unsigned features = 0) {
    v.push_back({std::move(name), std::move(e), features});
}

// 8-bit forms sometimes use AH..BH (and then nothing that needs REX).
void maybe_legacy8(Gen& g, unsigned w) {
    if (w == 8 && g.rng.chance(35)) g.legacy8 = true;
}

// A memory operand of w bits holding an edge-biased value.
x86::Mem memv(Gen& g, unsigned w) { return g.mem_val(w / 8, g.value(w)); }

// A second register operand: usually a fresh one, sometimes the first again.
x86::Gp second(Gen& g, const x86::Gp& first, unsigned w) {
    if (g.rng.chance(10)) return first;
    return g.gp(w);
}

// Immediate for a w-bit operation: imm8/16/32, sign-extended for 64.
Imm imm_for(Gen& g, unsigned w) {
    unsigned bits = g.rng.chance(40) ? 8 : (w > 32 ? 32 : w);
    return Imm(g.simm(bits));
}

// ------------------------------------------------------------------ ALU
void binary_forms(std::vector<Form>& v, InstId id, bool has_rm, bool has_imm) {
    std::string n = inst_name(id);
    for (unsigned w : kWidths) {
        add(v, n + " " + r(w) + ", " + r(w), [=](Gen& g) {
            maybe_legacy8(g, w);
            x86::Gp d = g.gp(w);
            g.a.emit(id, d, second(g, d, w));
        });
        if (has_rm)
            add(v, n + " " + r(w) + ", " + m(w), [=](Gen& g) {
                maybe_legacy8(g, w);
                x86::Gp d = g.gp(w);
                g.a.emit(id, d, memv(g, w));
            });
        add(v, n + " " + m(w) + ", " + r(w), [=](Gen& g) {
            maybe_legacy8(g, w);
            x86::Gp s = g.gp(w);
            g.a.emit(id, memv(g, w), s);
        });
        if (has_imm) {
            add(v, n + " " + r(w) + ", imm", [=](Gen& g) {
                maybe_legacy8(g, w);
                x86::Gp d = g.gp(w);
                g.a.emit(id, d, imm_for(g, w));
            });
            add(v, n + " " + m(w) + ", imm", [=](Gen& g) { g.a.emit(id, memv(g, w), imm_for(g, w)); });
            add(v, n + " acc" + width_name(w) + ", imm", [=](Gen& g) {
                x86::Gp d = g.fixed(0, w, g.value(w));
                g.a.emit(id, d, Imm(g.simm(w > 32 ? 32 : w)));
            });
        }
    }
}

void unary_forms(std::vector<Form>& v, InstId id) {
    std::string n = inst_name(id);
    for (unsigned w : kWidths) {
        add(v, n + " " + r(w), [=](Gen& g) {
            maybe_legacy8(g, w);
            g.a.emit(id, g.gp(w));
        });
        add(v, n + " " + m(w), [=](Gen& g) { g.a.emit(id, memv(g, w)); });
    }
}

void extend_forms(std::vector<Form>& v, InstId id, unsigned dw, unsigned sw) {
    std::string n = inst_name(id);
    add(v, n + " " + r(dw) + ", " + r(sw), [=](Gen& g) {
        maybe_legacy8(g, sw);
        x86::Gp d = g.gp(dw);
        g.a.emit(id, d, g.gp(sw));
    });
    add(v, n + " " + r(dw) + ", " + m(sw), [=](Gen& g) {
        x86::Gp d = g.gp(dw);
        g.a.emit(id, d, memv(g, sw));
    });
}

// mov with a 64-bit absolute address (moffs), hand-encoded: A0-A3.
void moffs_forms(std::vector<Form>& v) {
    for (unsigned w : kWidths)
        for (bool store : {false, true})
            add(v,
                std::string("mov ") + (store ? "moffs" : "acc") + width_name(w) + ", " +
                    (store ? "acc" : "moffs"),
                [=](Gen& g) {
                    g.fixed(0, w, g.value(w));
                    g.mem_val(w / 8, g.value(w));
                    uint64_t addr = kDataAddr + g.last_offset;
                    uint8_t b[11];
                    unsigned n = 0;
                    if (w == 16) b[n++] = 0x66;
                    if (w == 64) b[n++] = 0x48;
                    b[n++] = uint8_t((store ? 0xa2 : 0xa0) | (w > 8 ? 1 : 0));
                    std::memcpy(b + n, &addr, 8);
                    g.a.embed(b, n + 8);
                });
}

// ------------------------------------------------------------------ shifts
void shift_forms(std::vector<Form>& v, InstId id) {
    std::string n = inst_name(id);
    for (unsigned w : kWidths)
        for (bool mem : {false, true})
            for (int cnt = 0; cnt < 3; cnt++) {
                std::string name = n + " " + (mem ? m(w) : r(w)) +
                                   (cnt == 0   ? ", 1"
                                    : cnt == 1 ? ", imm"
                                               : ", cl");
                add(v, name, [=](Gen& g) {
                    maybe_legacy8(g, w);
                    if (cnt == 2) g.fixed(1, 8, g.count(w));
                    asmjit::Operand d = mem ? asmjit::Operand(memv(g, w)) : asmjit::Operand(g.gp(w));
                    if (cnt == 0)
                        g.a.emit(id, d, Imm(1));
                    else if (cnt == 1)
                        g.a.emit(id, d, Imm(g.count(w) & 0xff));
                    else
                        g.a.emit(id, d, x86::cl);
                });
            }
}

void double_shift_forms(std::vector<Form>& v, InstId id) {
    std::string n = inst_name(id);
    for (unsigned w : kWidths16)
        for (bool mem : {false, true})
            for (bool cl : {false, true})
                add(v, n + " " + (mem ? m(w) : r(w)) + ", " + r(w) + (cl ? ", cl" : ", imm"), [=](Gen& g) {
                    if (cl) g.fixed(1, 8, g.count(w));
                    x86::Gp s = g.gp(w);
                    asmjit::Operand d = mem ? asmjit::Operand(memv(g, w)) : asmjit::Operand(g.gp(w));
                    if (cl)
                        g.a.emit(id, d, s, x86::cl);
                    else
                        g.a.emit(id, d, s, Imm(g.count(w) & 0xff));
                });
}

// ------------------------------------------------------------------ mul/div
uint64_t sext(uint64_t v, unsigned w) {
    if (w >= 64) return v;
    uint64_t s = 1ull << (w - 1);
    v &= (1ull << w) - 1;
    return (v ^ s) - s;
}

// Sets RDX:RAX (AX for bytes) and returns the divisor for a w-bit division.
uint64_t setup_division(Gen& g, unsigned w, bool is_signed) {
    uint64_t mask = w == 64 ? ~0ull : (1ull << w) - 1;
    unsigned __int128 dividend;
    uint64_t divisor;
    unsigned r = unsigned(g.rng.below(100));
    if (r < 12) {
        divisor = 0;
        dividend = (unsigned __int128)g.value(64) << 64 | g.value(64);
    } else if (r < 75) {
        divisor = g.value(w);
        if (!divisor) divisor = 1;
        if (!is_signed) {
            uint64_t q = g.value(w), rem = g.rng.next() % divisor;
            dividend = (unsigned __int128)q * divisor + rem;
        } else {
            __int128 d = int64_t(sext(divisor, w)), q = int64_t(sext(g.value(w), w));
            __int128 ad = d < 0 ? -d : d;
            __int128 rem = __int128(g.rng.next() % uint64_t(ad));
            __int128 prod = q * d;
            if (prod < 0 || (prod == 0 && g.rng.chance(50))) rem = -rem;
            dividend = (unsigned __int128)(prod + rem);
        }
    } else {
        divisor = g.value(w);
        dividend = (unsigned __int128)g.value(64) << 64 | g.value(64);
        if (g.rng.chance(30)) { // INT_MIN / -1 and its neighbours
            divisor = mask;
            dividend = (unsigned __int128)(__int128(-1) << (w - 1));
        }
    }
    if (w == 8) {
        g.fixed(0, 16, uint64_t(dividend));
    } else {
        g.fixed(0, w, uint64_t(dividend));
        g.fixed(2, w, uint64_t(dividend >> w));
    }
    return divisor;
}

void muldiv_forms(std::vector<Form>& v) {
    for (InstId id : {Inst::kIdMul, Inst::kIdImul, Inst::kIdDiv, Inst::kIdIdiv}) {
        std::string n = inst_name(id);
        bool div = id == Inst::kIdDiv || id == Inst::kIdIdiv;
        for (unsigned w : kWidths)
            for (bool mem : {false, true})
                add(v, n + " " + (mem ? m(w) : r(w)), [=](Gen& g) {
                    maybe_legacy8(g, w);
                    uint64_t src;
                    if (div) {
                        src = setup_division(g, w, id == Inst::kIdIdiv);
                    } else {
                        g.fixed(0, w, g.value(w));
                        g.used |= 1u << 2; // RDX is written
                        src = g.value(w);
                    }
                    if (mem)
                        g.a.emit(id, g.mem_val(w / 8, src));
                    else
                        g.a.emit(id, g.gp_val(w, src));
                });
    }
    for (unsigned w : kWidths16) {
        add(v, "imul " + r(w) + ", " + r(w), [=](Gen& g) {
            x86::Gp d = g.gp(w);
            g.a.imul(d, second(g, d, w));
        });
        add(v, "imul " + r(w) + ", " + m(w), [=](Gen& g) {
            x86::Gp d = g.gp(w);
            g.a.imul(d, memv(g, w));
        });
        add(v, "imul " + r(w) + ", " + r(w) + ", imm", [=](Gen& g) {
            x86::Gp d = g.gp(w);
            g.a.imul(d, second(g, d, w), imm_for(g, w));
        });
        add(v, "imul " + r(w) + ", " + m(w) + ", imm", [=](Gen& g) {
            x86::Gp d = g.gp(w);
            g.a.imul(d, memv(g, w), imm_for(g, w));
        });
    }
}

// ------------------------------------------------------------------ bits
void bt_forms(std::vector<Form>& v, InstId id) {
    std::string n = inst_name(id);
    for (unsigned w : kWidths16) {
        add(v, n + " " + r(w) + ", " + r(w), [=](Gen& g) {
            x86::Gp d = g.gp(w);
            g.a.emit(id, d, second(g, d, w));
        });
        add(v, n + " " + r(w) + ", imm", [=](Gen& g) { g.a.emit(id, g.gp(w), Imm(g.rng.below(256))); });
        add(v, n + " " + m(w) + ", imm", [=](Gen& g) { g.a.emit(id, memv(g, w), Imm(g.rng.below(256))); });
        // Register bit offsets reach outside the operand (signed, any distance).
        add(v, n + " " + m(w) + ", " + r(w), [=](Gen& g) {
            int64_t off = g.rng.chance(25) ? int64_t(g.rng.below(w))
                                           : int64_t(g.rng.below(w == 16 ? 0x10000 : 0x18000)) -
                                                 (w == 16 ? 0x8000 : 0xc000);
            x86::Gp o = g.gp_val(w, uint64_t(off));
            g.allow_addr32 = false;
            x86::Mem mm = g.mem(w / 8, 1, 0x2000, 0x3000);
            g.a.emit(id, mm, o);
        });
    }
}

void bitscan_forms(std::vector<Form>& v, InstId id, unsigned features) {
    std::string n = inst_name(id);
    for (unsigned w : kWidths16) {
        auto src = [](Gen& g, unsigned width) { return g.rng.chance(20) ? 0 : g.value(width); };
        add(
            v, n + " " + r(w) + ", " + r(w),
            [=](Gen& g) {
                x86::Gp d = g.gp(w);
                g.a.emit(id, d, g.gp_val(w, src(g, w)));
            },
            features);
        add(
            v, n + " " + r(w) + ", " + m(w),
            [=](Gen& g) {
                x86::Gp d = g.gp(w);
                g.a.emit(id, d, g.mem_val(w / 8, src(g, w)));
            },
            features);
    }
}

// BMI control words: start/length or index bytes near the interesting edges.
uint64_t bmi_control(Gen& g, unsigned w, bool two_bytes) {
    auto edge = [&]() -> uint64_t {
        const uint64_t e[] = {0, 1, w / 2, w - 1, w, w + 1, 255, 128, 7, 8};
        return g.rng.chance(60) ? e[g.rng.below(std::size(e))] : g.rng.below(256);
    };
    uint64_t v = g.rng.next() & ~0xffffull;
    v |= edge();
    if (two_bytes)
        v |= edge() << 8;
    else
        v |= g.rng.below(256) << 8;
    return v;
}

void bmi_forms(std::vector<Form>& v) {
    struct Op {
        InstId id;
        int kind; // 0: d, s1, s2/m   1: d, s/m   2: d, s/m, ctl reg   3: d, s/m, imm
        unsigned features;
        bool ctl2; // control is start+length
    };
    const Op ops[] = {
        {Inst::kIdAndn, 0, feat::kBmi1, false}, {Inst::kIdBextr, 2, feat::kBmi1, true},
        {Inst::kIdBlsi, 1, feat::kBmi1, false}, {Inst::kIdBlsmsk, 1, feat::kBmi1, false},
        {Inst::kIdBlsr, 1, feat::kBmi1, false}, {Inst::kIdBzhi, 2, feat::kBmi2, false},
        {Inst::kIdPdep, 0, feat::kBmi2, false}, {Inst::kIdPext, 0, feat::kBmi2, false},
        {Inst::kIdRorx, 3, feat::kBmi2, false}, {Inst::kIdSarx, 2, feat::kBmi2, false},
        {Inst::kIdShlx, 2, feat::kBmi2, false}, {Inst::kIdShrx, 2, feat::kBmi2, false},
    };
    for (const Op& op : ops) {
        std::string n = inst_name(op.id);
        for (unsigned w : kWidths32)
            for (bool mem : {false, true}) {
                std::string name = n + " " + r(w) + ", " + (op.kind == 0 ? r(w) + ", " : "") +
                                   (mem ? m(w) : r(w)) +
                                   (op.kind == 2   ? ", " + r(w)
                                    : op.kind == 3 ? ", imm"
                                                   : "");
                add(
                    v, name,
                    [=](Gen& g) {
                        x86::Gp d = g.gp(w);
                        asmjit::Operand s1;
                        if (op.kind == 0) s1 = g.gp(w);
                        asmjit::Operand src = mem ? asmjit::Operand(memv(g, w)) : asmjit::Operand(g.gp(w));
                        switch (op.kind) {
                        case 0: g.a.emit(op.id, d, s1, src); break;
                        case 1: g.a.emit(op.id, d, src); break;
                        case 2:
                            if (op.id == Inst::kIdBextr || op.id == Inst::kIdBzhi)
                                g.a.emit(op.id, d, src, g.gp_val(w, bmi_control(g, w, op.ctl2)));
                            else
                                g.a.emit(op.id, d, src, g.gp_val(w, g.count(w)));
                            break;
                        default: g.a.emit(op.id, d, src, Imm(g.count(w) & 0xff)); break;
                        }
                    },
                    op.features);
            }
    }
    for (unsigned w : kWidths32)
        for (bool mem : {false, true})
            add(
                v, "mulx " + r(w) + ", " + r(w) + ", " + (mem ? m(w) : r(w)),
                [=](Gen& g) {
                    g.fixed(2, w, g.value(w));
                    x86::Gp hi = g.gp(w), lo = g.gp(w);
                    asmjit::Operand src = mem ? asmjit::Operand(memv(g, w)) : asmjit::Operand(g.gp(w));
                    g.a.emit(Inst::kIdMulx, hi, lo, src, w == 64 ? x86::Gp(x86::rdx) : x86::Gp(x86::edx));
                },
                feat::kBmi2);
}

// ------------------------------------------------------------------ conditions
const char* const kCondNames[16] = {"o", "no", "b", "ae", "e", "ne", "be", "a",
                                    "s", "ns", "p", "np", "l", "ge", "le", "g"};

void cond_forms(std::vector<Form>& v) {
    for (unsigned cc = 0; cc < 16; cc++) {
        auto cond = x86::CondCode(cc);
        InstId cmov = Inst::cmovccFromCond(cond), set = Inst::setccFromCond(cond),
               jcc = Inst::jccFromCond(cond);
        std::string c = kCondNames[cc];
        for (unsigned w : kWidths16) {
            add(v, "cmov" + c + " " + r(w) + ", " + r(w), [=](Gen& g) {
                x86::Gp d = g.gp(w);
                g.a.emit(cmov, d, second(g, d, w));
            });
            add(v, "cmov" + c + " " + r(w) + ", " + m(w), [=](Gen& g) {
                x86::Gp d = g.gp(w);
                g.a.emit(cmov, d, memv(g, w));
            });
        }
        add(v, "set" + c + " r8", [=](Gen& g) {
            maybe_legacy8(g, 8);
            g.a.emit(set, g.gp(8));
        });
        add(v, "set" + c + " m8", [=](Gen& g) { g.a.emit(set, memv(g, 8)); });
        for (bool near : {false, true})
            add(v, "j" + c + (near ? " rel32" : " rel8"), [=](Gen& g) {
                Label l = g.a.newLabel();
                if (near)
                    g.a.long_();
                else
                    g.a.short_();
                g.a.emit(jcc, l);
                g.a.mov(g.gp(64), Imm(0x1234));
                g.a.bind(l);
                g.a.nop();
            });
        // Flags produced in one block and consumed after a jump.
        add(v, "cmp r64, r64; j" + c + "; adc", [=](Gen& g) {
            Label l = g.a.newLabel();
            x86::Gp x = g.gp(64), y = g.gp(64), z = g.gp(32);
            g.a.cmp(x, y);
            g.a.emit(jcc, l);
            g.a.add(z, Imm(1));
            g.a.bind(l);
            g.a.adc(x, y);
        });
    }
    for (bool addr32 : {false, true})
        for (InstId id : {Inst::kIdLoop, Inst::kIdLoope, Inst::kIdLoopne})
            add(v, inst_name(id) + (addr32 ? " (ecx)" : " (rcx)"), [=](Gen& g) {
                uint64_t n = 1 + g.rng.below(24);
                g.c.init.gpr[1] = addr32 ? (g.rng.next() << 32) | n : n;
                g.used |= 2;
                x86::Gp b = g.fixed(3, 64, g.rng.below(30));
                x86::Gp cntr = g.gp(64);
                Label l = g.a.newLabel();
                g.a.bind(l);
                g.a.dec(b);
                g.a.lea(cntr, x86::ptr(cntr, 1));
                g.a.emit(id, addr32 ? x86::Gp(x86::ecx) : x86::Gp(x86::rcx), l);
            });
    for (bool addr32 : {false, true})
        add(v, addr32 ? "jecxz" : "jrcxz", [=](Gen& g) {
            unsigned r = unsigned(g.rng.below(10));
            g.c.init.gpr[1] = r < 5 ? 0 : r < 7 ? (g.rng.below(0xffff) + 1) << 32 : g.value(64);
            g.used |= 2;
            Label l = g.a.newLabel();
            g.a.emit(Inst::kIdJecxz, addr32 ? x86::Gp(x86::ecx) : x86::Gp(x86::rcx), l);
            g.a.mov(g.gp(64), Imm(0x1234));
            g.a.bind(l);
            g.a.nop();
        });
}

// ------------------------------------------------------------------ strings
void string_forms(std::vector<Form>& v) {
    struct Op {
        const char* name;
        uint8_t opcode;
        bool reads_src, writes_dst, compares;
    };
    const Op ops[] = {{"movs", 0xa4, true, true, false},
                      {"cmps", 0xa6, true, false, true},
                      {"stos", 0xaa, false, true, false},
                      {"lods", 0xac, true, false, false},
                      {"scas", 0xae, false, false, true}};
    const char wname[] = {'b', 'w', 'd', 'q'};
    for (const Op& op : ops)
        for (unsigned wi = 0; wi < 4; wi++)
            for (int prefix = 0; prefix < 3; prefix++) {
                if (prefix == 2 && !op.compares) continue;
                for (bool addr32 : {false, true}) {
                    std::string name = std::string(prefix == 1   ? (op.compares ? "repe " : "rep ")
                                                   : prefix == 2 ? "repne "
                                                                 : "") +
                                       op.name + wname[wi] + (addr32 ? " (a32)" : "");
                    add(v, name, [=](Gen& g) {
                        unsigned size = 1u << wi;
                        bool df = g.rng.chance(50);
                        g.set_df(df);
                        uint64_t n =
                            prefix
                                ? (g.rng.chance(10) ? 0 : g.rng.below(g.rng.chance(20) ? 0x800 / size : 40))
                                : g.rng.below(100);
                        uint64_t span = (prefix ? n : 1) * size;
                        uint64_t src = 0x1000 + g.rng.below(0x1000), dst;
                        unsigned r = unsigned(g.rng.below(10));
                        if (r < 6)
                            dst = 0x3800 + g.rng.below(0x1000);
                        else if (r < 8)
                            dst = src + g.rng.below(33) - 16; // overlapping
                        else
                            dst = 0x2000 - g.rng.below(64) + g.rng.below(64);
                        if (df) { // point at the last element; the op walks down
                            src += span;
                            dst += span;
                        }
                        uint64_t acc = g.value(64);
                        if (op.compares && g.rng.chance(60)) {
                            // Mostly equal data, maybe with one difference.
                            for (uint64_t i = 0; i < span + size; i++) {
                                uint64_t s = df ? src + size - 1 - i : src + i;
                                uint64_t d = df ? dst + size - 1 - i : dst + i;
                                uint8_t b =
                                    op.opcode == 0xae ? uint8_t(acc >> (8 * (i % size))) : g.c.data[s];
                                g.c.data[d] = b;
                            }
                            if (g.rng.chance(50) && span) {
                                uint64_t i = g.rng.below(span);
                                g.c.data[df ? dst + size - 1 - i : dst + i] ^= uint8_t(1u << g.rng.below(8));
                            }
                        }
                        auto setreg = [&](int id, uint64_t val) {
                            g.c.init.gpr[id] = addr32 ? (g.rng.next() << 32) | (val & 0xffffffff) : val;
                            g.used |= 1u << id;
                        };
                        setreg(6, kDataAddr + src);
                        setreg(7, kDataAddr + dst);
                        setreg(1, n);
                        g.c.init.gpr[0] = acc;
                        uint8_t b[6];
                        unsigned k = 0;
                        if (addr32) b[k++] = 0x67;
                        if (prefix) b[k++] = prefix == 1 ? 0xf3 : 0xf2;
                        if (wi == 1) b[k++] = 0x66;
                        if (wi == 3) b[k++] = 0x48;
                        b[k++] = uint8_t(op.opcode | (wi ? 1 : 0));
                        g.a.embed(b, k);
                    });
                }
            }
}

// ------------------------------------------------------------------ stack
void stack_forms(std::vector<Form>& v) {
    auto stack_gen = [](Gen& g) {
        g.allow_rsp = false;
        g.used |= 1u << 4;
        if (g.rng.chance(10)) g.c.init.gpr[4] -= 1 + g.rng.below(7); // misaligned stack
    };
    add(v, "push r64", [=](Gen& g) {
        stack_gen(g);
        g.a.push(g.gp(64));
    });
    add(v, "push rsp", [=](Gen& g) {
        stack_gen(g);
        g.a.push(x86::rsp);
    });
    add(v, "push r16", [=](Gen& g) {
        stack_gen(g);
        g.a.push(g.gp(16));
    });
    add(v, "pop r64", [=](Gen& g) {
        stack_gen(g);
        g.a.pop(g.gp(64));
    });
    add(v, "pop rsp", [=](Gen& g) {
        stack_gen(g);
        g.a.pop(x86::rsp);
    });
    add(v, "pop r16", [=](Gen& g) {
        stack_gen(g);
        g.a.pop(g.gp(16));
    });
    for (unsigned w : {16u, 64u}) {
        add(v, "push " + m(w), [=](Gen& g) {
            stack_gen(g);
            g.a.push(memv(g, w));
        });
        add(v, "pop " + m(w), [=](Gen& g) {
            stack_gen(g);
            g.a.pop(memv(g, w));
        });
        // RSP-relative operands: pop computes the address after the increment.
        add(v, "push " + m(w) + " [rsp+disp]", [=](Gen& g) {
            stack_gen(g);
            g.a.push(x86::ptr(x86::rsp, int32_t(g.rng.below(64)) - 16, w / 8));
        });
        add(v, "pop " + m(w) + " [rsp+disp]", [=](Gen& g) {
            stack_gen(g);
            g.a.pop(x86::ptr(x86::rsp, int32_t(g.rng.below(64)) - 16, w / 8));
        });
    }
    add(v, "push imm8", [=](Gen& g) {
        stack_gen(g);
        g.a.push(Imm(g.simm(8)));
    });
    add(v, "push imm32", [=](Gen& g) {
        stack_gen(g);
        g.a.long_().push(Imm(g.simm(32)));
    });
    add(v, "push imm16", [=](Gen& g) {
        stack_gen(g);
        uint16_t i = uint16_t(g.value(16));
        uint8_t b[4] = {0x66, 0x68, uint8_t(i), uint8_t(i >> 8)};
        g.a.embed(b, 4);
    });
    for (bool w16 : {false, true}) {
        add(v, w16 ? "pushf (16)" : "pushfq", [=](Gen& g) {
            stack_gen(g);
            g.set_df(g.rng.chance(50));
            if (w16) g.a.db(0x66);
            g.a.pushfq();
        });
        add(v, w16 ? "popf (16)" : "popfq", [=](Gen& g) {
            stack_gen(g);
            uint64_t f = 2 | (g.rng.next() & kFlagMask);
            g.put64(g.c.init.gpr[4] - kDataAddr, f, 8);
            if (w16) g.a.db(0x66);
            g.a.popfq();
        });
    }
    add(v, "call rel32", [=](Gen& g) {
        stack_gen(g);
        Label l = g.a.newLabel();
        g.a.call(l);
        g.a.ud2();
        g.a.bind(l);
        g.a.nop();
    });
    add(v, "call r64", [=](Gen& g) {
        stack_gen(g);
        Label l = g.a.newLabel();
        x86::Gp t = g.gp(64);
        g.a.lea(t, x86::ptr(l));
        g.a.call(t);
        g.a.ud2();
        g.a.bind(l);
        g.a.nop();
    });
    add(v, "call m64", [=](Gen& g) {
        stack_gen(g);
        Label l = g.a.newLabel();
        x86::Gp t = g.gp(64);
        x86::Mem mm = g.mem(8);
        g.a.lea(t, x86::ptr(l));
        g.a.mov(mm, t);
        g.a.call(mm);
        g.a.ud2();
        g.a.bind(l);
        g.a.nop();
    });
    for (bool imm : {false, true})
        add(v, imm ? "ret imm16" : "ret", [=](Gen& g) {
            stack_gen(g);
            Label l = g.a.newLabel();
            x86::Gp t = g.gp(64);
            g.a.lea(t, x86::ptr(l));
            g.a.push(t);
            if (imm)
                g.a.ret(Imm(g.rng.chance(70) ? 8 * g.rng.below(8) : g.rng.below(64)));
            else
                g.a.ret();
            g.a.ud2();
            g.a.bind(l);
            g.a.nop();
        });
    add(v, "enter imm16, level", [=](Gen& g) {
        stack_gen(g);
        g.fixed(5, 64, kDataAddr + 0x6000 + 8 * g.rng.below(0x100));
        g.a.enter(Imm(g.rng.chance(50) ? 8 * g.rng.below(16) : g.rng.below(0x200)), Imm(g.rng.below(5)));
    });
    add(v, "leave", [=](Gen& g) {
        stack_gen(g);
        g.fixed(5, 64, kDataAddr + 0x6000 + 8 * g.rng.below(0x100) + (g.rng.chance(10) ? 3 : 0));
        g.a.leave();
    });
    add(v, "push r64; pop r64", [=](Gen& g) {
        stack_gen(g);
        x86::Gp a = g.gp(64), b = g.gp(64);
        g.a.push(a);
        g.a.pop(b);
    });
}

// ------------------------------------------------------------------ atomics
void atomic_forms(std::vector<Form>& v) {
    for (unsigned w : kWidths)
        for (bool lock : {false, true}) {
            std::string l = lock ? "lock " : "";
            add(v, l + "xadd " + m(w) + ", " + r(w), [=](Gen& g) {
                maybe_legacy8(g, w);
                x86::Gp s = g.gp(w);
                x86::Mem mm = memv(g, w);
                if (lock) g.a.lock();
                g.a.xadd(mm, s);
            });
            add(v, l + "cmpxchg " + m(w) + ", " + r(w), [=](Gen& g) {
                maybe_legacy8(g, w);
                uint64_t cur = g.value(w);
                g.fixed(0, w, g.rng.chance(50) ? cur : g.value(w));
                x86::Gp s = g.gp(w);
                x86::Mem mm = g.mem_val(w / 8, cur);
                if (lock) g.a.lock();
                g.a.cmpxchg(mm, s, gp_of(0, w));
            });
            if (lock) {
                for (InstId id : {Inst::kIdAdd, Inst::kIdOr, Inst::kIdAdc, Inst::kIdSbb, Inst::kIdAnd,
                                  Inst::kIdSub, Inst::kIdXor}) {
                    add(v, "lock " + inst_name(id) + " " + m(w) + ", " + r(w), [=](Gen& g) {
                        maybe_legacy8(g, w);
                        x86::Gp s = g.gp(w);
                        x86::Mem mm = memv(g, w);
                        g.a.lock().emit(id, mm, s);
                    });
                    add(v, "lock " + inst_name(id) + " " + m(w) + ", imm", [=](Gen& g) {
                        x86::Mem mm = memv(g, w);
                        g.a.lock().emit(id, mm, imm_for(g, w));
                    });
                }
                for (InstId id : {Inst::kIdInc, Inst::kIdDec, Inst::kIdNeg, Inst::kIdNot})
                    add(v, "lock " + inst_name(id) + " " + m(w),
                        [=](Gen& g) { g.a.lock().emit(id, memv(g, w)); });
                if (w >= 16)
                    for (InstId id : {Inst::kIdBts, Inst::kIdBtr, Inst::kIdBtc}) {
                        add(v, "lock " + inst_name(id) + " " + m(w) + ", imm",
                            [=](Gen& g) { g.a.lock().emit(id, memv(g, w), Imm(g.rng.below(256))); });
                        add(v, "lock " + inst_name(id) + " " + m(w) + ", " + r(w), [=](Gen& g) {
                            x86::Gp o = g.gp_val(w, uint64_t(int64_t(g.rng.below(0x4000)) - 0x2000));
                            g.allow_addr32 = false;
                            x86::Mem mm = g.mem(w / 8, 1, 0x2000, 0x3000);
                            g.a.lock().emit(id, mm, o);
                        });
                    }
            }
        }
    for (bool lock : {false, true}) {
        std::string l = lock ? "lock " : "";
        add(v, l + "cmpxchg8b m64", [=](Gen& g) {
            uint64_t cur = g.value(64);
            uint64_t expect = g.rng.chance(50) ? cur : g.value(64);
            g.fixed(0, 32, expect);
            g.fixed(2, 32, expect >> 32);
            g.fixed(3, 32, g.value(32));
            g.fixed(1, 32, g.value(32));
            x86::Mem mm = g.mem_val(8, cur);
            if (lock) g.a.lock();
            g.a.cmpxchg8b(mm, x86::edx, x86::eax, x86::ecx, x86::ebx);
        });
        add(
            v, l + "cmpxchg16b m128",
            [=](Gen& g) {
                uint64_t lo = g.value(64), hi = g.value(64);
                bool eq = g.rng.chance(50);
                g.fixed(0, 64, eq ? lo : g.value(64));
                g.fixed(2, 64, eq ? hi : g.value(64));
                g.fixed(3, 64, g.value(64));
                g.fixed(1, 64, g.value(64));
                x86::Mem mm = g.mem(16, 16);
                g.put64(g.last_offset, lo, 8);
                g.put64(g.last_offset + 8, hi, 8);
                if (lock) g.a.lock();
                g.a.cmpxchg16b(mm, x86::rdx, x86::rax, x86::rcx, x86::rbx);
            },
            feat::kCx16);
    }
    for (unsigned w : kWidths)
        add(v, "xchg " + m(w) + ", " + r(w), [=](Gen& g) {
            maybe_legacy8(g, w);
            x86::Gp s = g.gp(w);
            g.a.xchg(memv(g, w), s);
        });
}

} // namespace

std::vector<Form> forms_alu() {
    std::vector<Form> v;
    for (InstId id : {Inst::kIdAdd, Inst::kIdOr, Inst::kIdAdc, Inst::kIdSbb, Inst::kIdAnd, Inst::kIdSub,
                      Inst::kIdXor, Inst::kIdCmp, Inst::kIdMov})
        binary_forms(v, id, true, true);
    binary_forms(v, Inst::kIdTest, false, true);
    for (InstId id : {Inst::kIdInc, Inst::kIdDec, Inst::kIdNeg, Inst::kIdNot}) unary_forms(v, id);
    for (unsigned w : kWidths16) {
        extend_forms(v, Inst::kIdMovzx, w, 8);
        extend_forms(v, Inst::kIdMovsx, w, 8);
    }
    for (unsigned w : kWidths32) {
        extend_forms(v, Inst::kIdMovzx, w, 16);
        extend_forms(v, Inst::kIdMovsx, w, 16);
    }
    extend_forms(v, Inst::kIdMovsxd, 64, 32);
    add(v, "mov r64, imm64", [](Gen& g) { g.a.mov(g.gp(64), Imm(g.value(64))); });
    moffs_forms(v);
    for (unsigned w : kWidths) {
        add(v, "xchg " + r(w) + ", " + r(w), [=](Gen& g) {
            maybe_legacy8(g, w);
            x86::Gp d = g.gp(w);
            g.a.xchg(d, second(g, d, w));
        });
    }
    for (unsigned w : kWidths16)
        for (bool a32 : {false, true})
            add(v, "lea " + r(w) + ", [" + (a32 ? "a32" : "a64") + "]", [=](Gen& g) {
                x86::Gp d = g.gp(w);
                g.a.lea(d, g.mem_any(a32));
            });
    add(v, "lea r64, [rip+disp]",
        [](Gen& g) { g.a.lea(g.gp(64), x86::ptr(kDataAddr + g.rng.below(0x1000))); });
    return v;
}

std::vector<Form> forms_shift() {
    std::vector<Form> v;
    for (InstId id :
         {Inst::kIdShl, Inst::kIdShr, Inst::kIdSar, Inst::kIdRol, Inst::kIdRor, Inst::kIdRcl, Inst::kIdRcr})
        shift_forms(v, id);
    double_shift_forms(v, Inst::kIdShld);
    double_shift_forms(v, Inst::kIdShrd);
    return v;
}

std::vector<Form> forms_muldiv() {
    std::vector<Form> v;
    muldiv_forms(v);
    return v;
}

std::vector<Form> forms_bit() {
    std::vector<Form> v;
    for (InstId id : {Inst::kIdBt, Inst::kIdBts, Inst::kIdBtr, Inst::kIdBtc}) bt_forms(v, id);
    bitscan_forms(v, Inst::kIdBsf, 0);
    bitscan_forms(v, Inst::kIdBsr, 0);
    bitscan_forms(v, Inst::kIdTzcnt, feat::kBmi1);
    bitscan_forms(v, Inst::kIdLzcnt, feat::kLzcnt);
    bitscan_forms(v, Inst::kIdPopcnt, feat::kPopcnt);
    bmi_forms(v);
    return v;
}

std::vector<Form> forms_cond() {
    std::vector<Form> v;
    cond_forms(v);
    return v;
}

std::vector<Form> forms_string() {
    std::vector<Form> v;
    string_forms(v);
    return v;
}

std::vector<Form> forms_stack() {
    std::vector<Form> v;
    stack_forms(v);
    return v;
}

std::vector<Form> forms_atomic() {
    std::vector<Form> v;
    atomic_forms(v);
    return v;
}

std::vector<Form> forms_misc() {
    std::vector<Form> v;
    add(v, "bswap r32", [](Gen& g) { g.a.bswap(g.gp(32)); });
    add(v, "bswap r64", [](Gen& g) { g.a.bswap(g.gp(64)); });
    for (unsigned w : kWidths16) {
        add(
            v, "movbe " + r(w) + ", " + m(w),
            [=](Gen& g) {
                x86::Gp d = g.gp(w);
                g.a.movbe(d, memv(g, w));
            },
            feat::kMovbe);
        add(
            v, "movbe " + m(w) + ", " + r(w),
            [=](Gen& g) {
                x86::Gp s = g.gp(w);
                g.a.movbe(memv(g, w), s);
            },
            feat::kMovbe);
    }
    const struct {
        const char* name;
        uint8_t bytes[2];
        unsigned n;
    } fixed[] = {{"cbw", {0x66, 0x98}, 2}, {"cwde", {0x98}, 1}, {"cdqe", {0x48, 0x98}, 2},
                 {"cwd", {0x66, 0x99}, 2}, {"cdq", {0x99}, 1},  {"cqo", {0x48, 0x99}, 2},
                 {"lahf", {0x9f}, 1},      {"sahf", {0x9e}, 1}, {"clc", {0xf8}, 1},
                 {"stc", {0xf9}, 1},       {"cmc", {0xf5}, 1},  {"cld", {0xfc}, 1},
                 {"std", {0xfd}, 1},       {"nop", {0x90}, 1},  {"pause", {0xf3, 0x90}, 2}};
    for (auto& f : fixed) {
        std::vector<uint8_t> bytes(f.bytes, f.bytes + f.n);
        add(v, f.name, [=](Gen& g) {
            g.set_df(g.rng.chance(50));
            g.c.init.gpr[0] = g.value(64);
            g.c.init.gpr[2] = g.value(64);
            g.a.embed(bytes.data(), bytes.size());
        });
    }
    add(v, "nop m32 (0f 1f)", [](Gen& g) {
        x86::Mem mm = g.mem_any(false);
        mm.setSize(4);
        g.a.nop(mm);
    });
    // CET hints in the reserved-NOP space: NOPs without CET enabled.
    add(v, "endbr64; endbr32", [](Gen& g) {
        g.a.db(0xf3), g.a.db(0x0f), g.a.db(0x1e), g.a.db(0xfa);
        g.a.db(0xf3), g.a.db(0x0f), g.a.db(0x1e), g.a.db(0xfb);
    });
    add(v, "xlatb", [](Gen& g) {
        g.fixed(0, 64, g.value(64));
        g.fixed(3, 64, kDataAddr + 0x1000 + g.rng.below(0x2000));
        g.a.xlatb();
    });
    add(v, "xchg eax, eax (87 c0)", [](Gen& g) {
        g.fixed(0, 64, g.value(64));
        uint8_t b[2] = {0x87, 0xc0};
        g.a.embed(b, 2);
    });
    add(v, "cpuid-free multi-insn mix", [](Gen& g) {
        x86::Gp a = g.gp(64), b = g.gp(64), c = g.gp(32);
        g.a.add(a, b);
        g.a.adc(c, Imm(g.simm(8)));
        g.a.sbb(b, a);
        g.a.setc(x86::gpb(c.id()));
        g.a.cmovo(a, b);
    });
    return v;
}

} // namespace difftest
