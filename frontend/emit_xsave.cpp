// Emitters and helper: the XSAVE family (XSAVE, XSAVEOPT, XSAVEC, XRSTOR and
// their REX.W forms), on the state components XCR0 may enable: x87, SSE and
// AVX (machine/xsave.h; SDM vol. 1, chapter 13, and vol. 2 for each).
//
// Generated code only computes the linear address; the helper does the rest
// on CpuState (the trampolines have moved the guest's x87, XMM, MXCSR and YMM
// state there, and load it back afterwards): #UD without CR4.OSXSAVE, #NM
// with CR0.TS, #GP(0) for an area not 64-byte aligned, the segment limit
// (#GP(0)/#SS(0)) and every page of the area the instruction may touch
// (#PF) before anything changes, then the XRSTOR header checks (#GP(0)).
//
// XINUSE is computed from the state (machine/xsave.cpp). XMODIFIED is taken
// as all ones (the SDM lets a processor report a component as modified when
// it is not), so XSAVEOPT never uses the modified optimisation, only the
// init optimisation.
#include "frontend/emit_table.h"
#include "frontend/helpers.h"
#include "frontend/x87_helpers.h"
#include "machine/le_bytes.h"
#include "machine/vcpu.h"
#include "machine/x87.h"
#include "machine/xsave.h"
#include <cstring>

