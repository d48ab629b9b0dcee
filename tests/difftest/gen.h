// Snippet generation: a Gen builds one case (code + initial state + memory)
// for a form; forms are grouped in families, one Catch2 test case each.
#pragma once
#include "tests/difftest/difftest.h"
#include <asmjit/x86.h>
#include <functional>
#include <string>
#include <vector>

namespace difftest {

namespace x86 = asmjit::x86;
using asmjit::Imm;
using asmjit::InstId;
using asmjit::Label;

// Host CPU features a form needs (checked with CPUID; forms are skipped otherwise).
namespace feat {
constexpr unsigned kBmi1 = 1, kBmi2 = 2, kLzcnt = 4, kPopcnt = 8, kMovbe = 16, kCx16 = 32;
constexpr unsigned kMmx = 64, kSse3 = 128, kSsse3 = 256, kSse41 = 512, kSse42 = 1024, kAes = 2048,
                   kPclmul = 4096;
// VEX forms: each also needs the OS to enable the AVX state (host_has_avx()).
constexpr unsigned kAvx = 1u << 13, kAvx2 = 1u << 14, kFma = 1u << 15, kF16c = 1u << 16;
} // namespace feat
unsigned host_features();

// Lane kinds for XMM operands.
enum class Lanes { Bytes, I8, I16, I32, I64, F32, F64 };

class Gen {
  public:
    Gen(Rng& rng, Case& c, x86::Assembler& a);
    Rng& rng;
    Case& c;
    x86::Assembler& a;

    // --- values ---
    uint64_t value(unsigned bits);  // edge-biased value of `bits` bits (zero-extended)
    int64_t simm(unsigned bits);    // edge-biased signed immediate of `bits` bits
    uint64_t count(unsigned width); // shift/rotate count (edge-biased, 0..255)
    uint64_t f32();                 // special or random single bit pattern
    uint64_t f64();                 // special or random double bit pattern

    // --- general registers ---
    // Registers already holding a role (bit i: GPR i). Pointer registers are
    // never handed out as data registers.
    uint32_t used = 0;
    bool legacy8 = false; // 8-bit forms using AH..BH: no REX anywhere
    bool allow_rsp = true;
    // A data register of `bits` width with value(bits) in it (random upper bits).
    x86::Gp gp(unsigned bits);
    x86::Gp gp_val(unsigned bits, uint64_t v);
    // A specific register (id 0..15; for 8 bits 0..3 low bytes, 4..7 AH..BH if legacy8).
    x86::Gp fixed(int id, unsigned bits, uint64_t v);
    void set_gpr_part(int id, unsigned bits, bool high, uint64_t v);

    // --- memory ---
    // A memory operand of `bytes` bytes inside the data buffer holding `init`
    // (or random bytes). `align`: required alignment. The address registers
    // are set up (base, maybe index, maybe 32-bit address size, maybe RSP or
    // RIP-relative). offset_lo/hi bound where in the buffer it lands.
    x86::Mem mem(unsigned bytes, unsigned align = 1, uint32_t offset_lo = 0x400, uint32_t offset_hi = 0x4800);
    x86::Mem mem_val(unsigned bytes, uint64_t v, unsigned align = 1);
    uint64_t last_offset = 0; // buffer offset of the last mem()
    bool allow_addr32 = true, allow_riprel = true;
    // An address expression whose value does not matter (LEA).
    x86::Mem mem_any(bool addr32);
    void put(uint64_t offset, const void* p, size_t n);
    void put64(uint64_t offset, uint64_t v, unsigned bytes);
    uint64_t get64(uint64_t offset, unsigned bytes) const;

    // --- XMM ---
    uint32_t used_xmm = 0;
    x86::Xmm xmm(Lanes k);
    void fill_xmm(int id, Lanes k);
    void fill_lanes(uint8_t* dst, Lanes k);
    x86::Mem mem_lanes(unsigned bytes, Lanes k, unsigned align);
    void random_mxcsr();

    // --- flags ---
    void random_flags();
    void set_df(bool df);

  private:
    int pick_data_reg(bool eight_bit_legacy);
    int pick_addr_reg(bool index);
};

struct Form {
    std::string name;
    std::function<void(Gen&)> emit;
    unsigned features = 0;
};

struct Family {
    const char* name;
    std::vector<Form> (*make)();
};
const std::vector<Family>& families();

// Families (one Catch2 test case each).
std::vector<Form> forms_alu();
std::vector<Form> forms_shift();
std::vector<Form> forms_muldiv();
std::vector<Form> forms_bit();
std::vector<Form> forms_cond();
std::vector<Form> forms_string();
std::vector<Form> forms_stack();
std::vector<Form> forms_atomic();
std::vector<Form> forms_misc();
std::vector<Form> forms_sse_move();
std::vector<Form> forms_sse_arith();
std::vector<Form> forms_sse_cmp();
std::vector<Form> forms_sse_cvt();
std::vector<Form> forms_sse_logic();
std::vector<Form> forms_sse_int();
std::vector<Form> forms_x87_arith();
std::vector<Form> forms_x87_move();
std::vector<Form> forms_x87_cmp();
std::vector<Form> forms_x87_control();
std::vector<Form> forms_sse3();
std::vector<Form> forms_ssse3();
std::vector<Form> forms_sse41();
std::vector<Form> forms_sse42();
std::vector<Form> forms_aes();
std::vector<Form> forms_mmx();
std::vector<Form> forms_avx_fp();
std::vector<Form> forms_avx_int();
std::vector<Form> forms_avx_move();
std::vector<Form> forms_fma();
std::vector<Form> forms_avx_other();    // F16C, VEX AES-NI/PCLMULQDQ, gathers, masked moves, MXCSR, VZERO*
std::vector<Form> forms_avx_sequence(); // mixed VEX/SSE sequences: the upper halves across transitions
// The mnemonics frontend/emit_avx.cpp translates that no form of the AVX
// families above produces (empty when the families cover the whole table).
std::vector<std::string> avx_mnemonics_without_form();

// One random case of a form (code, initial state, memory); false with
// `error` if the form cannot be assembled.
bool make_case(const Form& form, Rng& rng, Case& c, std::string& error);

// Name of an asmjit instruction ("add").
std::string inst_name(InstId id);
const char* width_name(unsigned bits); // "r8".."r64" width suffix helpers
x86::Gp gp_of(int id, unsigned bits, bool high = false);

} // namespace difftest
