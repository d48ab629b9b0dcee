// The architectural state of one virtual x86 CPU, plus the per-vCPU soft-MMU
// TLB and jump cache that generated code reads at fixed offsets.
#pragma once
#include <cstddef>
#include <cstdint>

namespace hayate {

enum GuestReg : int { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15 };
enum SegReg : int { ES, CS, SS, DS, FS, GS, kSegCount };

// EFLAGS bits.
namespace flag {
constexpr uint64_t CF = 1u << 0, PF = 1u << 2, AF = 1u << 4, ZF = 1u << 6, SF = 1u << 7, TF = 1u << 8,
                   IF = 1u << 9, DF = 1u << 10, OF = 1u << 11, IOPL = 3u << 12, NT = 1u << 14, RF = 1u << 16,
                   VM = 1u << 17, AC = 1u << 18, VIF = 1u << 19, VIP = 1u << 20, ID = 1u << 21;
constexpr uint64_t kArith = CF | PF | AF | ZF | SF | OF; // the flags generated code keeps in host RFLAGS
constexpr uint64_t kFixed1 = 1u << 1;
} // namespace flag

namespace cr0 {
constexpr uint64_t PE = 1u << 0, MP = 1u << 1, EM = 1u << 2, TS = 1u << 3, ET = 1u << 4, NE = 1u << 5,
                   WP = 1u << 16, AM = 1u << 18, NW = 1u << 29, CD = 1u << 30, PG = 1u << 31;
}
namespace cr4 {
constexpr uint64_t VME = 1u << 0, PVI = 1u << 1, TSD = 1u << 2, DE = 1u << 3, PSE = 1u << 4, PAE = 1u << 5,
                   MCE = 1u << 6, PGE = 1u << 7, PCE = 1u << 8, OSFXSR = 1u << 9, OSXMMEXCPT = 1u << 10,
                   UMIP = 1u << 11, LA57 = 1u << 12, FSGSBASE = 1u << 16, PCIDE = 1u << 17,
                   OSXSAVE = 1u << 18, SMEP = 1u << 20, SMAP = 1u << 21;
}
namespace efer {
constexpr uint64_t SCE = 1u << 0, LME = 1u << 8, LMA = 1u << 10, NXE = 1u << 11;
}

// A segment register's hidden part. `attr` holds descriptor bits 40..47 in its
// low byte (type, S, DPL, P) and bits 52..55 in bits 12..15 (AVL, L, D/B, G),
// the same packing VMX uses for access rights.
struct SegmentCache {
    uint64_t base = 0;
    uint32_t limit = 0xffff;
    uint16_t selector = 0;
    uint16_t attr = 0;
    bool present() const { return attr & 0x80; }
    unsigned dpl() const { return (attr >> 5) & 3; }
    bool is_long() const { return attr & 0x2000; }
    bool big() const { return attr & 0x4000; } // D/B
};
namespace segattr {
constexpr uint16_t kPresent = 0x80, kS = 0x10, kCode = 0x08, kLong = 0x2000, kBig = 0x4000, kGran = 0x8000;
}

// The offsets a data access through a segment may touch, derived from its
// cached descriptor (limit, expand-down, type, usable) before generated code
// runs; an empty range (lo > hi) means every access of that kind faults.
struct SegmentBounds {
    uint64_t read_lo = 0, read_hi = 0xffff;
    uint64_t write_lo = 0, write_hi = 0xffff;
};

struct DescriptorTableReg {
    uint64_t base = 0;
    uint32_t limit = 0xffff;
};

// Soft-MMU TLB. An entry holds the page-aligned linear address it maps in
// `tag_read`/`tag_write` (an entry that must not hit for an access kind holds a
// tag whose index is not its own slot, so no address can match it), and the
// host address of the page. Generated code probes it inline:
//   index = (addr >> 12) & (kTlbEntries - 1)
//   hit   = ((addr ^ tag) <= 0x1000 - size)   (also rejects page-straddling accesses)
//   host  = (addr ^ tag) + host_page
struct TlbEntry {
    uint64_t tag_read;
    uint64_t tag_write;
    uint8_t* host_page;
    uint64_t phys_page; // guest-physical page address (for code tracking and slow paths)
};
constexpr int kTlbBits = 12;
constexpr int kTlbEntries = 1 << kTlbBits;
// 0: supervisor (CPL 0-2) where user pages are data-accessible (no SMAP, or EFLAGS.AC=1),
// 1: user (CPL 3), 2: supervisor with SMAP enforced (CR4.SMAP=1, EFLAGS.AC=0).
constexpr int kMmuIndexes = 3;
static_assert(sizeof(TlbEntry) == 32);

inline uint64_t tlb_invalid_tag(unsigned slot) { return uint64_t(slot ^ 1) << 12; }

// Jump cache: virtual PC + mode -> host code of the translated block. Probed
// inline by indirect jumps and returns.
struct JumpCacheEntry {
    uint64_t pc;
    uint64_t mode;
    const void* code;
    const void* block; // the jit::Block, for the dispatcher
};
constexpr int kJumpCacheBits = 12;
constexpr int kJumpCacheEntries = 1 << kJumpCacheBits;
static_assert(sizeof(JumpCacheEntry) == 32);
// The slot of a PC: a multiplicative hash of its low 32 bits, so blocks at
// the same offset of different pages do not evict each other (as they did
// with the offset alone). Generated code computes the same
// (EmitContext::exit_indirect).
constexpr unsigned jump_cache_index(uint64_t pc) {
    return unsigned((uint32_t(pc) * 0x9E3779B1u) >> (32 - kJumpCacheBits));
}
constexpr JumpCacheEntry kEmptyJumpCacheEntry{~0ull, ~0ull, nullptr, nullptr};
// The mode of a jump-cache entry that must be checked against the page
// tables before use (no translation mode has this value).
constexpr uint64_t kJumpCacheStale = ~0ull;

struct alignas(64) CpuState {
    // --- hot: addressed by generated code with short displacements ---
    uint64_t gpr[16] = {};
    uint64_t rip = 0xfff0;
    uint64_t eflags = flag::kFixed1; // OSZAPC are stale while generated code runs
    uint32_t exit_request = 0;       // non-zero: leave generated code at the next block entry
    uint32_t mode = 0;               // translation mode of the current code (see frontend/mode.h)
    uint64_t scratch[6] = {};        // temporaries of generated code (flag saves, spills)

