// One virtual CPU: its architectural state and the system-architecture
// operations on it (segment loads, exceptions, MSRs, CPUID, paging walks).
#pragma once
#include "machine/cpu_state.h"
#include <cstdint>
#include <string>
#include <vector>

namespace hayate {

class Machine;
class LocalApic;
class TcgEngine;

// Thrown out of helpers is never done: helpers return status codes. This is
// what a guest exception looks like while it is being raised.
struct GuestException {
    uint8_t vector;
    bool has_error_code;
    uint32_t error_code;
};

class Vcpu {
  public:
    Vcpu(Machine& machine, int index);
    ~Vcpu();

    CpuState state; // must stay first: generated code gets &state
    Machine& machine;
    const int index;

    void reset(); // power-on/INIT state: real mode at F000:FFF0

    // Loads a segment register's hidden part directly (loaders, reset, KVM sync).
    void set_segment(SegReg s, uint16_t selector, uint64_t base, uint32_t limit, uint16_t attr);
    // The state a multiboot loader hands over: flat 32-bit protected mode,
    // paging off, interrupts off; CS = 0x08 and DS/ES/FS/GS/SS = 0x10 with the
    // descriptor caches of the flat code and data descriptors of the loader's
    // GDT at `gdt_base` (GDTR gets `gdt_base`/`gdt_limit`).
    void enter_flat_protected_mode(uint32_t eip, uint32_t gdt_base, uint16_t gdt_limit,
                                   uint16_t code_selector = 0x08, uint16_t data_selector = 0x10);

    // ---- guest memory, as the CPU sees it (for helpers and the dispatcher) ----
    enum class Access { Read, Write, Execute };
    // Walks the page tables for `linear`; on failure raises #PF (or #GP for a
    // non-canonical address) in the guest and returns false. `user` selects
    // user-mode access rights (CPL 3 data accesses); `supervisor_implicit`
    // accesses (descriptor tables, TSS) pass user=false.
    bool translate(uint64_t linear, Access acc, bool user, uint64_t& phys);
    // The same walk without raising anything (code fetch look-ahead, debuggers). No A/D side effects are
    // avoided.
    bool probe_translate(uint64_t linear, Access acc, bool user, uint64_t& phys);
    // Reads/writes up to 16 bytes at a linear address (may straddle pages;
    // all pages are checked before anything is written). Raise and return false on fault.
    bool read_linear(uint64_t linear, void* out, unsigned size, bool user);
    bool write_linear(uint64_t linear, const void* in, unsigned size, bool user);
    // The same for the processor's own structures (GDT, LDT, IDT, TSS): the
    // SDM's implicit supervisor-mode accesses, which SMAP refuses on user
    // pages whatever EFLAGS.AC and the CPL are.
    bool read_system(uint64_t linear, void* out, unsigned size);
    bool write_system(uint64_t linear, const void* in, unsigned size);
    bool implicit_access = false; // set while read_system/write_system walk
    // Host pointer to the RAM page holding `linear` (checked for `acc`), for bulk
    // operations; `host` is nullptr when the page is not plain RAM (MMIO).
    bool map_linear(uint64_t linear, Access acc, bool user, uint8_t*& host, uint64_t& phys);
    bool user_mode() const { return state.cpl() == 3; }
    // Wraps an offset by the address size and adds the segment base.
    uint64_t linear_of(int seg, uint64_t offset, unsigned address_bytes) const;

    // ---- exceptions and interrupts ----
    // Delivers an exception/interrupt through the IDT (handles #DF and triple
    // faults). `next_rip` is the return address for software interrupts/traps.
    void raise(uint8_t vector, bool has_error = false, uint32_t error_code = 0);
    void raise_software_interrupt(uint8_t vector, uint64_t next_rip, bool int3_or_into);
    // An external interrupt (from the interrupt controller) at the current RIP.
    void deliver_interrupt(uint8_t vector);
    // Set when delivery of an exception failed three times: the board resets/ends.
    bool triple_faulted = false;
    // The A20 gate (i8042 output port, port 0x92): when closed, physical
    // address bit 20 reads as 0, as on an 8086 wrapping at 1 MiB.
    uint64_t a20_mask = ~0ull;
    // This CPU's local APIC (set by the board; null in harnesses without one).
    LocalApic* apic = nullptr;
    void set_a20(bool enabled);
    uint8_t last_exceptions[4] = {};
    unsigned last_exception_count = 0;
    // Exceptions and interrupts delivered so far (single-step: an instruction
    // that ended in one does not also trap).
    uint64_t event_count = 0;

    // ---- TLB ----
    void flush_tlb();                                   // everything (CR3/CR0/CR4 writes)
    void flush_tlb_page(uint64_t linear);               // INVLPG
    void flush_tlb_phys_page_write(uint64_t phys_page); // page became a code page
    void flush_jump_cache();
    void invalidate_all_translations(); // every TLB and jump-cache slot (reset)
    void clear_tlb_slot(unsigned mmu_index, unsigned slot);
    void clear_used_tlb_slots(); // and forget the large pages seen
    // Records a large-page translation (2/4 MiB, 1 GiB): the TLB holds it in
    // 4 KiB pieces, which INVLPG anywhere in the large page must all drop.
    void note_large_page(uint64_t linear, uint64_t size);
    // The smallest aligned region holding every large page translated since
    // the last full flush (tlb_large_addr is ~0 when there is none).
    uint64_t tlb_large_addr = ~0ull, tlb_large_mask = 0;
    // CR3 writes keep the entries of global pages (CR4.PGE, G=1).
    void flush_tlb_nonglobal();
    bool tlb_global[kMmuIndexes][kTlbEntries] = {};
    // The TLB and jump-cache slots filled since they were last flushed, so a
    // flush touches those only (a CR3 write would otherwise sweep 512 KiB).
    std::vector<uint32_t> tlb_used; // mmu_index << kTlbBits | slot
    uint8_t tlb_listed[kMmuIndexes][kTlbEntries] = {};
    std::vector<uint32_t> jump_cache_used;
    uint8_t jump_cache_listed[kJumpCacheEntries] = {};
    void note_jump_cache_fill(unsigned slot) {
        if (!jump_cache_listed[slot]) {
            jump_cache_listed[slot] = 1;
            jump_cache_used.push_back(slot);
        }
    }
    bool last_translation_global = false; // of the last successful translate(), for the TLB fill
    // Per jump-cache entry: its PC's translation came from a global page, so
    // the entry survives CR3 writes as a global TLB entry does.
    uint8_t jump_cache_global[kJumpCacheEntries] = {};

    // ---- paging control (machine/mmu.cpp) ----
    // PAE paging's PDPTE registers, loaded from the table at CR3 by MOV to
    // CR3/CR0/CR4 (SDM vol. 3, 4.4.1); false, loading nothing, when a present
    // one has reserved bits set.
    uint64_t pae_pdpte[4] = {};
    bool load_pae_pdptes(uint64_t cr3);

    // A one-screen dump of the guest state (triple faults, -d cpu, errors).
    std::string dump_state() const;

    TcgEngine* tcg = nullptr; // owned by the accelerator
    // Set by code-invalidation when the block that is running was hit by a store.
    bool current_block_invalidated = false;
    uint64_t code_write_count = 0;
};

} // namespace hayate
