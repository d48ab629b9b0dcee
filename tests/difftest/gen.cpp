// Operand and value generation shared by every form.
#include "tests/difftest/gen.h"
#include <cpuid.h>
#include <cstring>

namespace difftest {

namespace {

uint64_t mask_of(unsigned bits) { return bits >= 64 ? ~0ull : (1ull << bits) - 1; }

const uint32_t kF32Special[] = {
    0x00000000, 0x80000000, 0x00000001, 0x80000001, 0x007fffff, 0x807fffff, 0x00800000, 0x80800000,
    0x7f7fffff, 0xff7fffff, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00000, 0x7f800001, 0xff800001,
    0x7fa00000, 0x7fffffff, 0x3f800000, 0xbf800000, 0x3fc00000, 0xbfc00000, 0x3f000000, 0x40200000,
    0x4f000000, 0xcf000000, 0x4effffff, 0xcf000001, 0x5f000000, 0xdf000000, 0x5effffff, 0x47000000,
    0x46fffe00, 0x4b000000, 0x4b7fffff, 0x3effffff, 0x3f400000, 0x40400000, 0xc0400000, 0x477fff00};

const uint64_t kF64Special[] = {
    0x0000000000000000, 0x8000000000000000, 0x0000000000000001, 0x8000000000000001, 0x000fffffffffffff,
    0x0010000000000000, 0x8010000000000000, 0x7fefffffffffffff, 0xffefffffffffffff, 0x7ff0000000000000,
    0xfff0000000000000, 0x7ff8000000000000, 0xfff8000000000000, 0x7ff0000000000001, 0xfff0000000000001,
    0x7ff4000000000000, 0x7fffffffffffffff, 0x3ff0000000000000, 0xbff0000000000000, 0x3ff8000000000000,
    0xbff8000000000000, 0x3fe0000000000000, 0x4004000000000000, 0x41e0000000000000, 0xc1e0000000000000,
    0x41dfffffffc00000, 0xc1e0000000200000, 0x41efffffffe00000, 0x43e0000000000000, 0xc3e0000000000000,
    0x43dfffffffffffff, 0x3fdfffffffffffff, 0x3fe8000000000000, 0x4008000000000000, 0x36a0000000000000,
    0x47efffffe0000000, 0x3810000000000000, 0x36a0000000000001, 0x4330000000000000, 0x40dfffc000000000};

} // namespace

unsigned host_features() {
    unsigned a, b, c, d, f = 0;
    if (__get_cpuid(1, &a, &b, &c, &d)) {
        if (c & (1u << 23)) f |= feat::kPopcnt;
        if (c & (1u << 22)) f |= feat::kMovbe;
        if (c & (1u << 13)) f |= feat::kCx16;
        if (d & (1u << 23)) f |= feat::kMmx;
        if (c & (1u << 0)) f |= feat::kSse3;
        if (c & (1u << 1)) f |= feat::kPclmul;
        if (c & (1u << 9)) f |= feat::kSsse3;
        if (c & (1u << 19)) f |= feat::kSse41;
        if (c & (1u << 20)) f |= feat::kSse42;
        if (c & (1u << 25)) f |= feat::kAes;
    }
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
        if (b & (1u << 3)) f |= feat::kBmi1;
        if (b & (1u << 8)) f |= feat::kBmi2;
        if ((b & (1u << 5)) && host_has_avx()) f |= feat::kAvx2;
    }
    if (__get_cpuid(1, &a, &b, &c, &d) && host_has_avx()) {
        f |= feat::kAvx;
        if (c & (1u << 12)) f |= feat::kFma;
        if (c & (1u << 29)) f |= feat::kF16c;
    }
    if (__get_cpuid(0x80000001, &a, &b, &c, &d) && (c & (1u << 5))) f |= feat::kLzcnt;
    return f;
}

std::string inst_name(InstId id) {
    asmjit::String s;
    asmjit::InstAPI::instIdToString(asmjit::Arch::kX64, id, s);
    return s.data();
}

