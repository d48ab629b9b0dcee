// Emitters: muldiv family.
#include "frontend/emit_table.h"

namespace hayate {

void register_muldiv(EmitTable& t) { (void)t; }

} // namespace hayate
