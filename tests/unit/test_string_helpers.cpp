// The host-memory routines behind REP MOVS/STOS and CMPS/SCAS flags, against
// literal element-by-element references and the host's own CMP.
#include "frontend/string_helpers.h"
#include <catch2/catch.hpp>
#include <cstring>
#include <random>
#include <vector>

using namespace hayate;

namespace {

// x86 MOVS, one element after the other.
void reference_move(uint8_t* dst, const uint8_t* src, size_t bytes, unsigned n, bool backward) {
    const size_t count = bytes / n;
    for (size_t i = 0; i < count; i++) {
        size_t off = backward ? bytes - (i + 1) * n : i * n;
        uint64_t t = 0;
        std::memcpy(&t, src + off, n);
        std::memcpy(dst + off, &t, n);
    }
}

template <typename T> uint64_t host_cmp_flags(T a, T b) {
    uint64_t f;
    // Step over the red zone before pushing.
    asm volatile("sub $128, %%rsp\n\t"
                 "cmp %2, %1\n\t"
                 "pushfq\n\t"
                 "pop %0\n\t"
                 "add $128, %%rsp"
                 : "=r"(f)
                 : "r"(a), "r"(b)
                 : "cc");
    return f & flag::kArith;
}

uint64_t host_flags(uint64_t a, uint64_t b, unsigned n) {
    switch (n) {
    case 1: return host_cmp_flags<uint8_t>(uint8_t(a), uint8_t(b));
    case 2: return host_cmp_flags<uint16_t>(uint16_t(a), uint16_t(b));
    case 4: return host_cmp_flags<uint32_t>(uint32_t(a), uint32_t(b));
    default: return host_cmp_flags<uint64_t>(a, b);
    }
}

} // namespace

TEST_CASE("move_elements matches element-by-element MOVS for every overlap", "[string]") {
    constexpr size_t kBuf = 512;
    std::vector<uint8_t> init(kBuf);
    for (size_t i = 0; i < kBuf; i++) init[i] = uint8_t(i * 7 + 3);
    for (unsigned n : {1u, 2u, 4u, 8u})
        for (bool backward : {false, true})
            for (size_t count = 0; count <= 24; count++)
                for (int dist = -70; dist <= 70; dist++) {
                    const size_t bytes = count * n;
                    const size_t src_off = 128;
                    const size_t dst_off = size_t(int(src_off) + dist);
                    std::vector<uint8_t> want = init, got = init;
                    reference_move(want.data() + dst_off, want.data() + src_off, bytes, n, backward);
                    strmem::move_elements(got.data() + dst_off, got.data() + src_off, bytes, n, backward);
                    INFO("n=" << n << " backward=" << backward << " count=" << count << " dist=" << dist);
                    REQUIRE(got == want);
                }
}

TEST_CASE("move_elements replicates patterns over long overlapping copies", "[string]") {
    std::mt19937 rng(1);
    for (int iter = 0; iter < 300; iter++) {
        const unsigned n = 1u << (rng() % 4);
        const bool backward = rng() & 1;
        const size_t count = rng() % 600;
        const size_t bytes = count * n;
        const size_t buf = 2 * bytes + 64;
        const size_t src_off = bytes / 2 + 32;
        const int dist = int(rng() % (bytes + 1)) * ((rng() & 1) ? 1 : -1);
        if (int(src_off) + dist < 0 || src_off + dist + bytes > buf) continue;
        std::vector<uint8_t> init(buf);
        for (auto& b : init) b = uint8_t(rng());
        std::vector<uint8_t> want = init, got = init;
        reference_move(want.data() + src_off + dist, want.data() + src_off, bytes, n, backward);
        strmem::move_elements(got.data() + src_off + dist, got.data() + src_off, bytes, n, backward);
        INFO("n=" << n << " backward=" << backward << " count=" << count << " dist=" << dist);
        REQUIRE(got == want);
    }
}

TEST_CASE("fill_elements stores the element pattern", "[string]") {
    for (unsigned n : {1u, 2u, 4u, 8u})
        for (size_t count :
             {size_t(0), size_t(1), size_t(3), size_t(8), size_t(9), size_t(100), size_t(512)}) {
            const uint64_t value = 0x8877665544332211ull;
            std::vector<uint8_t> want(count * n + 16, 0xee), got = want;
            for (size_t i = 0; i < count; i++) std::memcpy(want.data() + 8 + i * n, &value, n);
            strmem::fill_elements(got.data() + 8, count * n, value, n);
            INFO("n=" << n << " count=" << count);
            REQUIRE(got == want);
        }
}

TEST_CASE("sub_flags sets OSZAPC like the host CMP", "[string]") {
    const uint64_t edges[] = {0,          1,          2,          0x0f,       0x10,   0x7f,
                              0x80,       0xff,       0x7fff,     0x8000,     0xffff, 0x7fffffff,
                              0x80000000, 0xffffffff, 1ull << 63, ~0ull >> 1, ~0ull,  0x123456789abcdef0ull};
    for (unsigned n : {1u, 2u, 4u, 8u}) {
        for (uint64_t a : edges)
            for (uint64_t b : edges) {
                INFO("n=" << n << " a=" << a << " b=" << b);
                REQUIRE(strmem::sub_flags(a, b, n) == host_flags(a, b, n));
            }
        std::mt19937_64 rng(n);
        for (int i = 0; i < 20000; i++) {
            uint64_t a = rng(), b = rng();
            if (i & 1) b = a + (rng() % 33) - 16; // near each other: AF, ZF, small results
            INFO("n=" << n << " a=" << a << " b=" << b);
            REQUIRE(strmem::sub_flags(a, b, n) == host_flags(a, b, n));
        }
    }
}
