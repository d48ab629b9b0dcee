// Emitters: misc family.
#include "frontend/emit_table.h"

namespace hayate {

void register_misc(EmitTable& t) { (void)t; }

} // namespace hayate
