// Emitters: shifts and rotates, including through carry and double shifts.
// The host instruction gives the exact result and flags (also for count 0,
// which leaves flags alone, and the undefined flags as this CPU leaves them).
#include "frontend/emit_table.h"

namespace hayate {

void register_shift(EmitTable& t) {
    t.set_native({ZYDIS_MNEMONIC_SHL, ZYDIS_MNEMONIC_SHR, ZYDIS_MNEMONIC_SAR, ZYDIS_MNEMONIC_ROL,
                  ZYDIS_MNEMONIC_ROR, ZYDIS_MNEMONIC_RCL, ZYDIS_MNEMONIC_RCR, ZYDIS_MNEMONIC_SHLD,
                  ZYDIS_MNEMONIC_SHRD, ZYDIS_MNEMONIC_SARX, ZYDIS_MNEMONIC_SHLX, ZYDIS_MNEMONIC_SHRX,
                  ZYDIS_MNEMONIC_RORX});
}

} // namespace hayate
