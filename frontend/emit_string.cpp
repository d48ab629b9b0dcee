// Emitters: string family.
#include "frontend/emit_table.h"

namespace hayate {

void register_string(EmitTable& t) { (void)t; }

} // namespace hayate
