// Paging instructions of the interpreter: STAC/CLAC (SMAP's EFLAGS.AC) and
// INVPCID. INVLPG and the control registers live in interpret.cpp.
#include "frontend/interpret.h"
#include "machine/log.h"

namespace hayate {

namespace {

bool is_canonical48(uint64_t v) { return int64_t(v << 16) >> 16 == int64_t(v); }

} // namespace

// STAC/CLAC: CPL 0 only (#UD otherwise, SDM vol. 2). EFLAGS.AC selects the
// SMAP state that keys translated blocks, so the block ends here.
uint64_t Interp::stac_clac() {
    if (s.eflags & flag::VM) return ud();
    if ((s.cr0 & cr0::PE) && s.cpl() != 0) return ud();
    if (in.mnemonic() == ZYDIS_MNEMONIC_STAC)
        s.eflags |= flag::AC;
    else
        s.eflags &= ~flag::AC;
    return kHelperExitNext;
}

// INVPCID r, m128 (SDM vol. 2). The TLB only ever holds translations of the
// current PCID (a CR3 write drops the rest), so each type maps onto a flush
// at least as wide as the one asked for.
uint64_t Interp::invpcid() {
    if (s.eflags & flag::VM) return ud();
    if ((s.cr0 & cr0::PE) && s.cpl() != 0) return gp();
    uint64_t type;
    if (!read(0, type)) return ud();
    uint64_t desc[2] = {};
    if (!cpu.read_linear(t0, desc, 16, user())) return kHelperExitHere;
    const uint64_t pcid = desc[0] & 0xfff;
    const uint64_t address = desc[1];
    if (type > 3) return gp();
    if (desc[0] >> 12) return gp();
    if (type <= 1 && pcid != 0 && !(s.cr4 & cr4::PCIDE)) return gp();
    switch (type) {
    case 0: // one address in one PCID, except global translations
        if (!is_canonical48(address)) return gp();
        cpu.flush_tlb_page(address);
        break;
    case 1: // one PCID, except global translations
    case 3: // every PCID, except global translations
        cpu.flush_tlb_nonglobal();
        break;
    default: // everything, global translations included
        cpu.flush_tlb();
        break;
    }
    return kHelperExitNext;
}

} // namespace hayate
