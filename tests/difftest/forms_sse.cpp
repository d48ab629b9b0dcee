// SSE/SSE2 instruction forms. Every case runs under a random MXCSR
// (rounding mode, FTZ/DAZ, sticky flags, sometimes unmasked exceptions).
#include "tests/difftest/gen.h"
#include <cstring>

namespace difftest {

namespace {

namespace Inst = asmjit::x86::Inst;

void add(std::vector<Form>& v, std::string name, std::function<void(Gen&)> e) {
    v.push_back({std::move(name), std::move(e), 0});
}

// Memory operand for an SSE form: 16-byte forms that require alignment are
// aligned except now and then (then both sides must raise #GP).
x86::Mem sse_mem(Gen& g, unsigned bytes, Lanes k, bool aligned) {
    unsigned align = aligned && !g.rng.chance(4) ? 16 : 1;
    return g.mem_lanes(bytes, k, align);
}

struct Op {
    InstId id;
    Lanes lanes;
    unsigned mem_bytes; // 16, 8 or 4
    bool aligned;       // m128 must be 16-byte aligned
};

// "op xmm, xmm" and "op xmm, mN" (and an imm8 when `imm` says so).
void xx_forms(std::vector<Form>& v, const Op& op, int imm = -1, const std::string& suffix = "") {
    std::string n = inst_name(op.id) + suffix;
    std::string mn = "m" + std::to_string(op.mem_bytes * 8);
    auto immv = [imm](Gen& g) { return imm >= 0 ? imm : int(g.rng.below(256)); };
    bool has_imm = imm != -1;
    add(v, n + " xmm, xmm" + (has_imm ? ", imm" : ""), [=](Gen& g) {
        g.random_mxcsr();
        x86::Xmm d = g.xmm(op.lanes);
        x86::Xmm s = g.rng.chance(10) ? d : g.xmm(op.lanes);
        if (has_imm)
            g.a.emit(op.id, d, s, Imm(immv(g)));
        else
            g.a.emit(op.id, d, s);
    });
    add(v, n + " xmm, " + mn + (has_imm ? ", imm" : ""), [=](Gen& g) {
        g.random_mxcsr();
        x86::Xmm d = g.xmm(op.lanes);
        x86::Mem m = sse_mem(g, op.mem_bytes, op.lanes, op.aligned);
        if (has_imm)
            g.a.emit(op.id, d, m, Imm(immv(g)));
        else
            g.a.emit(op.id, d, m);
    });
}

void xx_list(std::vector<Form>& v, std::initializer_list<InstId> ids, Lanes k, unsigned bytes, bool aligned) {
    for (InstId id : ids) xx_forms(v, {id, k, bytes, aligned});
}

// Stores: "op mN, xmm".
void store_form(std::vector<Form>& v, InstId id, Lanes k, unsigned bytes, bool aligned) {
    add(v, inst_name(id) + " m" + std::to_string(bytes * 8) + ", xmm", [=](Gen& g) {
        g.random_mxcsr();
        x86::Xmm s = g.xmm(k);
        g.a.emit(id, sse_mem(g, bytes, k, aligned), s);
    });
}

// Shift counts in an XMM register or m128: edge values in the low quadword.
void shift_count_forms(std::vector<Form>& v, InstId id, unsigned lane_bits, Lanes k) {
    auto count = [lane_bits](Gen& g) -> uint64_t {
        const uint64_t e[] = {0, 1, lane_bits - 1, lane_bits, lane_bits + 1, 255, 256, 1ull << 32, ~0ull};
        return g.rng.chance(70) ? e[g.rng.below(std::size(e))] : g.rng.below(2 * lane_bits);
    };
    std::string n = inst_name(id);
    add(v, n + " xmm, imm", [=](Gen& g) {
        g.random_mxcsr();
        g.a.emit(id, g.xmm(k), Imm(count(g) & 0xff));
    });
    add(v, n + " xmm, xmm", [=](Gen& g) {
        g.random_mxcsr();
        x86::Xmm d = g.xmm(k), s = g.xmm(k);
        uint64_t c = count(g);
        std::memcpy(g.c.init.xmm[s.id()], &c, 8);
        g.a.emit(id, d, s);
    });
    add(v, n + " xmm, m128", [=](Gen& g) {
        g.random_mxcsr();
        x86::Xmm d = g.xmm(k);
        x86::Mem m = g.mem(16, 16);
        g.put64(g.last_offset, count(g), 8);
        g.a.emit(id, d, m);
    });
}

} // namespace

std::vector<Form> forms_sse_move() {
    std::vector<Form> v;
    for (InstId id : {Inst::kIdMovaps, Inst::kIdMovups, Inst::kIdMovapd, Inst::kIdMovupd, Inst::kIdMovdqa,
                      Inst::kIdMovdqu}) {
        bool aligned = id == Inst::kIdMovaps || id == Inst::kIdMovapd || id == Inst::kIdMovdqa;
        xx_forms(v, {id, Lanes::Bytes, 16, aligned});
        store_form(v, id, Lanes::Bytes, 16, aligned);
    }
    for (InstId id : {Inst::kIdMovss, Inst::kIdMovsd}) {
        unsigned b = id == Inst::kIdMovss ? 4 : 8;
        xx_forms(v, {id, Lanes::Bytes, b, false});
        store_form(v, id, Lanes::Bytes, b, false);
    }
    for (InstId id : {Inst::kIdMovlps, Inst::kIdMovhps, Inst::kIdMovlpd, Inst::kIdMovhpd}) {
        add(v, inst_name(id) + " xmm, m64", [=](Gen& g) { g.a.emit(id, g.xmm(Lanes::Bytes), g.mem(8)); });
        store_form(v, id, Lanes::Bytes, 8, false);
    }
    for (InstId id : {Inst::kIdMovhlps, Inst::kIdMovlhps})
        add(v, inst_name(id) + " xmm, xmm", [=](Gen& g) {
            x86::Xmm d = g.xmm(Lanes::Bytes);
            g.a.emit(id, d, g.xmm(Lanes::Bytes));
        });
    for (unsigned w : {32u, 64u}) {
        InstId id = w == 32 ? Inst::kIdMovd : Inst::kIdMovq;
        std::string n = inst_name(id), r = "r" + std::to_string(w), m = "m" + std::to_string(w);
        add(v, n + " xmm, " + r, [=](Gen& g) {
            x86::Xmm d = g.xmm(Lanes::Bytes);
            g.a.emit(id, d, g.gp(w));
        });
        add(v, n + " " + r + ", xmm", [=](Gen& g) {
            x86::Xmm s = g.xmm(Lanes::Bytes);
            g.a.emit(id, g.gp(w), s);
        });
        add(v, n + " xmm, " + m, [=](Gen& g) {
            x86::Xmm d = g.xmm(Lanes::Bytes);
            g.a.emit(id, d, g.mem(w / 8));
        });
        add(v, n + " " + m + ", xmm", [=](Gen& g) {
            x86::Xmm s = g.xmm(Lanes::Bytes);
            g.a.emit(id, g.mem(w / 8), s);
        });
    }
    add(v, "movq xmm, xmm", [](Gen& g) {
        x86::Xmm d = g.xmm(Lanes::Bytes);
        g.a.movq(d, g.xmm(Lanes::Bytes));
    });
    for (InstId id : {Inst::kIdMovmskps, Inst::kIdMovmskpd, Inst::kIdPmovmskb})
        add(v, inst_name(id) + " r32, xmm", [=](Gen& g) {
            x86::Xmm s = g.xmm(id == Inst::kIdPmovmskb   ? Lanes::I8
                               : id == Inst::kIdMovmskps ? Lanes::F32
                                                         : Lanes::F64);
            g.a.emit(id, g.gp(32), s);
        });
    store_form(v, Inst::kIdMovntdq, Lanes::Bytes, 16, true);
    store_form(v, Inst::kIdMovntps, Lanes::Bytes, 16, true);
    store_form(v, Inst::kIdMovntpd, Lanes::Bytes, 16, true);
    for (unsigned w : {32u, 64u})
        add(v, "movnti m" + std::to_string(w) + ", r" + std::to_string(w), [=](Gen& g) {
            x86::Gp s = g.gp(w);
            g.a.movnti(g.mem(w / 8), s);
        });
    add(v, "maskmovdqu xmm, xmm", [](Gen& g) {
        g.fixed(7, 64, kDataAddr + 0x1000 + g.rng.below(0x2000));
        x86::Xmm d = g.xmm(Lanes::Bytes), m = g.xmm(Lanes::I8);
        g.a.maskmovdqu(d, m);
    });
    add(v, "pextrw r32, xmm, imm", [](Gen& g) {
        x86::Xmm s = g.xmm(Lanes::I16);
        g.a.pextrw(g.gp(32), s, Imm(g.rng.below(256)));
    });
    add(v, "pinsrw xmm, r32, imm", [](Gen& g) {
        x86::Xmm d = g.xmm(Lanes::I16);
        g.a.pinsrw(d, g.gp(32), Imm(g.rng.below(256)));
    });
    add(v, "pinsrw xmm, m16, imm", [](Gen& g) {
        x86::Xmm d = g.xmm(Lanes::I16);
        g.a.pinsrw(d, g.mem(2), Imm(g.rng.below(256)));
    });
    return v;
}

std::vector<Form> forms_sse_arith() {
    std::vector<Form> v;
    xx_list(v,
            {Inst::kIdAddps, Inst::kIdSubps, Inst::kIdMulps, Inst::kIdDivps, Inst::kIdMinps, Inst::kIdMaxps,
             Inst::kIdSqrtps, Inst::kIdRcpps, Inst::kIdRsqrtps},
            Lanes::F32, 16, true);
    xx_list(v,
            {Inst::kIdAddpd, Inst::kIdSubpd, Inst::kIdMulpd, Inst::kIdDivpd, Inst::kIdMinpd, Inst::kIdMaxpd,
             Inst::kIdSqrtpd},
            Lanes::F64, 16, true);
    xx_list(v,
            {Inst::kIdAddss, Inst::kIdSubss, Inst::kIdMulss, Inst::kIdDivss, Inst::kIdMinss, Inst::kIdMaxss,
             Inst::kIdSqrtss, Inst::kIdRcpss, Inst::kIdRsqrtss},
            Lanes::F32, 4, false);
    xx_list(v,
            {Inst::kIdAddsd, Inst::kIdSubsd, Inst::kIdMulsd, Inst::kIdDivsd, Inst::kIdMinsd, Inst::kIdMaxsd,
             Inst::kIdSqrtsd},
            Lanes::F64, 8, false);
    return v;
}

std::vector<Form> forms_sse_cmp() {
    std::vector<Form> v;
    const char* const preds[8] = {"eq", "lt", "le", "unord", "neq", "nlt", "nle", "ord"};
    for (int p = 0; p < 8; p++) {
        std::string s = std::string(" (") + preds[p] + ")";
        xx_forms(v, {Inst::kIdCmpps, Lanes::F32, 16, true}, p, s);
        xx_forms(v, {Inst::kIdCmppd, Lanes::F64, 16, true}, p, s);
        xx_forms(v, {Inst::kIdCmpss, Lanes::F32, 4, false}, p, s);
        xx_forms(v, {Inst::kIdCmpsd, Lanes::F64, 8, false}, p, s);
    }
    xx_list(v, {Inst::kIdComiss, Inst::kIdUcomiss}, Lanes::F32, 4, false);
    xx_list(v, {Inst::kIdComisd, Inst::kIdUcomisd}, Lanes::F64, 8, false);
    return v;
}

std::vector<Form> forms_sse_cvt() {
    std::vector<Form> v;
    for (InstId id : {Inst::kIdCvtsi2ss, Inst::kIdCvtsi2sd})
        for (unsigned w : {32u, 64u}) {
            std::string n = inst_name(id);
            add(v, n + " xmm, r" + std::to_string(w), [=](Gen& g) {
                g.random_mxcsr();
                x86::Xmm d = g.xmm(Lanes::Bytes);
                g.a.emit(id, d, g.gp(w));
            });
            add(v, n + " xmm, m" + std::to_string(w), [=](Gen& g) {
                g.random_mxcsr();
                x86::Xmm d = g.xmm(Lanes::Bytes);
                g.a.emit(id, d, g.mem_val(w / 8, g.value(w)));
            });
        }
    for (InstId id : {Inst::kIdCvtss2si, Inst::kIdCvttss2si, Inst::kIdCvtsd2si, Inst::kIdCvttsd2si})
        for (unsigned w : {32u, 64u}) {
            bool single = id == Inst::kIdCvtss2si || id == Inst::kIdCvttss2si;
            Lanes k = single ? Lanes::F32 : Lanes::F64;
            std::string n = inst_name(id), r = "r" + std::to_string(w);
            add(v, n + " " + r + ", xmm", [=](Gen& g) {
                g.random_mxcsr();
                x86::Xmm s = g.xmm(k);
                g.a.emit(id, g.gp(w), s);
            });
            add(v, n + " " + r + (single ? ", m32" : ", m64"), [=](Gen& g) {
                g.random_mxcsr();
                x86::Gp d = g.gp(w);
                g.a.emit(id, d, g.mem_lanes(single ? 4 : 8, k, 1));
            });
        }
    xx_list(v, {Inst::kIdCvtps2pd}, Lanes::F32, 8, false);
    xx_list(v, {Inst::kIdCvtpd2ps, Inst::kIdCvtpd2dq, Inst::kIdCvttpd2dq}, Lanes::F64, 16, true);
    xx_list(v, {Inst::kIdCvtss2sd}, Lanes::F32, 4, false);
    xx_list(v, {Inst::kIdCvtsd2ss}, Lanes::F64, 8, false);
    xx_list(v, {Inst::kIdCvtdq2ps}, Lanes::I32, 16, true);
    xx_list(v, {Inst::kIdCvtps2dq, Inst::kIdCvttps2dq}, Lanes::F32, 16, true);
    xx_list(v, {Inst::kIdCvtdq2pd}, Lanes::I32, 8, false);
    return v;
}

std::vector<Form> forms_sse_logic() {
    std::vector<Form> v;
    xx_list(v, {Inst::kIdAndps, Inst::kIdAndnps, Inst::kIdOrps, Inst::kIdXorps}, Lanes::F32, 16, true);
    xx_list(v, {Inst::kIdAndpd, Inst::kIdAndnpd, Inst::kIdOrpd, Inst::kIdXorpd}, Lanes::F64, 16, true);
    xx_list(v, {Inst::kIdPand, Inst::kIdPandn, Inst::kIdPor, Inst::kIdPxor}, Lanes::Bytes, 16, true);
    xx_list(v, {Inst::kIdUnpcklps, Inst::kIdUnpckhps}, Lanes::F32, 16, true);
    xx_list(v, {Inst::kIdUnpcklpd, Inst::kIdUnpckhpd}, Lanes::F64, 16, true);
    xx_forms(v, {Inst::kIdShufps, Lanes::F32, 16, true}, -2);
    xx_forms(v, {Inst::kIdShufpd, Lanes::F64, 16, true}, -2);
    for (InstId id : {Inst::kIdPshufd, Inst::kIdPshuflw, Inst::kIdPshufhw})
        xx_forms(v, {id, Lanes::I16, 16, true}, -2);
    return v;
}

std::vector<Form> forms_sse_int() {
    std::vector<Form> v;
    xx_list(v,
            {Inst::kIdPaddb, Inst::kIdPsubb, Inst::kIdPaddsb, Inst::kIdPaddusb, Inst::kIdPsubsb,
             Inst::kIdPsubusb, Inst::kIdPcmpeqb, Inst::kIdPcmpgtb, Inst::kIdPminub, Inst::kIdPmaxub,
             Inst::kIdPavgb, Inst::kIdPsadbw},
            Lanes::I8, 16, true);
    xx_list(v,
            {Inst::kIdPaddw, Inst::kIdPsubw, Inst::kIdPaddsw, Inst::kIdPaddusw, Inst::kIdPsubsw,
             Inst::kIdPsubusw, Inst::kIdPmullw, Inst::kIdPmulhw, Inst::kIdPmulhuw, Inst::kIdPmaddwd,
             Inst::kIdPcmpeqw, Inst::kIdPcmpgtw, Inst::kIdPminsw, Inst::kIdPmaxsw, Inst::kIdPavgw},
            Lanes::I16, 16, true);
    xx_list(v, {Inst::kIdPaddd, Inst::kIdPsubd, Inst::kIdPcmpeqd, Inst::kIdPcmpgtd, Inst::kIdPmuludq},
            Lanes::I32, 16, true);
    xx_list(v, {Inst::kIdPaddq, Inst::kIdPsubq}, Lanes::I64, 16, true);
    for (InstId id : {Inst::kIdPsllw, Inst::kIdPsrlw, Inst::kIdPsraw})
        shift_count_forms(v, id, 16, Lanes::I16);
    for (InstId id : {Inst::kIdPslld, Inst::kIdPsrld, Inst::kIdPsrad})
        shift_count_forms(v, id, 32, Lanes::I32);
    for (InstId id : {Inst::kIdPsllq, Inst::kIdPsrlq}) shift_count_forms(v, id, 64, Lanes::I64);
    for (InstId id : {Inst::kIdPslldq, Inst::kIdPsrldq})
        add(v, inst_name(id) + " xmm, imm", [=](Gen& g) {
            const uint64_t e[] = {0, 1, 7, 8, 15, 16, 17, 255};
            g.a.emit(id, g.xmm(Lanes::Bytes), Imm(g.rng.chance(60) ? e[g.rng.below(8)] : g.rng.below(256)));
        });
    xx_list(v,
            {Inst::kIdPacksswb, Inst::kIdPackuswb, Inst::kIdPunpcklbw, Inst::kIdPunpckhbw, Inst::kIdPunpcklwd,
             Inst::kIdPunpckhwd},
            Lanes::I16, 16, true);
    xx_list(v, {Inst::kIdPackssdw, Inst::kIdPunpckldq, Inst::kIdPunpckhdq}, Lanes::I32, 16, true);
    xx_list(v, {Inst::kIdPunpcklqdq, Inst::kIdPunpckhqdq}, Lanes::I64, 16, true);
    return v;
}

} // namespace difftest
