// Emitters: sse family.
#include "frontend/emit_table.h"

namespace hayate {

void register_sse(EmitTable& t) { (void)t; }

} // namespace hayate
