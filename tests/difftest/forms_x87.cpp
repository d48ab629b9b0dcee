// x87 instruction forms. Every case starts from a random x87 state: control
// word (precision, rounding, now and then unmasked exceptions), stack depth
// (TOP, empty registers) and register contents biased to special operands
// (signed zeros, denormals, pseudo-denormals, unnormals, infinities, QNaN,
// SNaN, pseudo-NaNs, the indefinite, values at integer limits). FCW, FSW,
// FTW, the registers, flags and memory are compared with the host's run.
// With an unmasked exception both sides must raise #MF at the next waiting
// instruction, so some snippets end in FWAIT.
#include "tests/difftest/gen.h"
#include <cstring>

namespace difftest {

namespace {

namespace Inst = asmjit::x86::Inst;

struct F80 {
    uint64_t mant;
    uint16_t exp; // sign in bit 15
};

F80 special80(Rng& rng) {
    const uint16_t sign = rng.chance(50) ? 0x8000 : 0;
    const uint64_t r = rng.next();
    switch (rng.below(16)) {
    case 0: return {0, sign};                                                     // zero
    case 1: return {r & ~(1ull << 63), sign};                                     // denormal
    case 2: return {(1ull << 63) | r, sign};                                      // pseudo-denormal
    case 3: return {r & ~(1ull << 63), uint16_t(sign | (1 + rng.below(0x7ffe)))}; // unnormal
    case 4: return {1ull << 63, uint16_t(sign | 0x7fff)};                         // infinity
    case 5: return {(3ull << 62) | (r >> 2), uint16_t(sign | 0x7fff)};            // QNaN
    case 6: return {(1ull << 63) | ((r >> 2) | 1), uint16_t(sign | 0x7fff)};      // SNaN
    case 7: return {r >> 1, uint16_t(sign | 0x7fff)};                             // pseudo-NaN/-infinity
    case 8: return {3ull << 62, 0xffff};                                          // the indefinite
    case 9: {                                                                     // near an integer limit
        const unsigned bits[] = {15, 16, 31, 32, 63, 64};
        const unsigned b = bits[rng.below(6)];
        return {(1ull << 63) | (rng.chance(50) ? 0 : r >> 40),
                uint16_t(sign | (0x3fff + b - 1 + rng.below(2)))};
    }
    case 10:
        return {(1ull << 63) | (r >> 1), uint16_t(sign | (0x3fff + rng.below(8)))}; // small, with fraction
    case 11: return {(1ull << 63) | (r >> 1), uint16_t(sign | rng.below(0x7fff))};  // any normal
    default: return {(1ull << 63) | (r >> 1), uint16_t(sign | (0x3ff0 + rng.below(0x20)))};
    }
}

void put80(uint8_t* p, F80 v) {
    std::memcpy(p, &v.mant, 8);
    std::memcpy(p + 8, &v.exp, 2);
}

// The random starting state (FNSAVE layout: FCW 0, FSW 4, FTW 8, ST0 at 28).
// `depth`: how many registers (from ST0) hold values, the rest are empty;
// -1 picks at random, mostly enough for every form.
void random_x87(Gen& g, int depth = -1) {
    uint8_t* img = g.c.init.x87;
    std::memset(img, 0, 108);
    Rng& rng = g.rng;
    uint16_t fcw = 0x037f;
    fcw = uint16_t((fcw & ~0x0f00u) | (rng.below(4) << 8) | (rng.below(4) << 10));
    if (rng.chance(15)) fcw = uint16_t(fcw & ~(1u << rng.below(6))); // one unmasked exception
    const unsigned top = unsigned(rng.below(8));
    // Sticky flags of masked exceptions and random condition codes.
    uint16_t fsw = uint16_t(top << 11 | (rng.next() & 0x4700));
    fsw |= uint16_t(rng.next() & 0x3f & fcw);
    if (depth < 0) depth = rng.chance(90) ? 8 - int(rng.below(3)) : int(rng.below(9));
    uint16_t ftw = 0;
    for (unsigned i = 0; i < 8; i++) {
        const unsigned phys = (top + i) & 7;
        const bool empty = int(i) >= depth;
        ftw |= uint16_t((empty ? 3u : 0u) << (2 * phys));
        put80(img + 28 + 10 * i, special80(rng));
    }
    std::memcpy(img + 0, &fcw, 2);
    std::memcpy(img + 4, &fsw, 2);
    std::memcpy(img + 8, &ftw, 2);
}

void add(std::vector<Form>& v, std::string name, std::function<void(Gen&)> e) {
    v.push_back({std::move(name), std::move(e), 0});
}

// A memory operand holding a special value of `bytes` bytes (4, 8: float and
// double patterns; 10: extended; 2/4/8 integer: edge values).
x86::Mem fp_mem(Gen& g, unsigned bytes) {
    x86::Mem m = g.mem(bytes);
    m.setSize(bytes);
    if (bytes == 10) {
        uint8_t b[10];
        put80(b, special80(g.rng));
        g.put(g.last_offset, b, 10);
    } else {
        g.put64(g.last_offset, bytes == 4 ? g.f32() : g.f64(), bytes);
    }
    return m;
}
x86::Mem int_mem(Gen& g, unsigned bytes) {
    x86::Mem m = g.mem(bytes);
    m.setSize(bytes);
    g.put64(g.last_offset, g.value(bytes * 8), bytes);
    return m;
}
x86::Mem bcd_mem(Gen& g) {
    x86::Mem m = g.mem(10);
    m.setSize(10);
    uint8_t b[10];
    for (int i = 0; i < 9; i++) {
        // Mostly valid digits, now and then an invalid nibble.
        const uint8_t lo = uint8_t(g.rng.chance(95) ? g.rng.below(10) : g.rng.below(16));
        const uint8_t hi = uint8_t(g.rng.chance(95) ? g.rng.below(10) : g.rng.below(16));
        b[i] = uint8_t(hi << 4 | lo);
    }
    b[9] = uint8_t(g.rng.chance(50) ? 0x80 : 0);
    if (g.rng.chance(5)) b[9] |= uint8_t(g.rng.below(0x80));
    g.put(g.last_offset, b, 10);
    return m;
}

x86::St sti(Gen& g) { return x86::st(uint32_t(g.rng.below(8))); }

// Surfaces a pending unmasked exception as #MF on both sides.
void maybe_wait(Gen& g) {
    if (g.rng.chance(50)) g.a.fwait();
}

void reg_forms(std::vector<Form>& v, std::initializer_list<InstId> ids) {
    for (InstId id : ids)
        add(v, inst_name(id), [=](Gen& g) {
            random_x87(g);
            g.a.emit(id);
            maybe_wait(g);
        });
}

} // namespace

std::vector<Form> forms_x87_arith() {
    std::vector<Form> v;
    for (InstId id :
         {Inst::kIdFadd, Inst::kIdFsub, Inst::kIdFsubr, Inst::kIdFmul, Inst::kIdFdiv, Inst::kIdFdivr}) {
        const std::string n = inst_name(id);
        for (unsigned bytes : {4u, 8u})
            add(v, n + " m" + std::to_string(bytes * 8) + "fp", [=](Gen& g) {
                random_x87(g);
                g.a.emit(id, fp_mem(g, bytes));
                maybe_wait(g);
            });
        add(v, n + " st0, st(i)", [=](Gen& g) {
            random_x87(g);
            g.a.emit(id, x86::st0, sti(g));
            maybe_wait(g);
        });
        add(v, n + " st(i), st0", [=](Gen& g) {
            random_x87(g);
            g.a.emit(id, sti(g), x86::st0);
            maybe_wait(g);
        });
    }
    for (InstId id :
         {Inst::kIdFaddp, Inst::kIdFsubp, Inst::kIdFsubrp, Inst::kIdFmulp, Inst::kIdFdivp, Inst::kIdFdivrp})
        add(v, inst_name(id) + " st(i), st0", [=](Gen& g) {
            random_x87(g);
            g.a.emit(id, sti(g));
            maybe_wait(g);
        });
    for (InstId id :
         {Inst::kIdFiadd, Inst::kIdFisub, Inst::kIdFisubr, Inst::kIdFimul, Inst::kIdFidiv, Inst::kIdFidivr})
        for (unsigned bytes : {2u, 4u})
            add(v, inst_name(id) + " m" + std::to_string(bytes * 8) + "int", [=](Gen& g) {
                random_x87(g);
                g.a.emit(id, int_mem(g, bytes));
                maybe_wait(g);
            });
    reg_forms(v, {Inst::kIdFchs, Inst::kIdFabs, Inst::kIdFsqrt, Inst::kIdFrndint, Inst::kIdFscale,
                  Inst::kIdFxtract, Inst::kIdFprem, Inst::kIdFprem1, Inst::kIdFsin, Inst::kIdFcos,
                  Inst::kIdFsincos, Inst::kIdFptan, Inst::kIdFpatan, Inst::kIdF2xm1, Inst::kIdFyl2x,
                  Inst::kIdFyl2xp1});
    return v;
}

std::vector<Form> forms_x87_move() {
    std::vector<Form> v;
    for (unsigned bytes : {4u, 8u, 10u}) {
        const std::string m = " m" + std::to_string(bytes * 8) + "fp";
        add(v, "fld" + m, [=](Gen& g) {
            random_x87(g);
            g.a.fld(fp_mem(g, bytes));
            maybe_wait(g);
        });
        add(v, "fstp" + m, [=](Gen& g) {
            random_x87(g);
            g.a.fstp(fp_mem(g, bytes));
            maybe_wait(g);
        });
        if (bytes != 10)
            add(v, "fst" + m, [=](Gen& g) {
                random_x87(g);
                g.a.fst(fp_mem(g, bytes));
                maybe_wait(g);
            });
    }
    for (unsigned bytes : {2u, 4u, 8u}) {
        const std::string m = " m" + std::to_string(bytes * 8) + "int";
        add(v, "fild" + m, [=](Gen& g) {
            random_x87(g);
            g.a.fild(int_mem(g, bytes));
            maybe_wait(g);
        });
        add(v, "fistp" + m, [=](Gen& g) {
            random_x87(g);
            g.a.fistp(int_mem(g, bytes));
            maybe_wait(g);
        });
        v.push_back({"fisttp" + m,
                     [=](Gen& g) {
                         random_x87(g);
                         g.a.fisttp(int_mem(g, bytes));
                         maybe_wait(g);
                     },
                     feat::kSse3});
        if (bytes != 8)
            add(v, "fist" + m, [=](Gen& g) {
                random_x87(g);
                g.a.fist(int_mem(g, bytes));
                maybe_wait(g);
            });
    }
    add(v, "fbld m80bcd", [](Gen& g) {
        random_x87(g);
        g.a.fbld(bcd_mem(g));
        maybe_wait(g);
    });
    add(v, "fbstp m80bcd", [](Gen& g) {
        random_x87(g);
        g.a.fbstp(bcd_mem(g));
        maybe_wait(g);
    });
    add(v, "fld st(i)", [](Gen& g) {
        random_x87(g);
        g.a.fld(sti(g));
    });
    add(v, "fst st(i)", [](Gen& g) {
        random_x87(g);
        g.a.fst(sti(g));
    });
    add(v, "fstp st(i)", [](Gen& g) {
        random_x87(g);
        g.a.fstp(sti(g));
    });
    add(v, "fxch st(i)", [](Gen& g) {
        random_x87(g);
        g.a.fxch(sti(g));
    });
    for (InstId id : {Inst::kIdFcmovb, Inst::kIdFcmove, Inst::kIdFcmovbe, Inst::kIdFcmovu, Inst::kIdFcmovnb,
                      Inst::kIdFcmovne, Inst::kIdFcmovnbe, Inst::kIdFcmovnu})
        add(v, inst_name(id) + " st0, st(i)", [=](Gen& g) {
            random_x87(g);
            g.random_flags();
            g.a.emit(id, sti(g));
        });
    reg_forms(v, {Inst::kIdFld1, Inst::kIdFldl2t, Inst::kIdFldl2e, Inst::kIdFldpi, Inst::kIdFldlg2,
                  Inst::kIdFldln2, Inst::kIdFldz});
    return v;
}

std::vector<Form> forms_x87_cmp() {
    std::vector<Form> v;
    for (InstId id : {Inst::kIdFcom, Inst::kIdFcomp}) {
        for (unsigned bytes : {4u, 8u})
            add(v, inst_name(id) + " m" + std::to_string(bytes * 8) + "fp", [=](Gen& g) {
                random_x87(g);
                g.a.emit(id, fp_mem(g, bytes));
                maybe_wait(g);
            });
    }
    for (InstId id : {Inst::kIdFcom, Inst::kIdFcomp, Inst::kIdFucom, Inst::kIdFucomp})
        add(v, inst_name(id) + " st(i)", [=](Gen& g) {
            random_x87(g);
            g.a.emit(id, sti(g));
            maybe_wait(g);
        });
    for (InstId id : {Inst::kIdFicom, Inst::kIdFicomp})
        for (unsigned bytes : {2u, 4u})
            add(v, inst_name(id) + " m" + std::to_string(bytes * 8) + "int", [=](Gen& g) {
                random_x87(g);
                g.a.emit(id, int_mem(g, bytes));
                maybe_wait(g);
            });
    for (InstId id : {Inst::kIdFcomi, Inst::kIdFcomip, Inst::kIdFucomi, Inst::kIdFucomip})
        add(v, inst_name(id) + " st0, st(i)", [=](Gen& g) {
            random_x87(g);
            g.random_flags();
            g.a.emit(id, sti(g));
            maybe_wait(g);
        });
    reg_forms(v, {Inst::kIdFcompp, Inst::kIdFucompp, Inst::kIdFtst, Inst::kIdFxam});
    return v;
}

std::vector<Form> forms_x87_control() {
    std::vector<Form> v;
    add(v, "ffree st(i)", [](Gen& g) {
        random_x87(g);
        g.a.ffree(sti(g));
    });
    reg_forms(v, {Inst::kIdFincstp, Inst::kIdFdecstp, Inst::kIdFnop, Inst::kIdFninit, Inst::kIdFnclex});
    add(v, "fnstsw ax", [](Gen& g) {
        random_x87(g);
        g.fixed(0, 64, g.value(64));
        g.a.fnstsw(x86::ax);
    });
    add(v, "fnstsw m16", [](Gen& g) {
        random_x87(g);
        g.a.fnstsw(int_mem(g, 2));
    });
    add(v, "fnstcw m16", [](Gen& g) {
        random_x87(g);
        g.a.fnstcw(int_mem(g, 2));
    });
    add(v, "fldcw m16", [](Gen& g) {
        random_x87(g);
        x86::Mem m = g.mem(2);
        m.setSize(2);
        // Any rounding/precision, sometimes unmasking a pending flag.
        uint16_t cw = uint16_t(0x0340 | (g.rng.next() & 0x0f3f));
        g.put64(g.last_offset, cw, 2);
        g.a.fldcw(m);
        maybe_wait(g);
    });
    add(v, "fld1; fldpi; fmulp; fsqrt", [](Gen& g) {
        random_x87(g, int(g.rng.below(7)));
        g.a.fld1();
        g.a.fldpi();
        g.a.emit(Inst::kIdFmulp, x86::st1);
        g.a.fsqrt();
        maybe_wait(g);
    });
    return v;
}

} // namespace difftest
