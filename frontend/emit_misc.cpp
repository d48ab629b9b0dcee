// Emitters: misc family (XLAT, the CET hints of the reserved-NOP space).
#include "frontend/emit_table.h"

namespace hayate {

namespace {

using namespace asmjit;

// XLAT: AL = [seg:rBX + zero-extended AL]. The address is formed with LEA so
// that the guest's flags survive (XLAT writes none).
bool emit_xlat(EmitContext& c) {
    const Insn& in = *c.insn;
    int seg = DS;
    for (unsigned i = 0; i < in.zi.operand_count; ++i) {
        if (in.ops[i].type != ZYDIS_OPERAND_TYPE_MEMORY) continue;
        int s = zydis_seg_index(in.ops[i].mem.segment);
        if (s >= 0) seg = s;
    }
    auto& a = c.a;
    a.movzx(kT0.r32(), x86::al);
    switch (in.address_width()) {
    case 16:
        a.lea(kT0.r32(), x86::ptr(kT0.r64(), x86::rbx));
        a.movzx(kT0.r32(), kT0.r16());
        break;
    case 32: a.lea(kT0.r32(), x86::ptr(kT0.r64(), x86::rbx)); break;
    default: a.lea(kT0, x86::ptr(kT0, x86::rbx)); break;
    }
    c.add_segment_base(kT0, seg, 1, MemAccess::Read);
    c.access_linear(1, MemAccess::Read, seg, [&c](const x86::Mem& m) {
        x86::Mem b = m;
        b.setSize(1);
        c.a.mov(x86::al, b);
    });
    return true;
}

// ENDBR32/ENDBR64 and RDSSPD/RDSSPQ sit in the reserved-NOP space (0F 1E):
// a CPU without CET (CPUID does not report it) executes them as NOPs, which
// is what CET-enabled code (compiled with -fcf-protection) relies on.
bool emit_cet_hint_nop(EmitContext&) { return true; }

} // namespace

void register_misc(EmitTable& t) {
    t.set(ZYDIS_MNEMONIC_XLAT, &emit_xlat);
    for (ZydisMnemonic m :
         {ZYDIS_MNEMONIC_ENDBR32, ZYDIS_MNEMONIC_ENDBR64, ZYDIS_MNEMONIC_RDSSPD, ZYDIS_MNEMONIC_RDSSPQ})
        t.set(m, &emit_cet_hint_nop);
}

} // namespace hayate
