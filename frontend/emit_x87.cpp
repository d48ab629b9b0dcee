// Emitters: the x87 FPU.
//
// The guest's x87 state runs in the host's x87 unit: a block's first x87
// instruction calls CpuState.x87_ensure, which loads the state saved in
// CpuState (FRSTOR) and marks it live; the trampolines save it again (FNSAVE,
// which also leaves the unit clean for C++ code) around helpers and when
// generated code is left. Then nearly every x87 instruction is the very same
// host instruction, so 80-bit results, FSW condition codes and exception
// flags, the tag word, stack faults and precision/rounding control are the
// host's exact ones:
//   - register forms are copied byte for byte (opcode and ModRM);
//   - memory forms get ModRM [r14] (T0, the host address after the TLB probe);
//   - FNSTENV/FLDENV, FNSAVE/FRSTOR and FXSAVE/FXRSTOR are C++ helpers
//     (frontend/x87_helpers.cpp) working on CpuState;
//   - the guest's FIP/FCS/FOP/FDP/FDS are stored by generated code after
//     each non-control instruction (the host's own pointers are host addresses).
// Unmasked exceptions: as on hardware, the host unit reports a pending one at
// the next waiting x87 instruction. Each waiting host instruction emitted here
// is a host trap site (jit/host_traps.h): the SIGFPE handler resumes at a stub
// raising the guest's #MF at that guest instruction, with the pointers still
// those of the instruction that caused it. Memory forms run an FWAIT first,
// so a pending #MF comes before a #PF of the access, as on hardware.
// CR0.EM or CR0.TS: #NM (translation-mode bits); WAIT: #NM with TS and MP.
#include "frontend/emit_x87.h"
#include "frontend/emit_table.h"
#include "frontend/x87_helpers.h"
#include "machine/system.h"

