#include "machine/e820.h"

namespace hayate {

std::vector<E820Entry> pc_e820_map(const RamLayout& ram, uint64_t firmware_tail_bytes) {
    std::vector<E820Entry> map;
    map.push_back({0, kEbdaBase, E820Type::Usable});
    map.push_back({kEbdaBase, 0xa0000 - kEbdaBase, E820Type::Reserved});
    map.push_back({kBiosAreaBase, kBiosAreaEnd - kBiosAreaBase, E820Type::Reserved});
    const uint64_t usable_end = ram.below_4g - firmware_tail_bytes;
    if (usable_end > kHighMemoryBase)
        map.push_back({kHighMemoryBase, usable_end - kHighMemoryBase, E820Type::Usable});
    if (firmware_tail_bytes) map.push_back({usable_end, firmware_tail_bytes, E820Type::Reserved});
    if (ram.above_4g) map.push_back({k4GiB, ram.above_4g, E820Type::Usable});
    return map;
}

} // namespace hayate
