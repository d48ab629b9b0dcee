// Emitters: alu family.
#include "frontend/emit_table.h"

namespace hayate {

void register_alu(EmitTable& t) { (void)t; }

} // namespace hayate
