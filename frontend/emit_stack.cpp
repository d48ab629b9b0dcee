// Emitters: stack family.
#include "frontend/emit_table.h"

namespace hayate {

void register_stack(EmitTable& t) { (void)t; }

} // namespace hayate
