// Emitters: control family.
#include "frontend/emit_table.h"

namespace hayate {

void register_control(EmitTable& t) { (void)t; }

} // namespace hayate