namespace hayate {

namespace {

using namespace asmjit;

enum class Op : uint8_t { Xsave, Xsaveopt, Xsavec, Xrstor };

constexpr uint32_t kMxcsrMask = 0xffff; // as LDMXCSR and FXSAVE
constexpr uint64_t kCompacted = 1ull << 63;

uint64_t arg_of(Op op, bool rex_w, int seg) {
    return uint64_t(op) | (rex_w ? 0x100u : 0u) | (uint64_t(seg & 7) << 16);
}

using le::get32;
using le::get64;

uint64_t raise(CpuState* s, uint8_t vector, bool has_error = false) {
    vcpu_of(s).raise(vector, has_error, 0);
    return kHelperExitHere;
}

// The upper halves of YMM0-15 as the guest sees them (zero while not dirty).
void read_ymm_high(const CpuState& s, uint8_t out[16][16]) {
    if (s.ymm_dirty)
        std::memcpy(out, s.ymm_high, sizeof s.ymm_high);
    else
        std::memset(out, 0, sizeof s.ymm_high);
}

void write_ymm_high(CpuState& s, const uint8_t in[16][16]) {
    std::memcpy(s.ymm_high, in, sizeof s.ymm_high);
    bool any = false;
    for (unsigned i = 0; i < sizeof s.ymm_high; i++) any |= (&s.ymm_high[0][0])[i] != 0;
    s.ymm_dirty = any;
}

struct Area {
    Vcpu& cpu;
    uint64_t linear;
    bool user;
    bool write(unsigned off, const void* p, unsigned n) { return cpu.write_linear(linear + off, p, n, user); }
    bool read(unsigned off, void* p, unsigned n) { return cpu.read_linear(linear + off, p, n, user); }
};

// XSAVE, XSAVEOPT, XSAVEC (SDM vol. 2 pseudocode). The area has been checked.
uint64_t store(CpuState& s, Area& area, Op op, uint64_t rfbm, bool rex_w, bool mode64) {
    const uint64_t in_use = xstate_in_use(s);
    uint64_t to_save = op == Op::Xsave ? rfbm : (rfbm & in_use);
    alignas(16) uint8_t legacy[512];
    fxsave_image(s, legacy, rex_w, mode64);
    const unsigned xmm_bytes = (mode64 ? 16 : 8) * 16;
    if (to_save & xstate::kX87) {
        if (!area.write(0, legacy, 24) || !area.write(32, legacy + 32, 128)) return kHelperExitHere;
    }
    const bool mxcsr = op == Op::Xsavec ? (to_save & xstate::kSse) : (rfbm & (xstate::kSse | xstate::kAvx));
    if (mxcsr && !area.write(24, legacy + 24, 8)) return kHelperExitHere;
    if ((to_save & xstate::kSse) && !area.write(160, legacy + 160, xmm_bytes)) return kHelperExitHere;
    if (to_save & xstate::kAvx) {
        // Standard and compacted formats agree: AVX is the first extended component.
        uint8_t high[16][16];
        read_ymm_high(s, high);
        if (!area.write(xstate::kAvxOffset, high, mode64 ? 256 : 128)) return kHelperExitHere;
    }
    if (op == Op::Xsavec) {
        const uint64_t header[2] = {to_save, rfbm | kCompacted};
        if (!area.write(512, header, 16)) return kHelperExitHere;
    } else {
        uint64_t bv = 0;
        if (!area.read(512, &bv, 8)) return kHelperExitHere;
        bv = (bv & ~rfbm) | (in_use & rfbm);
        if (!area.write(512, &bv, 8)) return kHelperExitHere;
    }
    return kHelperContinue;
}

// XRSTOR, standard and compacted forms (SDM vol. 1, 13.8).
uint64_t restore(CpuState& s, Area& area, uint64_t rfbm, bool rex_w, bool mode64) {
    alignas(16) uint8_t buf[xstate::kAvxOffset + xstate::kAvxSize];
    if (!area.read(512, buf + 512, 64)) return kHelperExitHere;
    const uint64_t xstate_bv = get64(buf + 512), xcomp_bv = get64(buf + 520);
    const bool compacted = xcomp_bv & kCompacted;
    if (compacted) {
        if ((xcomp_bv & ~kCompacted & ~s.xcr0) || (xstate_bv & ~(xcomp_bv & ~kCompacted)))
            return raise(&s, 13, true);
        for (unsigned i = 528; i < 576; i++)
            if (buf[i]) return raise(&s, 13, true);
    } else {
        if (xstate_bv & ~s.xcr0) return raise(&s, 13, true);
        for (unsigned i = 520; i < 536; i++)
            if (buf[i]) return raise(&s, 13, true);
    }
    const uint64_t load = rfbm & xstate_bv;
    if (!area.read(0, buf, 512)) return kHelperExitHere;
    // Only AVX can be in the extended region; compacted, it sits at 576 when XCOMP_BV has it.
    if ((load & xstate::kAvx) && !area.read(xstate::kAvxOffset, buf + xstate::kAvxOffset, xstate::kAvxSize))
        return kHelperExitHere;

    // MXCSR first: an illegal value faults before any state changes.
    uint32_t mxcsr = s.mxcsr;
    if (compacted ? (rfbm & xstate::kSse) : (rfbm & (xstate::kSse | xstate::kAvx))) {
        mxcsr = (compacted && !(xstate_bv & xstate::kSse)) ? 0x1f80 : get32(buf + 24);
        if (mxcsr & ~kMxcsrMask) return raise(&s, 13, true);
    }
    s.mxcsr = mxcsr;
    const unsigned regs = mode64 ? 16 : 8; // XMM8-15 and their upper halves only in 64-bit mode
    if (rfbm & xstate::kX87) {
        if (load & xstate::kX87) {
            fxrstor_x87(s, buf, rex_w);
        } else {
            x87::init(s);
            std::memset(s.x87_image + x87::kImageRegs, 0, 80);
        }
    }
    if (rfbm & xstate::kSse) {
        if (load & xstate::kSse)
            std::memcpy(s.xmm, buf + 160, 16 * regs);
        else
            std::memset(s.xmm, 0, 16 * regs);
    }
    if (rfbm & xstate::kAvx) {
        uint8_t high[16][16];
        read_ymm_high(s, high);
        if (load & xstate::kAvx)
            std::memcpy(high, buf + xstate::kAvxOffset, 16 * regs);
        else
            std::memset(high, 0, 16 * regs);
        write_ymm_high(s, high);
    }
    return kHelperContinue;
}

uint64_t helper_xsave(CpuState* s, uint64_t arg1, uint64_t linear) {
    Vcpu& cpu = vcpu_of(s);
    const auto op = Op(arg1 & 0xff);
    const bool rex_w = arg1 & 0x100;
    const int seg = int((arg1 >> 16) & 7);
    if (!(s->cr4 & cr4::OSXSAVE)) return raise(s, 6);
    if (s->cr0 & cr0::TS) return raise(s, 7);
    const bool mode64 = (s->efer & efer::LMA) && s->seg[CS].is_long();
    if (!mode64) linear = uint32_t(linear);
    const uint64_t rfbm = s->xcr0 & ((s->gpr[RDX] << 32) | uint32_t(s->gpr[RAX]));
    if (linear & 63) return raise(s, 13, true);

    // The bytes the instruction may touch: the legacy region and the header
    // always, AVX's component when requested.
    const unsigned size = xsave_standard_size(rfbm);
    const bool writes = op != Op::Xrstor;
    if (!mode64) {
        // Segment limit and type, on the offset (the area does not wrap).
        const SegmentBounds& b = s->seg_bounds[seg];
        const uint64_t offset = uint32_t(linear - s->seg[seg].base);
        const uint64_t lo = writes ? b.write_lo : b.read_lo, hi = writes ? b.write_hi : b.read_hi;
        if (offset < lo || offset + size - 1 > hi) return raise(s, seg == SS ? 12 : 13, true);
    }
    const bool user = s->cpl() == 3;
    const auto acc = writes ? Vcpu::Access::Write : Vcpu::Access::Read;
    for (uint64_t page = linear & ~0xfffull; page < linear + size; page += 0x1000) {
        uint64_t phys;
        if (!cpu.translate(page < linear ? linear : page, acc, user, phys)) return kHelperExitHere;
    }
    Area area{cpu, linear, user};
    if (op == Op::Xrstor) return restore(*s, area, rfbm, rex_w, mode64);
    const uint64_t status = store(*s, area, op, rfbm, rex_w, mode64);
    if (status == kHelperContinue && cpu.current_block_invalidated) {
        cpu.current_block_invalidated = false;
        return kHelperExitNext;
    }
    return status;
}

bool emit_xsave_family(EmitContext& c, Op op) {
    const Insn& in = *c.insn;
    const ZydisDecodedOperand* mem = nullptr;
    for (unsigned i = 0; i < in.visible_operands(); i++)
        if (in.ops[i].type == ZYDIS_OPERAND_TYPE_MEMORY) mem = &in.ops[i];
    if (!mem) return false;
    if (in.has_lock()) {
        c.raise_ud();
        c.block_ended = true;
        return true;
    }
    // The segment checks need the exact size, known only from EDX:EAX: the helper does them.
    c.linear_address(*mem, kT0, MemAccess{});
    const int seg = zydis_seg_index(mem->mem.segment);
    const bool rex_w = (in.zi.attributes & ZYDIS_ATTRIB_HAS_REX) && in.zi.raw.rex.W;
    c.call_helper(&helper_xsave, arg_of(op, rex_w, seg < 0 ? DS : seg), true);
    if (op == Op::Xrstor) c.ymm_dirty_marked = false; // it may have initialised the upper halves
    return true;
}

bool emit_xsave(EmitContext& c) { return emit_xsave_family(c, Op::Xsave); }
bool emit_xsaveopt(EmitContext& c) { return emit_xsave_family(c, Op::Xsaveopt); }
bool emit_xsavec(EmitContext& c) { return emit_xsave_family(c, Op::Xsavec); }
bool emit_xrstor(EmitContext& c) { return emit_xsave_family(c, Op::Xrstor); }

} // namespace

void register_xsave(EmitTable& t) {
    t.set(ZYDIS_MNEMONIC_XSAVE, &emit_xsave);
    t.set(ZYDIS_MNEMONIC_XSAVE64, &emit_xsave);
    t.set(ZYDIS_MNEMONIC_XSAVEOPT, &emit_xsaveopt);
    t.set(ZYDIS_MNEMONIC_XSAVEOPT64, &emit_xsaveopt);
    t.set(ZYDIS_MNEMONIC_XSAVEC, &emit_xsavec);
    t.set(ZYDIS_MNEMONIC_XSAVEC64, &emit_xsavec);
    t.set(ZYDIS_MNEMONIC_XRSTOR, &emit_xrstor);
    t.set(ZYDIS_MNEMONIC_XRSTOR64, &emit_xrstor);
}

} // namespace hayate