x86::Gp gp_of(int id, unsigned bits, bool high) {
    switch (bits) {
    case 8: return high ? x86::Gp(x86::gpb_hi(uint32_t(id))) : x86::Gp(x86::gpb(uint32_t(id)));
    case 16: return x86::gpw(uint32_t(id));
    case 32: return x86::gpd(uint32_t(id));
    default: return x86::gpq(uint32_t(id));
    }
}

const char* width_name(unsigned bits) {
    switch (bits) {
    case 8: return "8";
    case 16: return "16";
    case 32: return "32";
    case 64: return "64";
    case 128: return "128";
    default: return "?";
    }
}

Gen::Gen(Rng& r, Case& cs, x86::Assembler& as) : rng(r), c(cs), a(as) {}

uint64_t Gen::value(unsigned bits) {
    uint64_t m = mask_of(bits);
    uint64_t top = 1ull << (bits - 1);
    unsigned r = unsigned(rng.below(100));
    if (r < 45) {
        const uint64_t edges[] = {0,
                                  1,
                                  2,
                                  m,
                                  m - 1,
                                  top,
                                  top - 1,
                                  top + 1,
                                  0x8080808080808080ull & m,
                                  0x7f7f7f7f7f7f7f7full & m,
                                  m ^ (m >> (bits / 2)),
                                  1ull << rng.below(bits),
                                  (1ull << rng.below(bits)) - 1,
                                  0x5555555555555555ull & m,
                                  0xaaaaaaaaaaaaaaaaull & m,
                                  0x0101010101010101ull & m,
                                  top >> 1,
                                  m >> 1 ^ 1};
        return edges[rng.below(std::size(edges))] & m;
    }
    if (r < 60) return (rng.chance(50) ? rng.below(16) : -rng.below(16)) & m;
    return rng.next() & m;
}

int64_t Gen::simm(unsigned bits) {
    uint64_t v = value(bits);
    if (bits >= 64) return int64_t(v);
    uint64_t sign = 1ull << (bits - 1);
    return int64_t((v ^ sign) - sign);
}

uint64_t Gen::count(unsigned width) {
    if (rng.chance(60)) {
        const uint64_t edges[] = {0,  1,  width - 1, width, width + 1, 255, 31, 32, 33, 63,
                                  64, 65, 7,         8,     9,         15,  16, 17, 2};
        return edges[rng.below(std::size(edges))];
    }
    return rng.below(256);
}

uint64_t Gen::f32() {
    unsigned r = unsigned(rng.below(100));
    if (r < 40) return kF32Special[rng.below(std::size(kF32Special))];
    if (r < 85) { // moderate finite values
        uint64_t exp = 127 - 30 + rng.below(61);
        return (rng.next() & 0x807fffff) | (exp << 23);
    }
    return rng.next() & 0xffffffff;
}

uint64_t Gen::f64() {
    unsigned r = unsigned(rng.below(100));
    if (r < 40) return kF64Special[rng.below(std::size(kF64Special))];
    if (r < 85) {
        uint64_t exp = 1023 - 70 + rng.below(141);
        return (rng.next() & 0x800fffffffffffffull) | (exp << 52);
    }
    return rng.next();
}

void Gen::set_gpr_part(int id, unsigned bits, bool high, uint64_t v) {
    uint64_t& r = c.init.gpr[id];
    if (high) {
        r = (r & ~0xff00ull) | ((v & 0xff) << 8);
        return;
    }
    uint64_t m = mask_of(bits);
    r = (r & ~m) | (v & m);
}

int Gen::pick_data_reg(bool eight_bit_legacy) {
    for (int tries = 0; tries < 100; tries++) {
        int code = int(rng.below(eight_bit_legacy ? 8 : 16));
        int phys = eight_bit_legacy ? (code & 3) : code;
        if (!eight_bit_legacy && code == 4 && !allow_rsp) continue;
        if (legacy8 && !eight_bit_legacy && code >= 8) continue;
        if (used & (1u << phys)) continue;
        return code;
    }
    for (int code = 0; code < 16; code++)
        if (!(used & (1u << code)) && code != 4) return code;
    return 0;
}

