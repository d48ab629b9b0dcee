// Emitters: shift family.
#include "frontend/emit_table.h"

namespace hayate {

void register_shift(EmitTable& t) { (void)t; }

} // namespace hayate
