#include "machine/x87.h"

namespace hayate::x87 {

unsigned tag_of(const uint8_t reg[10]) {
    uint64_t mantissa;
    std::memcpy(&mantissa, reg, 8);
    const unsigned exponent = (reg[8] | (reg[9] << 8)) & 0x7fff;
    if (exponent == 0x7fff) return 2;
    if (exponent == 0) return mantissa == 0 ? 1 : 2;
    return (mantissa >> 63) ? 0 : 2; // J bit clear: unnormal
}

uint16_t full_tag_word(const CpuState& s, uint8_t empty_mask) {
    const unsigned t = top(s);
    uint16_t word = 0;
    for (unsigned phys = 0; phys < 8; phys++) {
        const unsigned tag = (empty_mask >> phys) & 1 ? 3 : tag_of(st(s, (phys - t) & 7));
        word |= uint16_t(tag << (2 * phys));
    }
    return word;
}

uint8_t abridged_tag(uint16_t full) {
    uint8_t a = 0;
    for (unsigned phys = 0; phys < 8; phys++)
        if (((full >> (2 * phys)) & 3) != 3) a |= uint8_t(1u << phys);
    return a;
}

void set_tags(CpuState& s, uint8_t empty_mask) { put16(s, kImageFtw, full_tag_word(s, empty_mask)); }

static void clear_pointers(CpuState& s) {
    s.x87_fip = s.x87_fdp = 0;
    s.x87_fcs = s.x87_fds = s.x87_fop = 0;
}

void init(CpuState& s) {
    set_fcw(s, kFcwInit);
    set_fsw(s, 0);
    put16(s, kImageFtw, 0xffff);
    clear_pointers(s);
}

void reset(CpuState& s) {
    std::memset(s.x87_image, 0, sizeof s.x87_image);
    set_fcw(s, 0x0040);
    put16(s, kImageFtw, 0x5555);
    clear_pointers(s);
}

} // namespace hayate::x87
