// PostPort is header-only apart from this translation unit, which keeps the
// one-.cpp-per-device layout of devices/meson.build.
#include "devices/post_port.h"
