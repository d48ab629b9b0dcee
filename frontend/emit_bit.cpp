// Emitters: bit family.
#include "frontend/emit_table.h"

namespace hayate {

void register_bit(EmitTable& t) { (void)t; }

} // namespace hayate
