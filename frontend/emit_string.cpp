// Emitters: string family (MOVS, STOS, LODS, CMPS, SCAS; INS/OUTS are I/O).
//
// Single forms run inline: the linear address of DS:rSI / ES:rDI goes through
// the TLB probe, the host instruction works on the host pointer, and rSI/rDI
// move by +-size picked from DF at run time without touching host flags (a
// table indexed by the EFLAGS byte that holds DF). REP MOVS/STOS within one
// page run as the host's REP MOVS/STOS on host pointers; other REP forms call
// helper_string, which works page chunk by page chunk.
#include "frontend/emit_sse.h"
#include "frontend/emit_table.h"
#include "frontend/string_helpers.h"

namespace hayate {

namespace {

using namespace asmjit;
using namespace strop;

// +1 or -1 for every value of EFLAGS bits 8..15 (DF is bit 2 of that byte).
struct DfSignTable {
    int8_t v[256];
    constexpr DfSignTable() : v{} {
        for (int i = 0; i < 256; i++) v[i] = (i & 4) ? -1 : 1;
    }
};
alignas(64) constexpr DfSignTable kDfSign{};

x86::Gp sized(x86::Gp r, unsigned bytes) {
    switch (bytes) {
    case 1: return r.r8();
    case 2: return r.r16();
    case 4: return r.r32();
    default: return r.r64();
    }
}

x86::Mem scratch_slot(unsigned bytes) { return jit::state_field(offsetof(CpuState, scratch) + 8, bytes); }

struct Form {
    Op op;
    unsigned n;  // element bytes
    unsigned ab; // address bytes
    int seg;     // source segment (DS unless overridden)
    Rep rep;
};

Form form_of(const Insn& in, Op op) {
    Form f{op, in.operand_width() / 8, in.address_width() / 8, DS, kNone};
    for (unsigned i = 0; i < in.zi.operand_count; i++) {
        const ZydisDecodedOperand& o = in.ops[i];
        if (o.type != ZYDIS_OPERAND_TYPE_MEMORY) continue;
        ZydisRegister b = o.mem.base;
        if (b == ZYDIS_REGISTER_SI || b == ZYDIS_REGISTER_ESI || b == ZYDIS_REGISTER_RSI) {
            int s = zydis_seg_index(o.mem.segment);
            if (s >= 0) f.seg = s;
        }
    }
    const bool compares = op == kCmps || op == kScas;
    const auto attr = in.zi.attributes;
    // F2 on MOVS/STOS/LODS repeats like F3.
    if (attr & ZYDIS_ATTRIB_HAS_REPNE)
        f.rep = compares ? kRepne : kRep;
    else if (attr & (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE))
        f.rep = compares ? kRepe : kRep;
    return f;
}

// T0 = linear address of seg:rSI or ES:rDI (flag-free; uses T1).
void string_address(EmitContext& c, int guest, unsigned ab, int seg, unsigned n, MemAccess acc) {
    auto& a = c.a;
    x86::Gp r = x86::gpq(uint32_t(jit::host_reg_of(guest)));
    if (ab == 8)
        a.mov(kT0, r);
    else if (ab == 4)
        a.mov(kT0.r32(), r.r32());
    else
        a.movzx(kT0.r32(), r.r16());
    c.add_segment_base(kT0, seg, n, acc);
}

// rSI/rDI += +-n by DF, wrapping at the address size (flag-free; uses T0, T1).
void advance(x86::Assembler& a, const Form& f, bool src, bool dst) {
    a.movzx(kT1.r32(), x86::byte_ptr(kState, int32_t(offsetof(CpuState, eflags) + 1)));
    a.mov(kT0, Imm(uint64_t(uintptr_t(kDfSign.v))));
    a.movsx(kT1, x86::byte_ptr(kT0, kT1));
    const uint32_t shift = uint32_t(__builtin_ctz(f.n));
    if (src) a.lea(sized(x86::rsi, f.ab), x86::ptr(x86::rsi, kT1, shift));
    if (dst) a.lea(sized(x86::rdi, f.ab), x86::ptr(x86::rdi, kT1, shift));
}

// The register updates happen inside the last memory access's body, after
// the access: a store that hits translated code leaves generated code at the
// next instruction right after its body, and a fault comes before it.
void emit_single(EmitContext& c, const Form& f) {
    x86::Assembler* as = &c.a;
    const unsigned n = f.n;
    const x86::Gp acc = sized(x86::rax, n);
    const x86::Gp t1 = sized(kT1, n);
    auto load_first = [as, n, t1](const x86::Mem& m) {
        as->mov(t1, m);
        as->mov(scratch_slot(n), t1);
    };
    switch (f.op) {
    case kMovs:
        string_address(c, RSI, f.ab, f.seg, n, MemAccess::Read);
        c.access_linear(n, MemAccess::Read, f.seg, load_first);
        string_address(c, RDI, f.ab, ES, n, MemAccess::Write);
        c.access_linear(n, MemAccess::Write, ES, [as, n, t1, f](const x86::Mem& m) {
            as->mov(t1, scratch_slot(n));
            as->mov(m, t1);
            advance(*as, f, true, true);
        });
        break;
    case kStos:
        string_address(c, RDI, f.ab, ES, n, MemAccess::Write);
        c.access_linear(n, MemAccess::Write, ES, [as, acc, f](const x86::Mem& m) {
            as->mov(m, acc);
            advance(*as, f, false, true);
        });
        break;
    case kLods:
        string_address(c, RSI, f.ab, f.seg, n, MemAccess::Read);
        c.access_linear(n, MemAccess::Read, f.seg, [as, acc, f](const x86::Mem& m) {
            as->mov(acc, m);
            advance(*as, f, true, false);
        });
        break;
    case kCmps:
        string_address(c, RSI, f.ab, f.seg, n, MemAccess::Read);
        c.access_linear(n, MemAccess::Read, f.seg, load_first);
        string_address(c, RDI, f.ab, ES, n, MemAccess::Read);
        c.access_linear(n, MemAccess::Read, ES, [as, n, t1, f](const x86::Mem& m) {
            as->mov(t1, scratch_slot(n));
            as->cmp(t1, m);
            advance(*as, f, true, true);
        });
        break;
    case kScas:
        string_address(c, RDI, f.ab, ES, n, MemAccess::Read);
        c.access_linear(n, MemAccess::Read, ES, [as, acc, f](const x86::Mem& m) {
            as->cmp(acc, m);
            advance(*as, f, false, true);
        });
        break;
    }
}

x86::Mem scratch_at(int slot, unsigned bytes = 8) {
    return jit::state_field(offsetof(CpuState, scratch) + 8 * size_t(slot), bytes);
}

// T0 = host address of the page holding linear T0 for `acc` (uses T1); jumps
// to `miss` unless the TLB has it (MMIO and, for writes, code pages miss).
void probe_page(EmitContext& c, MemAccess acc, Label miss) {
    auto& a = c.a;
    const int32_t tlb_off =
        int32_t(offsetof(CpuState, tlb) + size_t(c.mmu_index()) * sizeof(TlbEntry) * kTlbEntries);
    const int32_t tag_off = tlb_off + int32_t(acc == MemAccess::Read ? offsetof(TlbEntry, tag_read)
                                                                     : offsetof(TlbEntry, tag_write));
    a.mov(kT1, kT0);
    a.shr(kT1, 12 - 5);
    a.and_(kT1.r32(), Imm((kTlbEntries - 1) << 5));
    a.xor_(kT0, x86::qword_ptr(kState, kT1, 0, tag_off));
    a.cmp(kT0, Imm(0xfff));
    a.ja(miss);
    a.add(kT0, x86::qword_ptr(kState, kT1, 0, tlb_off + int32_t(offsetof(TlbEntry, host_page))));
}

// REP MOVS/STOS whose bytes stay inside one page each, going up, in a flat
// segment: the host's own REP MOVS/STOS on the host pointers (exact overlap
// semantics included). Everything else goes to helper_string.
void emit_rep_fast(EmitContext& c, const Form& f) {
    auto& a = c.a;
    const bool movs = f.op == kMovs;
    const unsigned n = f.n;
    Label slow = a.newLabel(), skip = a.newLabel(), done = a.newLabel();
    const bool live = c.flags_live_before();
    auto reg = [&f](x86::Gp r) -> x86::Gp { return f.ab == 8 ? x86::Gp(r.r64()) : x86::Gp(r.r32()); };
    if (live) c.save_flags();
    a.test(x86::byte_ptr(kState, int32_t(offsetof(CpuState, eflags) + 1)), Imm(4)); // DF
    a.jnz(slow);
    a.mov(reg(kT0), reg(x86::rcx));
    a.test(kT0, kT0);
    a.jz(skip);
    a.cmp(kT0, Imm(0x1000 / n));
    a.ja(slow);
    if (n > 1) a.shl(kT0, Imm(__builtin_ctz(n)));
    a.mov(scratch_at(2), kT0); // bytes
    for (x86::Gp p : {x86::rsi, x86::rdi}) {
        if (p == x86::rsi && !movs) continue;
        a.mov(kT1.r32(), p.r32());
        a.and_(kT1.r32(), Imm(0xfff));
        a.add(kT1.r32(), kT0.r32());
        a.cmp(kT1.r32(), Imm(0x1000));
        a.ja(slow);
    }
    if (movs) {
        a.mov(reg(kT0), reg(x86::rsi));
        probe_page(c, MemAccess::Read, slow);
        a.mov(scratch_at(3), kT0);
    }
    a.mov(reg(kT0), reg(x86::rdi));
    probe_page(c, MemAccess::Write, slow);
    a.mov(scratch_at(1), x86::rdi);
    a.mov(x86::rdi, kT0);
    if (movs) {
        a.mov(kT1, scratch_at(3));
        a.mov(scratch_at(3), x86::rsi);
        a.mov(x86::rsi, kT1);
    }
    if (f.ab == 4) a.mov(x86::ecx, x86::ecx);
    if (movs)
        a.rep().movs(x86::ptr(x86::rdi, 0, n), x86::ptr(x86::rsi, 0, n));
    else
        a.rep().stos(x86::ptr(x86::rdi, 0, n), sized(x86::rax, n));
    // The guest's pointers move by the byte count.
    a.mov(reg(x86::rdi), scratch_at(1, f.ab));
    a.add(reg(x86::rdi), scratch_at(2, f.ab));
    if (movs) {
        a.mov(reg(x86::rsi), scratch_at(3, f.ab));
        a.add(reg(x86::rsi), scratch_at(2, f.ab));
    }
    a.bind(skip);
    if (live) c.restore_flags();
    a.jmp(done);
    a.bind(slow);
    if (live) c.restore_flags();
    c.call_helper(&helper_string, pack(f.op, f.n, f.ab, f.seg, f.rep));
    a.bind(done);
}

bool emit_string(EmitContext& c, Op op) {
    const Form f = form_of(*c.insn, op);
    if (f.n == 0 || f.n > 8 || (f.ab != 2 && f.ab != 4 && f.ab != 8)) return false;
    if (f.rep != kNone) {
        const bool flat_src = f.seg != FS && f.seg != GS;
        // Single-stepping and breakpoints need the helper's one iteration at a time.
        if ((c.mode & mode::kFlat) && !(c.mode & mode::kStepwise) && f.ab != 2 &&
            (f.op == kStos || (f.op == kMovs && flat_src))) {
            emit_rep_fast(c, f);
            return true;
        }
        c.call_helper(&helper_string, pack(f.op, f.n, f.ab, f.seg, f.rep));
        return true;
    }
    emit_single(c, f);
    return true;
}

bool emit_movs(EmitContext& c) { return emit_string(c, kMovs); }
bool emit_stos(EmitContext& c) { return emit_string(c, kStos); }
bool emit_lods(EmitContext& c) { return emit_string(c, kLods); }
bool emit_cmps(EmitContext& c) { return emit_string(c, kCmps); }
bool emit_scas(EmitContext& c) { return emit_string(c, kScas); }

bool is_string_form(const EmitContext& c) { return c.insn->zi.meta.category == ZYDIS_CATEGORY_STRINGOP; }
bool emit_movsd(EmitContext& c) { return is_string_form(c) ? emit_movs(c) : emit_sse_movsd(c); }
bool emit_cmpsd(EmitContext& c) { return is_string_form(c) ? emit_cmps(c) : emit_sse_cmpsd(c); }

} // namespace

void register_string(EmitTable& t) {
    for (ZydisMnemonic m : {ZYDIS_MNEMONIC_MOVSB, ZYDIS_MNEMONIC_MOVSW, ZYDIS_MNEMONIC_MOVSQ})
        t.set(m, &emit_movs);
    for (ZydisMnemonic m :
         {ZYDIS_MNEMONIC_STOSB, ZYDIS_MNEMONIC_STOSW, ZYDIS_MNEMONIC_STOSD, ZYDIS_MNEMONIC_STOSQ})
        t.set(m, &emit_stos);
    for (ZydisMnemonic m :
         {ZYDIS_MNEMONIC_LODSB, ZYDIS_MNEMONIC_LODSW, ZYDIS_MNEMONIC_LODSD, ZYDIS_MNEMONIC_LODSQ})
        t.set(m, &emit_lods);
    for (ZydisMnemonic m : {ZYDIS_MNEMONIC_CMPSB, ZYDIS_MNEMONIC_CMPSW, ZYDIS_MNEMONIC_CMPSQ})
        t.set(m, &emit_cmps);
    for (ZydisMnemonic m :
         {ZYDIS_MNEMONIC_SCASB, ZYDIS_MNEMONIC_SCASW, ZYDIS_MNEMONIC_SCASD, ZYDIS_MNEMONIC_SCASQ})
        t.set(m, &emit_scas);
    t.set(ZYDIS_MNEMONIC_MOVSD, &emit_movsd);
    t.set(ZYDIS_MNEMONIC_CMPSD, &emit_cmpsd);
}

} // namespace hayate
