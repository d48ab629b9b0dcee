// Emitters: bit family. BT/BTS/BTR/BTC, bit scans and counts, BMI1/BMI2 all
// run as the host instruction. The one exception is BTx with a memory operand
// and a register bit offset: the guest's bit string may reach far beyond the
// operand, so the guest address is adjusted here and the host instruction
// gets the offset masked to the operand width (it must never address the bit
// string on a host pointer, which is only valid inside the probed page).
#include "frontend/emit_table.h"

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

// BTx m, r: operand at ea + (sext(offset) >> log2(width)) * width/8 and bit
// offset & (width - 1). ZF and the other flags BTx leaves alone survive; LOCK
// stays a locked host instruction.
bool emit_bt_mem_reg(EmitContext& c, InstId id) {
    const Insn& in = *c.insn;
    const ZydisDecodedOperand& mem = in.ops[0];
    GuestOperand off = c.gpr(in.ops[1].reg.value);
    const unsigned width = in.operand_width();
    const unsigned bytes = width / 8;
    if (off.guest < 0 || off.high_byte || off.size != bytes || (bytes != 2 && bytes != 4 && bytes != 8))
        return false;
    auto& a = c.a;
    int seg = zydis_seg_index(mem.mem.segment);
    if (seg < 0) seg = DS;

    const bool live = c.flags_live_before();
    if (live) c.save_flags();
    c.effective_address(mem, kT0);
    // T1 = sign-extended bit offset, then the element index.
    if (jit::guest_in_host_reg(off.guest)) {
        x86::Gp r = c.host_gpr(off.guest, bytes);
        if (bytes == 2)
            a.movsx(kT1, r);
        else if (bytes == 4)
            a.movsxd(kT1, r);
        else
            a.mov(kT1, r);
    } else {
        x86::Mem slot = jit::guest_gpr_slot(off.guest, bytes);
        if (bytes == 2)
            a.movsx(kT1, slot);
        else if (bytes == 4)
            a.movsxd(kT1, slot);
        else
            a.mov(kT1, slot);
    }
    a.sar(kT1, Imm(__builtin_ctz(width)));
    const uint32_t scale = uint32_t(__builtin_ctz(bytes));
    switch (in.address_width()) {
    case 64: a.lea(kT0, x86::ptr(kT0, kT1, scale)); break;
    case 32: a.lea(kT0.r32(), x86::ptr(kT0, kT1, scale)); break;
    default:
        a.lea(kT0.r32(), x86::ptr(kT0, kT1, scale));
        a.movzx(kT0.r32(), kT0.r16());
        break;
    }
    c.add_segment_base(kT0, seg, bytes, id == x86::Inst::kIdBt ? MemAccess::Read : MemAccess::ReadWrite);
    // The bit offset inside the operand waits in a scratch slot.
    c.load_gpr(kT1, off.guest, bytes);
    a.and_(kT1.r32(), Imm(width - 1));
    a.mov(jit::state_field(offsetof(CpuState, scratch) + 8), kT1);
    if (live) c.restore_flags();

    const MemAccess acc = id == x86::Inst::kIdBt ? MemAccess::Read : MemAccess::ReadWrite;
    const bool lock = in.has_lock();
    x86::Assembler* as = &a;
    c.access_linear(bytes, acc, seg, [as, id, bytes, lock](const x86::Mem& m) {
        as->mov(kT1, jit::state_field(offsetof(CpuState, scratch) + 8));
        x86::Mem hm = m;
        hm.setSize(bytes);
        if (lock) as->lock();
        as->emit(id, hm, sized(kT1, bytes));
    });
    return true;
}

bool emit_bt(EmitContext& c) {
    const Insn& in = *c.insn;
    InstId id = emit_table().host_inst(in.mnemonic());
    if (id == 0) return false;
    if (in.visible_operands() >= 2 && in.ops[0].type == ZYDIS_OPERAND_TYPE_MEMORY &&
        in.ops[1].type == ZYDIS_OPERAND_TYPE_REGISTER)
        return emit_bt_mem_reg(c, id);
    return c.emit_native(id);
}

const CpuFeatures::X86& host_features() { return CpuInfo::host().features().x86(); }

// Instructions the host may lack: without host support they are #UD (the
// guest's CPUID does not advertise them then).
bool emit_popcnt(EmitContext& c) { return host_features().hasPOPCNT() && emit_native_same(c); }
bool emit_bmi1(EmitContext& c) {
    // BEXTR with an immediate is AMD TBM (XOP), not modelled.
    return c.insn->zi.encoding == ZYDIS_INSTRUCTION_ENCODING_VEX && host_features().hasBMI() &&
           emit_native_same(c);
}
bool emit_bmi2(EmitContext& c) { return host_features().hasBMI2() && emit_native_same(c); }

} // namespace

void register_bit(EmitTable& t) {
    for (ZydisMnemonic m : {ZYDIS_MNEMONIC_BT, ZYDIS_MNEMONIC_BTS, ZYDIS_MNEMONIC_BTR, ZYDIS_MNEMONIC_BTC})
        t.set(m, &emit_bt);
    // LZCNT/TZCNT run as BSR/BSF on hosts without ABM/BMI1, like the guest CPU
    // they then model.
    t.set_native({ZYDIS_MNEMONIC_BSF, ZYDIS_MNEMONIC_BSR, ZYDIS_MNEMONIC_LZCNT, ZYDIS_MNEMONIC_TZCNT});
    t.set(ZYDIS_MNEMONIC_POPCNT, &emit_popcnt);
    for (ZydisMnemonic m : {ZYDIS_MNEMONIC_ANDN, ZYDIS_MNEMONIC_BEXTR, ZYDIS_MNEMONIC_BLSI,
                            ZYDIS_MNEMONIC_BLSMSK, ZYDIS_MNEMONIC_BLSR})
        t.set(m, &emit_bmi1);
    for (ZydisMnemonic m :
         {ZYDIS_MNEMONIC_BZHI, ZYDIS_MNEMONIC_PDEP, ZYDIS_MNEMONIC_PEXT, ZYDIS_MNEMONIC_RORX,
          ZYDIS_MNEMONIC_SARX, ZYDIS_MNEMONIC_SHLX, ZYDIS_MNEMONIC_SHRX, ZYDIS_MNEMONIC_MULX})
        t.set(m, &emit_bmi2);
}

} // namespace hayate
