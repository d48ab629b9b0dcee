// Emitters: system family.
#include "frontend/emit_table.h"

namespace hayate {

void register_system(EmitTable& t) { (void)t; }

} // namespace hayate