namespace hayate {

namespace {

using namespace asmjit;

// Control instructions leave FIP/FCS/FOP/FDP/FDS alone (SDM vol. 1, 8.1.8).
bool is_control(ZydisMnemonic m) {
    switch (m) {
    case ZYDIS_MNEMONIC_FNINIT:
    case ZYDIS_MNEMONIC_FNCLEX:
    case ZYDIS_MNEMONIC_FLDCW:
    case ZYDIS_MNEMONIC_FNSTCW:
    case ZYDIS_MNEMONIC_FNSTSW:
    case ZYDIS_MNEMONIC_FNSTENV:
    case ZYDIS_MNEMONIC_FLDENV:
    case ZYDIS_MNEMONIC_FNSAVE:
    case ZYDIS_MNEMONIC_FRSTOR:
    case ZYDIS_MNEMONIC_FWAIT:
    case ZYDIS_MNEMONIC_FENI8087_NOP:
    case ZYDIS_MNEMONIC_FDISI8087_NOP:
    case ZYDIS_MNEMONIC_FSETPM287_NOP: return true;
    default: return false;
    }
}

// The no-wait instructions do not check for a pending exception.
bool is_waiting(ZydisMnemonic m) {
    switch (m) {
    case ZYDIS_MNEMONIC_FNINIT:
    case ZYDIS_MNEMONIC_FNCLEX:
    case ZYDIS_MNEMONIC_FNSTCW:
    case ZYDIS_MNEMONIC_FNSTSW:
    case ZYDIS_MNEMONIC_FNSTENV:
    case ZYDIS_MNEMONIC_FNSAVE: return false;
    default: return true;
    }
}

// #NM for CR0.EM or CR0.TS (SDM vol. 3, table 2-2). True when raised.
bool raise_nm(EmitContext& c) {
    if (!(c.mode & (mode::kFpuEm | mode::kFpuTs))) return false;
    c.raise_exception(7);
    c.block_ended = true;
    return true;
}

void raise_ud_here(EmitContext& c) {
    c.raise_ud();
    c.block_ended = true;
}

// The guest's state into the host unit, once per block (the trampolines keep
// it there across helper calls until the block is left).
void ensure_loaded(EmitContext& c) {
    if (c.x87_loaded) return;
    c.a.call(x86::qword_ptr(kState, int32_t(offsetof(CpuState, x87_ensure))));
    c.x87_loaded = true;
}

// The next host instruction may trap for a pending unmasked exception.
void mark_pending_site(EmitContext& c) {
    EmitContext::HostTrapLabels t{c.a.newLabel(), c.a.newLabel()};
    c.a.bind(t.site);
    c.host_trap_labels.push_back(t);
    c.defer([&c, t]() {
        c.a.bind(t.resume);
        c.call_helper(&helper_x87_pending, 0);
        c.a.ud2(); // the helper always leaves generated code
    });
}

const ZydisDecodedOperand* memory_operand(const Insn& in) {
    for (unsigned i = 0; i < in.visible_operands(); i++)
        if (in.ops[i].type == ZYDIS_OPERAND_TYPE_MEMORY && in.ops[i].mem.type == ZYDIS_MEMOP_TYPE_MEM)
            return &in.ops[i];
    return nullptr;
}

void store_selector(EmitContext& c, int seg, size_t field) {
    c.a.mov(kT1.r16(), jit::state_field(offsetof(CpuState, seg) + size_t(seg) * sizeof(SegmentCache) +
                                            offsetof(SegmentCache, selector),
                                        2));
    c.a.mov(jit::state_field(field, 2), kT1.r16());
}

// FIP/FCS/FOP, and FDP/FDS for a memory operand, of a non-control
// instruction that completed. Leaves the flags alone.
void update_pointers(EmitContext& c, const ZydisDecodedOperand* mem) {
    const Insn& in = *c.insn;
    const auto& modrm = in.zi.raw.modrm;
    const uint16_t fop = uint16_t((in.zi.opcode & 7) << 8 | modrm.mod << 6 | modrm.reg << 3 | modrm.rm);
    c.a.mov(jit::state_field(offsetof(CpuState, x87_fop), 2), Imm(fop));
    if (int64_t(in.pc) == int64_t(int32_t(in.pc))) {
        c.a.mov(jit::state_field(offsetof(CpuState, x87_fip)), Imm(int32_t(in.pc)));
    } else {
        c.a.mov(kT1, Imm(in.pc));
        c.a.mov(jit::state_field(offsetof(CpuState, x87_fip)), kT1);
    }
    store_selector(c, CS, offsetof(CpuState, x87_fcs));
    if (!mem) return;
    c.effective_address(*mem, kT0);
    c.a.mov(jit::state_field(offsetof(CpuState, x87_fdp)), kT0);
    const int seg = zydis_seg_index(mem->mem.segment);
    store_selector(c, seg < 0 ? DS : seg, offsetof(CpuState, x87_fds));
}

// The guest instruction as the host instruction: the same opcode and ModRM,
// with a memory operand at [r14] (REX.B, mod 00, rm 110).
bool emit_x87_same(EmitContext& c) {
    const Insn& in = *c.insn;
    if (in.has_lock()) {
        raise_ud_here(c);
        return true;
    }
    if (raise_nm(c)) return true;
    const ZydisMnemonic m = in.mnemonic();
    const uint8_t opcode = in.zi.opcode;
    if (opcode < 0xd8 || opcode > 0xdf || in.zi.opcode_map != ZYDIS_OPCODE_MAP_DEFAULT) return false;
    ensure_loaded(c);
    const bool waiting = is_waiting(m);
    const auto& modrm = in.zi.raw.modrm;
    const ZydisDecodedOperand* mem = memory_operand(in);
    if (mem) {
        if (waiting) {
            mark_pending_site(c);
            c.a.fwait();
        }
        const uint8_t bytes[3] = {0x41, opcode, uint8_t(modrm.reg << 3 | 6)};
        c.access_memory(*mem, access_of(*mem), [&c, bytes](const x86::Mem&) { c.a.embed(bytes, 3); });
    } else {
        const uint8_t bytes[2] = {opcode, uint8_t(0xc0 | modrm.reg << 3 | modrm.rm)};
        if (waiting) mark_pending_site(c);
        c.a.embed(bytes, 2);
    }
    if (m == ZYDIS_MNEMONIC_FNINIT) {
        // FNINIT clears the pointers and the opcode too.
        c.a.mov(jit::state_field(offsetof(CpuState, x87_fip)), Imm(0));
        c.a.mov(jit::state_field(offsetof(CpuState, x87_fdp)), Imm(0));
        c.a.mov(jit::state_field(offsetof(CpuState, x87_fcs), 2), Imm(0));
        c.a.mov(jit::state_field(offsetof(CpuState, x87_fds), 2), Imm(0));
        c.a.mov(jit::state_field(offsetof(CpuState, x87_fop), 2), Imm(0));
    } else if (!is_control(m)) {
        update_pointers(c, mem);
    }
    return true;
}

// WAIT/FWAIT: #NM only with CR0.TS and CR0.MP; then a pending exception.
bool emit_fwait(EmitContext& c) {
    if (c.mode & mode::kFpuTs) c.call_helper(&helper_x87_wait_ts, 0);
    ensure_loaded(c);
    mark_pending_site(c);
    c.a.fwait();
    return true;
}

// FISTTP is SSE3: advertised (and run as the host's) only where the host has it; #UD otherwise.
bool emit_fisttp(EmitContext& c) {
    if (cpu_has_simd(SimdExt::Sse3)) return emit_x87_same(c);
    raise_ud_here(c);
    return true;
}

bool emit_image(EmitContext& c, X87Image kind) {
    const Insn& in = *c.insn;
    if (in.has_lock()) {
        raise_ud_here(c);
        return true;
    }
    if (raise_nm(c)) return true;
    const ZydisDecodedOperand* mem = memory_operand(in);
    if (!mem) return false;
    const bool stores = kind == X87Image::Fnstenv || kind == X87Image::Fnsave || kind == X87Image::Fxsave;
    c.linear_address(*mem, kT0, stores ? MemAccess::Write : MemAccess::Read);
    const bool rex_w = in.zi.attributes & ZYDIS_ATTRIB_HAS_REX && in.zi.raw.rex.W;
    c.call_helper(&helper_x87_image, x87_image_arg(kind, in.operand_width() == 16, rex_w), true);
    return true;
}

bool emit_fnstenv(EmitContext& c) { return emit_image(c, X87Image::Fnstenv); }
bool emit_fldenv(EmitContext& c) { return emit_image(c, X87Image::Fldenv); }
bool emit_fnsave(EmitContext& c) { return emit_image(c, X87Image::Fnsave); }
bool emit_frstor(EmitContext& c) { return emit_image(c, X87Image::Frstor); }
bool emit_fxsave(EmitContext& c) { return emit_image(c, X87Image::Fxsave); }
bool emit_fxrstor(EmitContext& c) { return emit_image(c, X87Image::Fxrstor); }

} // namespace

void x87_make_live(EmitContext& c) { ensure_loaded(c); }

void x87_wait_pending(EmitContext& c) {
    mark_pending_site(c);
    c.a.fwait();
}

void register_x87(EmitTable& t) {
    for (ZydisMnemonic m : {
             ZYDIS_MNEMONIC_F2XM1,        ZYDIS_MNEMONIC_FABS,          ZYDIS_MNEMONIC_FADD,
             ZYDIS_MNEMONIC_FADDP,        ZYDIS_MNEMONIC_FBLD,          ZYDIS_MNEMONIC_FBSTP,
             ZYDIS_MNEMONIC_FCHS,         ZYDIS_MNEMONIC_FCMOVB,        ZYDIS_MNEMONIC_FCMOVBE,
             ZYDIS_MNEMONIC_FCMOVE,       ZYDIS_MNEMONIC_FCMOVNB,       ZYDIS_MNEMONIC_FCMOVNBE,
             ZYDIS_MNEMONIC_FCMOVNE,      ZYDIS_MNEMONIC_FCMOVNU,       ZYDIS_MNEMONIC_FCMOVU,
             ZYDIS_MNEMONIC_FCOM,         ZYDIS_MNEMONIC_FCOMI,         ZYDIS_MNEMONIC_FCOMIP,
             ZYDIS_MNEMONIC_FCOMP,        ZYDIS_MNEMONIC_FCOMPP,        ZYDIS_MNEMONIC_FCOS,
             ZYDIS_MNEMONIC_FDECSTP,      ZYDIS_MNEMONIC_FDISI8087_NOP, ZYDIS_MNEMONIC_FDIV,
             ZYDIS_MNEMONIC_FDIVP,        ZYDIS_MNEMONIC_FDIVR,         ZYDIS_MNEMONIC_FDIVRP,
             ZYDIS_MNEMONIC_FENI8087_NOP, ZYDIS_MNEMONIC_FFREE,         ZYDIS_MNEMONIC_FFREEP,
             ZYDIS_MNEMONIC_FIADD,        ZYDIS_MNEMONIC_FICOM,         ZYDIS_MNEMONIC_FICOMP,
             ZYDIS_MNEMONIC_FIDIV,        ZYDIS_MNEMONIC_FIDIVR,        ZYDIS_MNEMONIC_FILD,
             ZYDIS_MNEMONIC_FIMUL,        ZYDIS_MNEMONIC_FINCSTP,       ZYDIS_MNEMONIC_FIST,
             ZYDIS_MNEMONIC_FISTP,        ZYDIS_MNEMONIC_FISUB,         ZYDIS_MNEMONIC_FISUBR,
             ZYDIS_MNEMONIC_FLD,          ZYDIS_MNEMONIC_FLD1,          ZYDIS_MNEMONIC_FLDCW,
             ZYDIS_MNEMONIC_FLDL2E,       ZYDIS_MNEMONIC_FLDL2T,        ZYDIS_MNEMONIC_FLDLG2,
             ZYDIS_MNEMONIC_FLDLN2,       ZYDIS_MNEMONIC_FLDPI,         ZYDIS_MNEMONIC_FLDZ,
             ZYDIS_MNEMONIC_FMUL,         ZYDIS_MNEMONIC_FMULP,         ZYDIS_MNEMONIC_FNCLEX,
             ZYDIS_MNEMONIC_FNINIT,       ZYDIS_MNEMONIC_FNOP,          ZYDIS_MNEMONIC_FNSTCW,
             ZYDIS_MNEMONIC_FNSTSW,       ZYDIS_MNEMONIC_FPATAN,        ZYDIS_MNEMONIC_FPREM,
             ZYDIS_MNEMONIC_FPREM1,       ZYDIS_MNEMONIC_FPTAN,         ZYDIS_MNEMONIC_FRNDINT,
             ZYDIS_MNEMONIC_FSCALE,       ZYDIS_MNEMONIC_FSETPM287_NOP, ZYDIS_MNEMONIC_FSIN,
             ZYDIS_MNEMONIC_FSINCOS,      ZYDIS_MNEMONIC_FSQRT,         ZYDIS_MNEMONIC_FST,
             ZYDIS_MNEMONIC_FSTP,         ZYDIS_MNEMONIC_FSTPNCE,       ZYDIS_MNEMONIC_FSUB,
             ZYDIS_MNEMONIC_FSUBP,        ZYDIS_MNEMONIC_FSUBR,         ZYDIS_MNEMONIC_FSUBRP,
             ZYDIS_MNEMONIC_FTST,         ZYDIS_MNEMONIC_FUCOM,         ZYDIS_MNEMONIC_FUCOMI,
             ZYDIS_MNEMONIC_FUCOMIP,      ZYDIS_MNEMONIC_FUCOMP,        ZYDIS_MNEMONIC_FUCOMPP,
             ZYDIS_MNEMONIC_FXAM,         ZYDIS_MNEMONIC_FXCH,          ZYDIS_MNEMONIC_FXTRACT,
             ZYDIS_MNEMONIC_FYL2X,        ZYDIS_MNEMONIC_FYL2XP1,
         })
        t.set(m, &emit_x87_same);
    t.set(ZYDIS_MNEMONIC_FWAIT, &emit_fwait);
    t.set(ZYDIS_MNEMONIC_FISTTP, &emit_fisttp);
    t.set(ZYDIS_MNEMONIC_FNSTENV, &emit_fnstenv);
    t.set(ZYDIS_MNEMONIC_FLDENV, &emit_fldenv);
    t.set(ZYDIS_MNEMONIC_FNSAVE, &emit_fnsave);
    t.set(ZYDIS_MNEMONIC_FRSTOR, &emit_frstor);
    t.set(ZYDIS_MNEMONIC_FXSAVE, &emit_fxsave);
    t.set(ZYDIS_MNEMONIC_FXSAVE64, &emit_fxsave);
    t.set(ZYDIS_MNEMONIC_FXRSTOR, &emit_fxrstor);
    t.set(ZYDIS_MNEMONIC_FXRSTOR64, &emit_fxrstor);
}

} // namespace hayate
