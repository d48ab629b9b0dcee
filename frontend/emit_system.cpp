// Emitters: system instructions. They are rare, so they run in the C++
// interpreter (frontend/interpret.cpp); the helper status makes generated code
// continue, leave at the next instruction (mode changes) or follow a transfer.
#include "frontend/emit_table.h"

namespace hayate {

namespace {

bool is_transfer(const Insn& in) {
    switch (in.zi.meta.category) {
    case ZYDIS_CATEGORY_COND_BR:
    case ZYDIS_CATEGORY_UNCOND_BR:
    case ZYDIS_CATEGORY_CALL:
    case ZYDIS_CATEGORY_RET:
    case ZYDIS_CATEGORY_INTERRUPT:
    case ZYDIS_CATEGORY_SYSCALL:
    case ZYDIS_CATEGORY_SYSRET: return true;
    default: return false;
    }
}

bool emit_interpreted(EmitContext& c) {
    c.call_interpreter();
    if (is_transfer(*c.insn) || emit_table()[c.insn->mnemonic()].ends_block)
        c.exit_to_dispatcher(c.wrap_pc(c.insn->next_pc));
    return true;
}

} // namespace

bool emit_mov_special(EmitContext& c) { return emit_interpreted(c); }
bool emit_pop_segment(EmitContext& c) { return emit_interpreted(c); }
bool emit_far_transfer(EmitContext& c) { return emit_interpreted(c); }

void register_system(EmitTable& t) {
    for (ZydisMnemonic m :
         {ZYDIS_MNEMONIC_LGDT,   ZYDIS_MNEMONIC_LIDT,   ZYDIS_MNEMONIC_SGDT,  ZYDIS_MNEMONIC_SIDT,
          ZYDIS_MNEMONIC_LLDT,   ZYDIS_MNEMONIC_LTR,    ZYDIS_MNEMONIC_SLDT,  ZYDIS_MNEMONIC_STR,
          ZYDIS_MNEMONIC_IN,     ZYDIS_MNEMONIC_OUT,    ZYDIS_MNEMONIC_CPUID, ZYDIS_MNEMONIC_RDTSC,
          ZYDIS_MNEMONIC_RDTSCP, ZYDIS_MNEMONIC_RDMSR,  ZYDIS_MNEMONIC_WRMSR, ZYDIS_MNEMONIC_INVLPG,
          ZYDIS_MNEMONIC_CLTS,   ZYDIS_MNEMONIC_LMSW,   ZYDIS_MNEMONIC_SMSW,  ZYDIS_MNEMONIC_WBINVD,
          ZYDIS_MNEMONIC_INVD,   ZYDIS_MNEMONIC_SWAPGS, ZYDIS_MNEMONIC_LAR,   ZYDIS_MNEMONIC_LSL,
          ZYDIS_MNEMONIC_VERR,   ZYDIS_MNEMONIC_VERW,   ZYDIS_MNEMONIC_CLD,   ZYDIS_MNEMONIC_STD,
          ZYDIS_MNEMONIC_PUSHA,  ZYDIS_MNEMONIC_PUSHAD, ZYDIS_MNEMONIC_POPA,  ZYDIS_MNEMONIC_POPAD,
          ZYDIS_MNEMONIC_INSB,   ZYDIS_MNEMONIC_INSW,   ZYDIS_MNEMONIC_INSD,  ZYDIS_MNEMONIC_OUTSB,
          ZYDIS_MNEMONIC_OUTSW,  ZYDIS_MNEMONIC_OUTSD,  ZYDIS_MNEMONIC_ARPL})
        t.set(m, &emit_interpreted);
    for (ZydisMnemonic m :
         {ZYDIS_MNEMONIC_HLT, ZYDIS_MNEMONIC_CLI, ZYDIS_MNEMONIC_STI, ZYDIS_MNEMONIC_POPF,
          ZYDIS_MNEMONIC_POPFD, ZYDIS_MNEMONIC_POPFQ, ZYDIS_MNEMONIC_UD0, ZYDIS_MNEMONIC_UD1,
          ZYDIS_MNEMONIC_UD2, ZYDIS_MNEMONIC_INT, ZYDIS_MNEMONIC_INT3, ZYDIS_MNEMONIC_INTO,
          ZYDIS_MNEMONIC_INT1, ZYDIS_MNEMONIC_IRET, ZYDIS_MNEMONIC_IRETD, ZYDIS_MNEMONIC_IRETQ})
        t.set(m, &emit_interpreted, true);
    // System instructions (interpret_sysinsn.cpp); the fast system calls end
    // the block (new CS, CPL, mode), XSETBV may change what code is valid.
    for (ZydisMnemonic m : {ZYDIS_MNEMONIC_RDFSBASE, ZYDIS_MNEMONIC_RDGSBASE, ZYDIS_MNEMONIC_WRFSBASE,
                            ZYDIS_MNEMONIC_WRGSBASE, ZYDIS_MNEMONIC_RDRAND, ZYDIS_MNEMONIC_RDSEED,
                            ZYDIS_MNEMONIC_RDPID, ZYDIS_MNEMONIC_RDPMC, ZYDIS_MNEMONIC_XGETBV})
        t.set(m, &emit_interpreted);
    for (ZydisMnemonic m : {ZYDIS_MNEMONIC_SYSCALL, ZYDIS_MNEMONIC_SYSRET, ZYDIS_MNEMONIC_SYSENTER,
                            ZYDIS_MNEMONIC_SYSEXIT, ZYDIS_MNEMONIC_XSETBV})
        t.set(m, &emit_interpreted, true);
    // Paging (interpret_paging.cpp): STAC/CLAC change the translation mode (SMAP).
    t.set(ZYDIS_MNEMONIC_INVPCID, &emit_interpreted);
    for (ZydisMnemonic m : {ZYDIS_MNEMONIC_STAC, ZYDIS_MNEMONIC_CLAC}) t.set(m, &emit_interpreted, true);
}

} // namespace hayate
