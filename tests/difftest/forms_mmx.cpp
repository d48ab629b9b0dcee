// MMX forms: the MMX instructions, the MMX forms of SSE/SSE2 (PSHUFW,
// PAVGB, PMULUDQ ...) and SSSE3 (PSHUFB mm ...), MMX/XMM moves and
// conversions, EMMS. MMX registers alias the x87 registers, so every case
// starts from a random x87 state (TOP, tag word, register exponents; now
// and then an unmasked exception pending, which both sides must raise as
// #MF before the MMX instruction runs) and the x87 state (FSW TOP, FTW, the
// registers) is compared after it, as are XMM, MXCSR, GPRs and memory.
#include "tests/difftest/gen.h"
#include <cstring>

namespace difftest {

namespace {

namespace Inst = asmjit::x86::Inst;

unsigned top_of(const Gen& g) { return (g.c.init.x87[5] >> 3) & 7; }

// MMi is the mantissa of physical register i, which FNSAVE stores as
// ST((i - TOP) mod 8).
uint8_t* mm_slot(Gen& g, unsigned i) { return g.c.init.x87 + 28 + 10 * ((i - top_of(g)) & 7); }

// The full tag word FNSAVE would store: empty, or what the contents are
// (valid, zero, special), so that a state loaded and saved again is unchanged.
void write_tags(Gen& g, bool all_empty) {
    uint8_t* img = g.c.init.x87;
    uint16_t ftw = 0;
    for (unsigned phys = 0; phys < 8; phys++) {
        unsigned tag = 3;
        if (!all_empty && !g.rng.chance(20)) {
            const uint8_t* p = mm_slot(g, phys);
            uint64_t mant;
            uint16_t exp;
            std::memcpy(&mant, p, 8);
            std::memcpy(&exp, p + 8, 2);
            exp &= 0x7fff;
            if (exp == 0 && mant == 0)
                tag = 1;
            else if (exp == 0 || exp == 0x7fff || !(mant >> 63))
                tag = 2;
            else
                tag = 0;
        }
        ftw = uint16_t(ftw | tag << (2 * phys));
    }
    std::memcpy(img + 8, &ftw, 2);
}

// The starting x87 state: random FCW (rounding, precision, masks), TOP and
// tags, every register a random exponent over lane-biased mantissa bits.
void random_mmx_state(Gen& g) {
    uint8_t* img = g.c.init.x87;
    std::memset(img, 0, 108);
    Rng& rng = g.rng;
    uint16_t fcw = uint16_t(0x037f | (rng.below(4) << 8) | (rng.below(4) << 10));
    uint16_t fsw = uint16_t(rng.below(8) << 11 | (rng.next() & 0x4700));
    if (rng.chance(10)) {
        // A pending unmasked exception: #MF at the MMX instruction.
        const unsigned e = unsigned(rng.below(6));
        fcw = uint16_t(fcw & ~(1u << e));
        fsw = uint16_t(fsw | (1u << e) | 0x8080); // flag, ES and B
    } else {
        fsw = uint16_t(fsw | (rng.next() & 0x3f)); // masked sticky flags only
    }
    std::memcpy(img + 0, &fcw, 2);
    std::memcpy(img + 4, &fsw, 2);
    for (unsigned i = 0; i < 8; i++) {
        uint8_t* p = img + 28 + 10 * i;
        uint8_t lanes[16];
        g.fill_lanes(lanes, Lanes(1 + rng.below(4))); // I8..I64
        std::memcpy(p, lanes, 8);
        const uint16_t exp = uint16_t(rng.chance(50) ? 0xffff : rng.next());
        std::memcpy(p + 8, &exp, 2);
    }
    write_tags(g, rng.chance(50));
}

// An MMX register operand with `k` lanes in it.
x86::Mm mm(Gen& g, Lanes k, uint32_t& used) {
    unsigned i = 0;
    for (int tries = 0; tries < 50; tries++) {
        i = unsigned(g.rng.below(8));
        if (!(used & (1u << i))) break;
    }
    used |= 1u << i;
    uint8_t lanes[16];
    g.fill_lanes(lanes, k);
    std::memcpy(mm_slot(g, i), lanes, 8);
    const uint16_t ftw = uint16_t(g.c.init.x87[8] | g.c.init.x87[9] << 8);
    write_tags(g, (ftw == 0xffff));
    return x86::mm(i);
}

void add(std::vector<Form>& v, std::string name, unsigned features, std::function<void(Gen&, uint32_t&)> e) {
    v.push_back({std::move(name),
                 [e](Gen& g) {
                     random_mmx_state(g);
                     g.random_mxcsr();
                     uint32_t used = 0;
                     e(g, used);
                 },
                 features});
}

// "op mm, mm[, imm]" and "op mm, m64[, imm]".
void mm_forms(std::vector<Form>& v, InstId id, Lanes k, unsigned features, bool imm = false) {
    const std::string n = inst_name(id), is = imm ? ", imm" : "";
    add(v, n + " mm, mm" + is, features, [=](Gen& g, uint32_t& u) {
        x86::Mm d = mm(g, k, u);
        x86::Mm s = g.rng.chance(10) ? d : mm(g, k, u);
        if (imm)
            g.a.emit(id, d, s, Imm(g.rng.below(256)));
        else
            g.a.emit(id, d, s);
    });
    add(v, n + " mm, m64" + is, features, [=](Gen& g, uint32_t& u) {
        x86::Mm d = mm(g, k, u);
        x86::Mem m = g.mem_lanes(8, k, 1);
        if (imm)
            g.a.emit(id, d, m, Imm(g.rng.below(256)));
        else
            g.a.emit(id, d, m);
    });
}

void mm_list(std::vector<Form>& v, std::initializer_list<InstId> ids, Lanes k, unsigned features) {
    for (InstId id : ids) mm_forms(v, id, k, features);
}

} // namespace

std::vector<Form> forms_mmx() {
    std::vector<Form> v;
    const unsigned f = feat::kMmx;
    mm_list(v,
            {Inst::kIdPaddb, Inst::kIdPsubb, Inst::kIdPaddsb, Inst::kIdPaddusb, Inst::kIdPsubsb,
             Inst::kIdPsubusb, Inst::kIdPcmpeqb, Inst::kIdPcmpgtb, Inst::kIdPminub, Inst::kIdPmaxub,
             Inst::kIdPavgb, Inst::kIdPsadbw, Inst::kIdPunpckhbw, Inst::kIdPacksswb, Inst::kIdPackuswb},
            Lanes::I8, f);
    mm_list(v,
            {Inst::kIdPaddw, Inst::kIdPsubw, Inst::kIdPaddsw, Inst::kIdPaddusw, Inst::kIdPsubsw,
             Inst::kIdPsubusw, Inst::kIdPmullw, Inst::kIdPmulhw, Inst::kIdPmulhuw, Inst::kIdPmaddwd,
             Inst::kIdPcmpeqw, Inst::kIdPcmpgtw, Inst::kIdPminsw, Inst::kIdPmaxsw, Inst::kIdPavgw,
             Inst::kIdPunpckhwd, Inst::kIdPackssdw},
            Lanes::I16, f);
    mm_list(v,
            {Inst::kIdPaddd, Inst::kIdPsubd, Inst::kIdPcmpeqd, Inst::kIdPcmpgtd, Inst::kIdPmuludq,
             Inst::kIdPunpckhdq},
            Lanes::I32, f);
    // The low unpacks of MMX registers read 32 bits from memory.
    for (InstId id : {Inst::kIdPunpcklbw, Inst::kIdPunpcklwd, Inst::kIdPunpckldq}) {
        add(v, inst_name(id) + " mm, mm", f, [=](Gen& g, uint32_t& u) {
            x86::Mm d = mm(g, Lanes::I8, u);
            g.a.emit(id, d, mm(g, Lanes::I8, u));
        });
        add(v, inst_name(id) + " mm, m32", f, [=](Gen& g, uint32_t& u) {
            x86::Mm d = mm(g, Lanes::I8, u);
            g.a.emit(id, d, g.mem_lanes(4, Lanes::I8, 1));
        });
    }
    mm_list(v, {Inst::kIdPaddq, Inst::kIdPsubq, Inst::kIdPand, Inst::kIdPandn, Inst::kIdPor, Inst::kIdPxor},
            Lanes::I64, f);
    // Shifts: count in an MMX register, m64 or imm8.
    for (InstId id : {Inst::kIdPsllw, Inst::kIdPslld, Inst::kIdPsllq, Inst::kIdPsrlw, Inst::kIdPsrld,
                      Inst::kIdPsrlq, Inst::kIdPsraw, Inst::kIdPsrad}) {
        mm_list(v, {id}, Lanes::I64, f);
        add(v, inst_name(id) + " mm, imm", f,
            [=](Gen& g, uint32_t& u) { g.a.emit(id, mm(g, Lanes::I16, u), Imm(g.count(64))); });
    }
    mm_forms(v, Inst::kIdPshufw, Lanes::I16, f, true);
    // SSSE3 on MMX registers.
    const unsigned s3 = feat::kMmx | feat::kSsse3;
    mm_list(v, {Inst::kIdPabsb, Inst::kIdPsignb, Inst::kIdPshufb, Inst::kIdPmaddubsw}, Lanes::I8, s3);
    mm_list(v,
            {Inst::kIdPabsw, Inst::kIdPsignw, Inst::kIdPhaddw, Inst::kIdPhaddsw, Inst::kIdPhsubw,
             Inst::kIdPhsubsw, Inst::kIdPmulhrsw},
            Lanes::I16, s3);
    mm_list(v, {Inst::kIdPabsd, Inst::kIdPsignd, Inst::kIdPhaddd, Inst::kIdPhsubd}, Lanes::I32, s3);
    mm_forms(v, Inst::kIdPalignr, Lanes::I8, s3, true);

    // Moves between MMX, GPRs, memory and XMM.
    for (unsigned w : {32u, 64u}) {
        const InstId id = w == 32 ? Inst::kIdMovd : Inst::kIdMovq;
        const std::string n = inst_name(id), r = " r" + std::to_string(w), m = " m" + std::to_string(w);
        add(v, n + " mm," + r, f, [=](Gen& g, uint32_t& u) {
            x86::Mm d = mm(g, Lanes::I64, u);
            g.a.emit(id, d, g.gp(w));
        });
        add(v, n + r + ", mm", f, [=](Gen& g, uint32_t& u) {
            x86::Mm s = mm(g, Lanes::I64, u);
            g.a.emit(id, g.gp(w), s);
        });
        add(v, n + " mm," + m, f, [=](Gen& g, uint32_t& u) {
            x86::Mm d = mm(g, Lanes::I64, u);
            g.a.emit(id, d, g.mem(w / 8));
        });
        add(v, n + m + ", mm", f, [=](Gen& g, uint32_t& u) {
            x86::Mm s = mm(g, Lanes::I64, u);
            g.a.emit(id, g.mem(w / 8), s);
        });
    }
    add(v, "movq mm, mm", f, [](Gen& g, uint32_t& u) {
        x86::Mm d = mm(g, Lanes::I64, u);
        g.a.movq(d, mm(g, Lanes::I64, u));
    });
    add(v, "movntq m64, mm", f, [](Gen& g, uint32_t& u) {
        x86::Mm s = mm(g, Lanes::I64, u);
        g.a.movntq(g.mem(8), s);
    });
    add(v, "maskmovq mm, mm", f, [](Gen& g, uint32_t& u) {
        g.fixed(7, 64, kDataAddr + 0x1000 + g.rng.below(0x2000));
        x86::Mm d = mm(g, Lanes::I64, u), m = mm(g, Lanes::I8, u);
        g.a.maskmovq(d, m);
    });
    add(v, "pmovmskb r32, mm", f, [](Gen& g, uint32_t& u) {
        x86::Mm s = mm(g, Lanes::I8, u);
        g.a.pmovmskb(g.gp(32), s);
    });
    add(v, "pextrw r32, mm, imm", f, [](Gen& g, uint32_t& u) {
        x86::Mm s = mm(g, Lanes::I16, u);
        g.a.pextrw(g.gp(32), s, Imm(g.rng.below(256)));
    });
    add(v, "pinsrw mm, r32, imm", f, [](Gen& g, uint32_t& u) {
        x86::Mm d = mm(g, Lanes::I16, u);
        g.a.pinsrw(d, g.gp(32), Imm(g.rng.below(256)));
    });
    add(v, "pinsrw mm, m16, imm", f, [](Gen& g, uint32_t& u) {
        x86::Mm d = mm(g, Lanes::I16, u);
        g.a.pinsrw(d, g.mem(2), Imm(g.rng.below(256)));
    });
    add(v, "movq2dq xmm, mm", f, [](Gen& g, uint32_t& u) {
        x86::Xmm d = g.xmm(Lanes::Bytes);
        g.a.movq2dq(d, mm(g, Lanes::I64, u));
    });
    add(v, "movdq2q mm, xmm", f, [](Gen& g, uint32_t& u) {
        x86::Mm d = mm(g, Lanes::I64, u);
        g.a.movdq2q(d, g.xmm(Lanes::I64));
    });
    // Conversions between MMX and XMM (FP exceptions under the random MXCSR).
    for (InstId id : {Inst::kIdCvtpi2ps, Inst::kIdCvtpi2pd}) {
        add(v, inst_name(id) + " xmm, mm", f, [=](Gen& g, uint32_t& u) {
            x86::Xmm d = g.xmm(Lanes::F64);
            g.a.emit(id, d, mm(g, Lanes::I32, u));
        });
        add(v, inst_name(id) + " xmm, m64", f, [=](Gen& g, uint32_t&) {
            x86::Xmm d = g.xmm(Lanes::F64);
            g.a.emit(id, d, g.mem_lanes(8, Lanes::I32, 1));
        });
    }
    for (InstId id : {Inst::kIdCvtps2pi, Inst::kIdCvttps2pi}) {
        add(v, inst_name(id) + " mm, xmm", f, [=](Gen& g, uint32_t& u) {
            x86::Mm d = mm(g, Lanes::I64, u);
            g.a.emit(id, d, g.xmm(Lanes::F32));
        });
        add(v, inst_name(id) + " mm, m64", f, [=](Gen& g, uint32_t& u) {
            x86::Mm d = mm(g, Lanes::I64, u);
            g.a.emit(id, d, g.mem_lanes(8, Lanes::F32, 1));
        });
    }
    for (InstId id : {Inst::kIdCvtpd2pi, Inst::kIdCvttpd2pi}) {
        add(v, inst_name(id) + " mm, xmm", f, [=](Gen& g, uint32_t& u) {
            x86::Mm d = mm(g, Lanes::I64, u);
            g.a.emit(id, d, g.xmm(Lanes::F64));
        });
        add(v, inst_name(id) + " mm, m128", f, [=](Gen& g, uint32_t& u) {
            x86::Mm d = mm(g, Lanes::I64, u);
            g.a.emit(id, d, g.mem_lanes(16, Lanes::F64, g.rng.chance(95) ? 16 : 1));
        });
    }
    add(v, "emms", f, [](Gen& g, uint32_t&) { g.a.emms(); });
    // MMX and x87 in one block: the tag word and TOP as each leaves them.
    add(v, "paddb mm, mm; emms; fld1; fstp m80", f, [](Gen& g, uint32_t& u) {
        x86::Mm d = mm(g, Lanes::I8, u);
        g.a.paddb(d, mm(g, Lanes::I8, u));
        g.a.emms();
        g.a.fld1();
        x86::Mem m = g.mem(10);
        m.setSize(10);
        g.a.fstp(m);
    });
    add(v, "fld m64; movq mm, mm (no emms)", f, [](Gen& g, uint32_t& u) {
        x86::Mem m = g.mem_val(8, g.f64());
        m.setSize(8);
        g.a.fld(m);
        x86::Mm d = mm(g, Lanes::I64, u);
        g.a.movq(d, mm(g, Lanes::I64, u));
    });
    return v;
}

} // namespace difftest