x86::Gp Gen::gp(unsigned bits) { return gp_val(bits, value(bits)); }

x86::Gp Gen::gp_val(unsigned bits, uint64_t v) {
    bool l8 = bits == 8 && legacy8;
    int code = pick_data_reg(l8);
    bool high = l8 && code >= 4;
    int phys = l8 ? (code & 3) : code;
    used |= 1u << phys;
    set_gpr_part(phys, bits, high, v);
    return gp_of(phys, bits, high);
}

x86::Gp Gen::fixed(int id, unsigned bits, uint64_t v) {
    bool high = bits == 8 && id >= 4 && id < 8 && legacy8;
    int phys = high ? id - 4 : id;
    used |= 1u << phys;
    set_gpr_part(phys, bits, high, v);
    return gp_of(phys, bits, high);
}

int Gen::pick_addr_reg(bool index) {
    for (int tries = 0; tries < 100; tries++) {
        int id = int(rng.below(legacy8 ? 8 : 16));
        if (id == 4 && (index || !allow_rsp)) continue;
        if (used & (1u << id)) continue;
        return id;
    }
    return -1;
}

void Gen::put(uint64_t offset, const void* p, size_t n) { std::memcpy(c.data.data() + offset, p, n); }
void Gen::put64(uint64_t offset, uint64_t v, unsigned bytes) {
    std::memcpy(c.data.data() + offset, &v, bytes);
}
uint64_t Gen::get64(uint64_t offset, unsigned bytes) const {
    uint64_t v = 0;
    std::memcpy(&v, c.data.data() + offset, bytes);
    return v;
}

x86::Mem Gen::mem(unsigned bytes, unsigned align, uint32_t lo, uint32_t hi) {
    uint64_t off = lo + rng.below(hi - lo - bytes);
    off &= ~uint64_t(align - 1);
    if (align == 1 && bytes > 1 && rng.chance(15)) {
        uint64_t page = (lo + 0xfff + rng.below(hi - lo)) & ~0xfffull;
        if (page > lo + 16 && page + 16 < hi) off = page - 1 - rng.below(bytes - 1);
    }
    last_offset = off;
    uint64_t addr = kDataAddr + off;
    if (allow_riprel && rng.chance(5)) {
        x86::Mem m = x86::ptr(addr, bytes);
        m.setRel();
        return m;
    }
    bool addr32 = allow_addr32 && rng.chance(10);
    int base = pick_addr_reg(false);
    if (base < 0) {
        x86::Mem m = x86::ptr(addr, bytes);
        m.setRel();
        return m;
    }
    used |= 1u << base;
    int index = rng.chance(30) ? pick_addr_reg(true) : -1;
    unsigned shift = unsigned(rng.below(4));
    int64_t idx = 0;
    if (index >= 0) {
        used |= 1u << index;
        idx = int64_t(rng.below(129)) - 64;
    }
    unsigned r = unsigned(rng.below(10));
    int32_t disp = r < 3 ? 0 : r < 7 ? int32_t(rng.below(256)) - 128 : int32_t(rng.below(0x20000)) - 0x10000;
    uint64_t bv = addr - uint64_t(int64_t(disp)) - (uint64_t(idx) << shift);
    if (addr32) {
        c.init.gpr[base] = (rng.next() << 32) | (bv & 0xffffffff);
        if (index >= 0) c.init.gpr[index] = (rng.next() << 32) | (uint64_t(idx) & 0xffffffff);
        if (index >= 0)
            return x86::ptr(x86::gpd(uint32_t(base)), x86::gpd(uint32_t(index)), shift, disp, bytes);
        return x86::ptr(x86::gpd(uint32_t(base)), disp, bytes);
    }
    c.init.gpr[base] = bv;
    if (index >= 0) {
        c.init.gpr[index] = uint64_t(idx);
        return x86::ptr(x86::gpq(uint32_t(base)), x86::gpq(uint32_t(index)), shift, disp, bytes);
    }
    return x86::ptr(x86::gpq(uint32_t(base)), disp, bytes);
}

