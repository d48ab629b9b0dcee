#include "frontend/emit_table.h"
#include <cstring>

namespace hayate {

EmitTable::EmitTable() {
    for (int m = 0; m <= ZYDIS_MNEMONIC_MAX_VALUE; m++) {
        const char* name = ZydisMnemonicGetString(ZydisMnemonic(m));
        host_ids_[size_t(m)] =
            name ? asmjit::InstAPI::stringToInstId(asmjit::Arch::kX64, name, std::strlen(name)) : 0;
    }
    register_alu(*this);
    register_shift(*this);
    register_muldiv(*this);
    register_bit(*this);
    register_control(*this);
    register_stack(*this);
    register_string(*this);
    register_system(*this);
    register_sse(*this);
    register_x87(*this);
    register_xsave(*this);
    register_avx(*this);
    register_misc(*this);
}

void EmitTable::set_native(std::initializer_list<ZydisMnemonic> ms) {
    for (ZydisMnemonic m : ms) entries_[m] = {&emit_native_same, false};
}

const EmitTable& emit_table() {
    static const EmitTable table;
    return table;
}

bool emit_native_same(EmitContext& c) {
    asmjit::InstId id = emit_table().host_inst(c.insn->mnemonic());
    return id != 0 && c.emit_native(id);
}

} // namespace hayate
