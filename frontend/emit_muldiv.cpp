// Emitters: multiply and divide. MUL/IMUL run as the host instruction. DIV and
// IDIV check for #DE first (the host would deliver SIGFPE instead); IDIV
// dividends that are not a sign-extended single-width value go to a helper.
#include "frontend/emit_table.h"
#include "frontend/helpers.h"

namespace hayate {

namespace {

using namespace asmjit;

x86::Gp sized(x86::Gp r, unsigned bytes) {
    switch (bytes) {
    case 1: return r.r8();
    case 2: return r.r16();
    case 4: return r.r32();
    default: return r.r64();
    }
}

// Emits the divide with its divisor in T1 (zero-extended to 64 bits).
void emit_divide(EmitContext& c, unsigned size, bool is_signed, Label de) {
    auto& a = c.a;
    const uint64_t arg = size | (is_signed ? 0x100u : 0u);
    x86::Gp d = sized(kT1, size);
    a.test(d, d);
    a.jz(de);
    if (!is_signed) {
        switch (size) {
        case 1:
            a.movzx(kT0.r32(), x86::ax);
            a.shr(kT0.r32(), 8);
            a.cmp(kT0.r32(), kT1.r32());
            break;
        case 2:
            a.movzx(kT0.r32(), x86::dx);
            a.cmp(kT0.r32(), kT1.r32());
            break;
        case 4: a.cmp(x86::edx, kT1.r32()); break;
        default: a.cmp(x86::rdx, kT1); break;
        }
        a.jae(de);
        a.div(d);
        return;
    }
    Label wide = a.newLabel(), go = a.newLabel(), done = a.newLabel();
    // Dividend representable in one width? Then only MIN / -1 overflows.
    switch (size) {
    case 1:
        a.movsx(kT0.r32(), x86::al);
        a.cmp(kT0.r16(), x86::ax);
        break;
    case 2:
        a.movsx(kT0.r32(), x86::ax);
        a.sar(kT0.r32(), 16);
        a.cmp(kT0.r16(), x86::dx);
        break;
    case 4:
        a.mov(kT0.r32(), x86::eax);
        a.sar(kT0.r32(), 31);
        a.cmp(kT0.r32(), x86::edx);
        break;
    default:
        a.mov(kT0, x86::rax);
        a.sar(kT0, 63);
        a.cmp(kT0, x86::rdx);
        break;
    }
    a.jne(wide);
    a.cmp(d, Imm(-1));
    a.jne(go);
    switch (size) {
    case 1: a.cmp(x86::al, Imm(0x80)); break;
    case 2: a.cmp(x86::ax, Imm(0x8000)); break;
    case 4: a.cmp(x86::eax, Imm(int32_t(0x80000000))); break;
    default:
        a.mov(kT0, Imm(int64_t(INT64_MIN)));
        a.cmp(x86::rax, kT0);
        break;
    }
    a.je(de);
    a.bind(go);
    a.idiv(d);
    a.jmp(done);
    a.bind(wide);
    a.mov(kT0, kT1);
    c.restore_flags(); // a #DE raised by the helper pushes the flags DIV started with
    c.call_helper(&helper_divide, arg, true);
    a.bind(done);
}

bool emit_div(EmitContext& c) {
    const Insn& in = *c.insn;
    const bool is_signed = in.mnemonic() == ZYDIS_MNEMONIC_IDIV;
    const ZydisDecodedOperand& src = in.ops[0];
    const unsigned size = src.size / 8;
    auto& a = c.a;
    Label de = a.newLabel();
    // #DE is a fault: the frame holds the flags from before the checks below.
    c.save_flags();
    c.defer([&c, de]() {
        c.a.bind(de);
        c.restore_flags();
        c.raise_exception(0);
    });
    auto load_and_divide = [&c, size, is_signed, de](const x86::Mem& m) {
        x86::Mem mm = m;
        mm.setSize(size);
        if (size >= 4)
            c.a.mov(sized(kT1, size), mm);
        else
            c.a.movzx(kT1.r32(), mm);
        emit_divide(c, size, is_signed, de);
    };
    if (src.type == ZYDIS_OPERAND_TYPE_MEMORY) {
        c.access_memory(src, MemAccess::Read, load_and_divide);
        return true;
    }
    GuestOperand g = c.gpr(src.reg.value);
    if (g.guest < 0) return false;
    if (g.high_byte) {
        // AH..BH cannot be the source of a REX-encoded MOVZX; DIV's flags are undefined anyway.
        a.mov(kT1.r32(), x86::gpd(uint32_t(g.guest)));
        a.shr(kT1.r32(), 8);
        a.movzx(kT1.r32(), kT1.r8());
    } else {
        c.load_gpr(kT1, g.guest, size);
    }
    emit_divide(c, size, is_signed, de);
    return true;
}

} // namespace

void register_muldiv(EmitTable& t) {
    t.set_native({ZYDIS_MNEMONIC_MUL, ZYDIS_MNEMONIC_IMUL, ZYDIS_MNEMONIC_MULX});
    t.set(ZYDIS_MNEMONIC_DIV, &emit_div);
    t.set(ZYDIS_MNEMONIC_IDIV, &emit_div);
}

} // namespace hayate