    // --- segmentation and system registers ---
    SegmentCache seg[kSegCount];
    SegmentBounds seg_bounds[kSegCount]; // see refresh_segment_bounds()
    DescriptorTableReg gdtr, idtr;
    SegmentCache ldtr, tr;
    uint64_t cr0 = cr0::ET | cr0::CD | cr0::NW, cr2 = 0, cr3 = 0, cr4 = 0, cr8 = 0;
    uint64_t efer = 0;
    uint64_t dr[8] = {0, 0, 0, 0, 0xffff0ff0, 0x400, 0xffff0ff0, 0x400};
    uint64_t xcr0 = 1;

    // --- MSRs ---
    uint64_t star = 0, lstar = 0, cstar = 0, sfmask = 0, kernel_gs_base = 0;
    uint64_t sysenter_cs = 0, sysenter_esp = 0, sysenter_eip = 0;
    uint64_t tsc_offset = 0, tsc_aux = 0, apic_base = 0xfee00100, pat = 0x0007040600070406ull;
    uint64_t misc_enable = 0x1801; // fast strings; BTS and PEBS unavailable
    uint64_t mtrr_def_type = 0;    // MTRRs (machine/msr.cpp): memory types only, no caches are modelled
    uint64_t mtrr_fixed[11] = {};  // 250H, 258H, 259H, 268H..26FH
    uint64_t mtrr_var[16] = {};    // PHYSBASE0, PHYSMASK0, ... (200H..20FH)

    // --- SSE state (host XMM registers hold it while generated code runs) ---
    alignas(16) uint8_t xmm[16][16] = {};
    uint32_t mxcsr = 0x1f80;
    uint32_t host_mxcsr = 0x1f80; // the host's, restored when leaving generated code

    // --- event state ---
    bool halted = false;
    bool interrupt_shadow = false;
    uint32_t nmi_pending = 0; // set from any thread (local APIC LINT1/IPI); taken between instructions
    bool nmi_blocked = false; // from NMI delivery until the next IRET
    uint32_t pending_data_breakpoints = 0; // DR6.Bn bits hit by the running instruction (a trap after it)
    unsigned cpl() const { return seg[CS].dpl(); }

    // --- soft MMU (per vCPU) ---
    alignas(64) TlbEntry tlb[kMmuIndexes][kTlbEntries];
    JumpCacheEntry jump_cache[kJumpCacheEntries];

    // Bounce buffer for accesses that cannot run on host memory directly
    // (MMIO, page-straddling): the instruction runs on this, then it is written back.
    alignas(64) uint8_t bounce[64] = {};
    uint64_t bounce_addr = 0;
    uint32_t bounce_size = 0;
    uint32_t bounce_flags = 0;
    uint64_t bounce_phys[2] = {};

    // Set by a block's unchained direct exit: the dispatcher may chain it.
    void* chain_block = nullptr;
    uint64_t chain_exit = 0;

    void* vcpu = nullptr; // the owning Vcpu (opaque here)

    // --- x87 FPU (machine/x87.h); at the end, so that the hot fields above keep their offsets ---
    // FCW, FSW, FTW and ST0-7 in the FNSAVE 32-bit protected-mode layout (the
    // form the trampolines move to and from the host x87 unit; its pointer
    // fields are the host's and meaningless). While generated code runs and
    // x87_live is set, the host x87 unit holds this state instead.
    alignas(16) uint8_t x87_image[108] = {};
    uint16_t x87_fcs = 0, x87_fds = 0, x87_fop = 0; // pointers of the last non-control x87 instruction
    uint64_t x87_fip = 0, x87_fdp = 0;
    uint8_t x87_live = 0;             // the host x87 unit holds the guest's state (generated code only)
    uint16_t host_fcw = 0x37f;        // the host's control word, restored when C++ code runs
    const void* x87_ensure = nullptr; // called by a block's first x87 instruction: loads the state once

    // --- AVX: the upper halves of YMM0-15 (frontend/emit_avx.cpp, jit/trampoline.cpp) ---
    // ymm_dirty clear: every upper half is zero (ymm_high is then stale and
    // the host's upper halves are zero while generated code runs). Set: they
    // may not be; the host YMM registers hold them while generated code runs
    // and ymm_high whenever C++ code does.
    alignas(16) uint8_t ymm_high[16][16] = {};
    uint8_t ymm_dirty = 0;
};

} // namespace hayate