x86::Mem Gen::mem_val(unsigned bytes, uint64_t v, unsigned align) {
    x86::Mem m = mem(bytes, align);
    put64(last_offset, v, bytes);
    return m;
}

x86::Mem Gen::mem_any(bool addr32) {
    int base = rng.chance(90) ? pick_addr_reg(false) : -1;
    int index = rng.chance(50) ? pick_addr_reg(true) : -1;
    unsigned shift = unsigned(rng.below(4));
    int32_t disp = int32_t(simm(rng.chance(50) ? 8 : 32));
    auto reg = [&](int id) -> x86::Gp {
        used |= 1u << id;
        c.init.gpr[id] = value(64);
        return addr32 ? x86::Gp(x86::gpd(uint32_t(id))) : x86::Gp(x86::gpq(uint32_t(id)));
    };
    if (base >= 0 && index >= 0 && base != index) return x86::ptr(reg(base), reg(index), shift, disp);
    if (base >= 0) return x86::ptr(reg(base), disp);
    if (index >= 0) {
        x86::Mem m = x86::ptr(uint64_t(int64_t(disp)), reg(index), shift);
        m.setAbs();
        return m;
    }
    x86::Mem m = x86::ptr(uint64_t(uint32_t(disp)));
    m.setAbs();
    return m;
}

void Gen::fill_lanes(uint8_t* dst, Lanes k) {
    switch (k) {
    case Lanes::F32:
        for (int i = 0; i < 4; i++) {
            uint32_t v = uint32_t(f32());
            std::memcpy(dst + 4 * i, &v, 4);
        }
        break;
    case Lanes::F64:
        for (int i = 0; i < 2; i++) {
            uint64_t v = f64();
            std::memcpy(dst + 8 * i, &v, 8);
        }
        break;
    case Lanes::Bytes:
        for (int i = 0; i < 2; i++) {
            uint64_t v = rng.next();
            std::memcpy(dst + 8 * i, &v, 8);
        }
        break;
    default: {
        unsigned bits = k == Lanes::I8 ? 8 : k == Lanes::I16 ? 16 : k == Lanes::I32 ? 32 : 64;
        for (unsigned i = 0; i < 128 / bits; i++) {
            uint64_t v = value(bits);
            std::memcpy(dst + i * bits / 8, &v, bits / 8);
        }
    }
    }
}

void Gen::fill_xmm(int id, Lanes k) { fill_lanes(c.init.xmm[id], k); }

x86::Xmm Gen::xmm(Lanes k) {
    int id = 0;
    for (int tries = 0; tries < 100; tries++) {
        id = int(rng.below(16));
        if (!(used_xmm & (1u << id))) break;
    }
    used_xmm |= 1u << id;
    fill_xmm(id, k);
    return x86::xmm(uint32_t(id));
}

x86::Mem Gen::mem_lanes(unsigned bytes, Lanes k, unsigned align) {
    x86::Mem m = mem(bytes, align);
    uint8_t tmp[16];
    fill_lanes(tmp, k);
    put(last_offset, tmp, bytes);
    return m;
}

void Gen::random_mxcsr() {
    uint32_t m = 0x1f80;
    m = (m & ~0x6000u) | uint32_t(rng.below(4) << 13);
    if (rng.chance(10)) m |= 0x8000; // FTZ
    if (rng.chance(10)) m |= 0x40;   // DAZ
    if (rng.chance(25)) m |= uint32_t(rng.below(64));
    if (rng.chance(8)) m &= ~uint32_t(rng.below(64) << 7); // some exceptions unmasked: #XM
    c.init.mxcsr = m;
}

void Gen::random_flags() { c.init.rflags = 2 | (rng.next() & 0x8d5); }
void Gen::set_df(bool df) { c.init.rflags = df ? (c.init.rflags | 0x400) : (c.init.rflags & ~0x400ull); }

} // namespace difftest
