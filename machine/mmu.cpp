// The soft MMU: page walks for every paging mode (32-bit with PSE-36, PAE,
// 4-level), A/D bits, access rights (U/S, R/W, WP, NX, SMEP, SMAP),
// reserved bits, TLB fill and flush (global pages), the paging side of the
// control registers, and the linear memory accessors helpers use.
#include "machine/debug_regs.h"
#include "machine/log.h"
#include "machine/machine.h"
#include "machine/memory.h"
#include "machine/system.h"
#include "machine/vcpu.h"
#include <atomic>
#include <cstring>

namespace hayate {

namespace {

constexpr uint64_t P = 1, RW = 2, US = 4, A = 0x20, D = 0x40, PS = 0x80, G = 0x100;
constexpr uint64_t XD = 1ull << 63;
// #PF error code bits (SDM vol. 3, 4.7).
constexpr uint32_t kErrP = 1, kErrW = 2, kErrU = 4, kErrRsvd = 8, kErrId = 0x10;

constexpr uint64_t bits(unsigned hi, unsigned lo) { return ((~0ull) >> (63 - hi)) & ~((1ull << lo) - 1); }
// Physical-address bits at or above MAXPHYADDR, up to `top`.
constexpr uint64_t above_maxphyaddr(unsigned top) { return bits(top, kPhysAddrBits); }
constexpr uint64_t kFrame = bits(kPhysAddrBits - 1, 12);

bool is_canonical(uint64_t v) { return int64_t(v << 16) >> 16 == int64_t(v); }

enum class SetBits { Done, Changed };

// Sets A (and D) in a guest paging-structure entry the way the processor
// does: a locked compare-exchange against the value the walk used, so an
// entry changed meanwhile (another agent) is walked again instead of being
// marked. An entry outside RAM cannot be marked; the walk goes on.
SetBits set_bits(PhysicalMemory& mem, uint64_t addr, unsigned size, uint64_t flags, uint64_t seen) {
    if ((seen & flags) == flags) return SetBits::Done;
    uint8_t* h = mem.host_range(addr, size);
    if (!h) return SetBits::Done;
    bool ok;
    if (size == 8) {
        uint64_t expected = seen;
        ok = std::atomic_ref<uint64_t>(*reinterpret_cast<uint64_t*>(h))
                 .compare_exchange_strong(expected, seen | flags);
    } else {
        uint32_t expected = uint32_t(seen);
        ok = std::atomic_ref<uint32_t>(*reinterpret_cast<uint32_t*>(h))
                 .compare_exchange_strong(expected, uint32_t(seen | flags));
    }
    if (!ok) return SetBits::Changed;
    mem.notify_write(addr, size);
    return SetBits::Done;
}

// Who makes an access and what it may touch (SDM vol. 3, 4.6).
struct AccessRights {
    bool write, fetch;
    bool user; // a user-mode access (CPL 3, not an implicit supervisor access)
    bool smap; // supervisor data access that user-mode pages refuse
    bool smep; // supervisor fetch that user-mode pages refuse
    bool wp;   // CR0.WP: supervisor writes honour R/W
    bool nxe;
};

struct WalkResult {
    enum Status { Ok, Fault, Retry } status = Fault;
    uint64_t phys = 0;
    bool global = false;
    uint64_t page_size = 0x1000; // of the mapping: 4 KiB, 2/4 MiB or 1 GiB
    uint32_t fault_code = 0;     // #PF error code on Fault
};

// The access-rights check at the end of a successful walk. `user_page`,
// `writable` and `executable` combine every level (SDM vol. 3, 4.6.1).
bool permitted(const AccessRights& r, bool user_page, bool writable, bool executable) {
    if (r.fetch) {
        if (!executable) return false;
        if (r.user) return user_page;
        return !(user_page && r.smep);
    }
    if (r.user) return user_page && (!r.write || writable);
    if (user_page && r.smap) return false;
    return !r.write || writable || !r.wp;
}

WalkResult walk(Vcpu& cpu, uint64_t linear, const AccessRights& r) {
    CpuState& s = cpu.state;
    PhysicalMemory& mem = cpu.machine.memory();
    WalkResult w;
    uint32_t err = (r.write ? kErrW : 0) | (r.user ? kErrU : 0);
    if (r.fetch && ((s.cr4 & cr4::SMEP) || ((s.cr4 & cr4::PAE) && r.nxe))) err |= kErrId;
    auto fail = [&](uint32_t why) {
        w.status = WalkResult::Fault;
        w.fault_code = err | why;
        return w;
    };
    auto retry = [&]() {
        w.status = WalkResult::Retry;
        return w;
    };
    bool user_page = true, writable = true, executable = true;
    auto leaf = [&](uint64_t e_addr, unsigned size, uint64_t e, uint64_t page_size, uint64_t base) {
        if (!permitted(r, user_page, writable, executable)) return fail(kErrP);
        if (set_bits(mem, e_addr, size, A | (r.write ? D : 0), e) == SetBits::Changed) return retry();
        w.status = WalkResult::Ok;
        w.phys = base | (linear & (page_size - 1));
        w.page_size = page_size;
        w.global = (e & G) && (s.cr4 & cr4::PGE);
        return w;
    };

    if (!(s.cr4 & cr4::PAE)) {
        // 32-bit paging (SDM vol. 3, 4.3), with PSE-36 4 MiB pages.
        const uint64_t pde_addr = (s.cr3 & 0xfffff000) + ((linear >> 22) & 0x3ff) * 4;
        const uint32_t pde = uint32_t(mem.read(pde_addr, 4));
        if (!(pde & P)) return fail(0);
        user_page &= bool(pde & US);
        writable &= bool(pde & RW);
        if ((pde & PS) && (s.cr4 & cr4::PSE)) {
            // Bits 20:13 hold physical-address bits 39:32; those at or above
            // MAXPHYADDR (at most 40 here), and bit 21, are reserved.
            constexpr unsigned kPse36Bits = kPhysAddrBits < 40 ? kPhysAddrBits : 40;
            constexpr uint64_t kRsvd = bits(21, 13 + (kPse36Bits - 32));
            if (pde & kRsvd) return fail(kErrP | kErrRsvd);
            const uint64_t base = (pde & 0xffc00000ull) | (uint64_t((pde >> 13) & 0xff) << 32);
            return leaf(pde_addr, 4, pde, 0x400000, base);
        }
        if (set_bits(mem, pde_addr, 4, A, pde) == SetBits::Changed) return retry();
        const uint64_t pte_addr = (pde & 0xfffff000) + ((linear >> 12) & 0x3ff) * 4;
        const uint32_t pte = uint32_t(mem.read(pte_addr, 4));
        if (!(pte & P)) return fail(0);
        user_page &= bool(pte & US);
        writable &= bool(pte & RW);
        return leaf(pte_addr, 4, pte, 0x1000, pte & 0xfffff000);
    }

    const bool four_level = s.efer & efer::LMA;
    // Reserved physical-address bits: 51:M with 4-level paging (62:52 are
    // ignored there), 62:M with PAE paging; XD is reserved without EFER.NXE.
    const uint64_t rsvd = (four_level ? above_maxphyaddr(51) : above_maxphyaddr(62)) | (r.nxe ? 0 : XD);
    uint64_t table;
    int level;
    if (four_level) {
        table = s.cr3 & kFrame;
        level = 4;
    } else {
        // PAE paging: the PDPTE registers loaded with CR3 (SDM vol. 3, 4.4.1).
        const uint64_t pdpte = cpu.pae_pdpte[(linear >> 30) & 3];
        if (!(pdpte & P)) return fail(0);
        table = pdpte & kFrame;
        level = 2;
    }
    for (;; level--) {
        const unsigned shift = 12 + 9 * unsigned(level - 1);
        const uint64_t e_addr = table + ((linear >> shift) & 0x1ff) * 8;
        const uint64_t e = mem.read(e_addr, 8);
        if (!(e & P)) return fail(0);
        if (e & rsvd) return fail(kErrP | kErrRsvd);
        user_page &= bool(e & US);
        writable &= bool(e & RW);
        if (r.nxe && (e & XD)) executable = false;
        if (level == 1) return leaf(e_addr, 8, e, 0x1000, e & kFrame);
        if (e & PS) {
            // PS is reserved in a PML4E; a PDPTE maps 1 GiB, a PDE 2 MiB, and
            // the frame bits below the page size (above the PAT bit) are reserved.
            if (level == 4) return fail(kErrP | kErrRsvd);
            const uint64_t page_size = 1ull << shift;
            if (e & bits(shift - 1, 13)) return fail(kErrP | kErrRsvd);
            return leaf(e_addr, 8, e, page_size, e & kFrame & ~(page_size - 1));
        }
        if (set_bits(mem, e_addr, 8, A, e) == SetBits::Changed) return retry();
        table = e & kFrame;
    }
}

} // namespace

// The walk for `linear` with the rights of the current CPU state; Retry is
// resolved here (an entry that keeps changing under the walk is walked again).
static WalkResult walk_current(Vcpu& cpu, uint64_t linear, Vcpu::Access acc, bool user) {
    const CpuState& s = cpu.state;
    AccessRights r;
    r.write = acc == Vcpu::Access::Write;
    r.fetch = acc == Vcpu::Access::Execute;
    r.user = user;
    // Implicit supervisor accesses (descriptor tables, TSS; any supervisor
    // access at CPL 3 is one): SMAP applies to them whatever EFLAGS.AC says.
    r.smap = !user && (s.cr4 & cr4::SMAP) && (s.cpl() == 3 || !(s.eflags & flag::AC) || cpu.implicit_access);
    r.smep = !user && (s.cr4 & cr4::SMEP);
    r.wp = s.cr0 & cr0::WP;
    r.nxe = s.efer & efer::NXE;
    for (;;) {
        WalkResult w = walk(cpu, linear, r);
        if (w.status != WalkResult::Retry) return w;
    }
}

bool Vcpu::translate(uint64_t linear, Access acc, bool user, uint64_t& phys) {
    last_translation_global = false;
    if (state.efer & efer::LMA) {
        if (!is_canonical(linear)) {
            raise(13, true, 0);
            return false;
        }
    } else {
        linear = uint32_t(linear);
    }
    if (!(state.cr0 & cr0::PG)) {
        phys = linear & a20_mask;
        return true;
    }
    WalkResult w = walk_current(*this, linear, acc, user);
    if (w.status != WalkResult::Ok) {
        state.cr2 = linear;
        log_cat(logcat::kMmu, "#PF at {:#x} err {:#x} (rip {:#x})", linear, w.fault_code, state.rip);
        raise(14, true, w.fault_code);
        return false;
    }
    // The TLB holds 4 KiB pieces of a large page; INVLPG must find them all.
    if (w.page_size > kPageSize) note_large_page(linear, w.page_size);
    last_translation_global = w.global;
    phys = w.phys & a20_mask;
    return true;
}

bool Vcpu::probe_translate(uint64_t linear, Access acc, bool user, uint64_t& phys) {
    if (state.efer & efer::LMA) {
        if (!is_canonical(linear)) return false;
    } else {
        linear = uint32_t(linear);
    }
    if (!(state.cr0 & cr0::PG)) {
        phys = linear & a20_mask;
        last_translation_global = false;
        return true;
    }
    WalkResult w = walk_current(*this, linear, acc, user);
    phys = w.phys & a20_mask;
    last_translation_global = w.status == WalkResult::Ok && w.global;
    return w.status == WalkResult::Ok;
}

uint64_t Vcpu::linear_of(int seg, uint64_t offset, unsigned address_bytes) const {
    if (address_bytes == 2)
        offset = uint16_t(offset);
    else if (address_bytes == 4)
        offset = uint32_t(offset);
    if (state.efer & efer::LMA && state.seg[CS].is_long()) {
        if (seg == FS || seg == GS) return offset + state.seg[seg].base;
        return offset;
    }
    return uint32_t(offset + state.seg[seg].base);
}

bool Vcpu::map_linear(uint64_t linear, Access acc, bool user, uint8_t*& host, uint64_t& phys) {
    if (!translate(linear, acc, user, phys)) return false;
    host = machine.memory().host_range(phys & kPageMask, kPageSize);
    if (host) host += phys & 0xfff;
    return true;
}

bool Vcpu::read_linear(uint64_t linear, void* out, unsigned size, bool user) {
    uint64_t phys[2];
    unsigned first = std::min<unsigned>(size, unsigned(kPageSize - (linear & 0xfff)));
    if (!translate(linear, Access::Read, user, phys[0])) return false;
    if (first < size && !translate(linear + first, Access::Read, user, phys[1])) return false;
    if (debug_breakpoints_enabled(state))
        state.pending_data_breakpoints |= data_breakpoint_hits(state, linear, size, false);
    auto* o = static_cast<uint8_t*>(out);
    PhysicalMemory& mem = machine.memory();
    for (unsigned i = 0; i < size;) {
        uint64_t p = i < first ? phys[0] + i : phys[1] + (i - first);
        unsigned chunk = i < first ? first - i : size - i;
        if (uint8_t* h = mem.host_range(p, chunk)) {
            std::memcpy(o + i, h, chunk);
            i += chunk;
            continue;
        }
        // MMIO: naturally sized pieces.
        unsigned n = chunk >= 8 && !(p & 7) ? 8 : chunk >= 4 && !(p & 3) ? 4 : chunk >= 2 && !(p & 1) ? 2 : 1;
        uint64_t v = mem.read(p, n);
        std::memcpy(o + i, &v, n);
        i += n;
    }
    return true;
}

bool Vcpu::read_system(uint64_t linear, void* out, unsigned size) {
    implicit_access = true;
    const bool ok = read_linear(linear, out, size, false);
    implicit_access = false;
    return ok;
}

bool Vcpu::write_system(uint64_t linear, const void* in, unsigned size) {
    implicit_access = true;
    const bool ok = write_linear(linear, in, size, false);
    implicit_access = false;
    return ok;
}

bool Vcpu::write_linear(uint64_t linear, const void* in, unsigned size, bool user) {
    uint64_t phys[2];
    unsigned first = std::min<unsigned>(size, unsigned(kPageSize - (linear & 0xfff)));
    if (!translate(linear, Access::Write, user, phys[0])) return false;
    if (first < size && !translate(linear + first, Access::Write, user, phys[1])) return false;
    if (debug_breakpoints_enabled(state))
        state.pending_data_breakpoints |= data_breakpoint_hits(state, linear, size, true);
    const auto* b = static_cast<const uint8_t*>(in);
    PhysicalMemory& mem = machine.memory();
    for (unsigned i = 0; i < size;) {
        uint64_t p = i < first ? phys[0] + i : phys[1] + (i - first);
        unsigned chunk = i < first ? first - i : size - i;
        if (uint8_t* h = mem.host_range(p, chunk)) {
            std::memcpy(h, b + i, chunk);
            mem.notify_write(p, chunk);
            i += chunk;
            continue;
        }
        unsigned n = chunk >= 8 && !(p & 7) ? 8 : chunk >= 4 && !(p & 3) ? 4 : chunk >= 2 && !(p & 1) ? 2 : 1;
        uint64_t v = 0;
        std::memcpy(&v, b + i, n);
        mem.write(p, n, v);
        i += n;
    }
    return true;
}

// ---------------------------------------------------------------- the TLB
//
// The TLB caches translations of the current address space only: a CR3
// write drops every non-global entry, whatever its PCID and no-flush bit say
// (holding fewer translations than the hardware may is always allowed).

void Vcpu::set_a20(bool enabled) {
    const uint64_t mask = enabled ? ~0ull : ~(1ull << 20);
    if (mask == a20_mask) return;
    a20_mask = mask;
    flush_tlb(); // every cached translation may now point elsewhere
}

void Vcpu::clear_tlb_slot(unsigned m, unsigned i) {
    TlbEntry& e = state.tlb[m][i];
    e.tag_read = e.tag_write = tlb_invalid_tag(i);
    e.host_page = nullptr;
    e.phys_page = ~0ull;
    tlb_global[m][i] = false;
    tlb_listed[m][i] = 0;
}

void Vcpu::clear_used_tlb_slots() {
    for (uint32_t u : tlb_used) clear_tlb_slot(u >> kTlbBits, u & (kTlbEntries - 1));
    tlb_used.clear();
    tlb_large_addr = ~0ull;
    tlb_large_mask = 0;
}

void Vcpu::flush_tlb() {
    clear_used_tlb_slots();
    flush_jump_cache();
}

void Vcpu::flush_tlb_nonglobal() {
    size_t kept = 0;
    for (uint32_t u : tlb_used) {
        const unsigned m = u >> kTlbBits, i = u & (kTlbEntries - 1);
        if (tlb_global[m][i])
            tlb_used[kept++] = u;
        else
            clear_tlb_slot(m, i);
    }
    tlb_used.resize(kept);
    // Jump-cache entries whose code sits in global pages stay, as those
    // translations do. The others become stale: generated code no longer
    // takes them (their mode matches nothing), but the dispatcher may, once
    // a page walk shows the PC still maps to the block's physical address -
    // processes running the same program usually map it the same way.
    for (uint32_t i : jump_cache_used)
        if (!jump_cache_global[i]) state.jump_cache[i].mode = kJumpCacheStale;
}

void Vcpu::note_large_page(uint64_t linear, uint64_t size) {
    uint64_t mask = ~(size - 1);
    if (tlb_large_addr == ~0ull) {
        tlb_large_addr = linear & mask;
        tlb_large_mask = mask;
        return;
    }
    // Widen the region until it holds both (as QEMU's tlb_add_large_page).
    mask &= tlb_large_mask;
    while ((tlb_large_addr ^ linear) & mask) mask <<= 1;
    tlb_large_addr &= mask;
    tlb_large_mask = mask;
}

void Vcpu::flush_tlb_page(uint64_t linear) {
    if (!(state.efer & efer::LMA)) linear = uint32_t(linear);
    // INVLPG drops the whole translation of a large page holding the address
    // (SDM Vol. 3 4.10.4.1), whose 4 KiB pieces sit in any slot: when the
    // address falls in the region of the large pages seen, flush everything.
    // The jump cache keeps the entries of other pages; for a large page,
    // those outside the 1 GiB around the address (the largest page size).
    uint64_t keep_mask = ~0xfffull;
    if ((linear & tlb_large_mask) == tlb_large_addr) {
        clear_used_tlb_slots();
        keep_mask = ~((1ull << 30) - 1);
    } else {
        unsigned i = unsigned(linear >> 12) & (kTlbEntries - 1);
        for (int m = 0; m < kMmuIndexes; m++) {
            TlbEntry& e = state.tlb[m][i];
            e.tag_read = e.tag_write = tlb_invalid_tag(i);
            e.phys_page = ~0ull;
            tlb_global[m][i] = false;
        }
    }
    // Jump-cache PCs are linear addresses (only flat modes use it); in
    // legacy modes compare their low 32 bits, as the linear address wraps.
    const uint64_t width_mask = (state.efer & efer::LMA) ? ~0ull : 0xffffffffull;
    for (uint32_t i : jump_cache_used) {
        JumpCacheEntry& e = state.jump_cache[i];
        if (e.code && (((e.pc ^ linear) & width_mask & keep_mask) == 0)) e = kEmptyJumpCacheEntry;
    }
}

void Vcpu::flush_tlb_phys_page_write(uint64_t phys_page) {
    for (uint32_t u : tlb_used) {
        const unsigned m = u >> kTlbBits, i = u & (kTlbEntries - 1);
        TlbEntry& e = state.tlb[m][i];
        if (e.phys_page == (phys_page & kPageMask)) e.tag_write = tlb_invalid_tag(i);
    }
}

// Every slot, whatever the bookkeeping says (power-on and reset).
void Vcpu::invalidate_all_translations() {
    for (unsigned m = 0; m < unsigned(kMmuIndexes); m++)
        for (unsigned i = 0; i < unsigned(kTlbEntries); i++) clear_tlb_slot(m, i);
    tlb_used.clear();
    tlb_large_addr = ~0ull;
    tlb_large_mask = 0;
    for (unsigned i = 0; i < unsigned(kJumpCacheEntries); i++) {
        state.jump_cache[i] = kEmptyJumpCacheEntry;
        jump_cache_listed[i] = 0;
        jump_cache_global[i] = 0;
    }
    jump_cache_used.clear();
}

void Vcpu::flush_jump_cache() {
    for (uint32_t i : jump_cache_used) {
        state.jump_cache[i] = kEmptyJumpCacheEntry;
        jump_cache_listed[i] = 0;
    }
    jump_cache_used.clear();
}

// Fills the TLB for an access that the slow path found to be plain RAM,
// right after translate() succeeded for it.
void tlb_fill(Vcpu& cpu, int mmu_index, uint64_t linear, uint64_t phys, bool writable) {
    unsigned i = unsigned(linear >> 12) & (kTlbEntries - 1);
    TlbEntry& e = cpu.state.tlb[mmu_index][i];
    uint8_t* host = cpu.machine.memory().host_page(phys);
    if (!host) return;
    uint64_t page = linear & kPageMask;
    if (!(cpu.state.efer & efer::LMA)) page = uint32_t(page);
    e.tag_read = page;
    e.tag_write = writable && !cpu.machine.memory().is_code_page(phys) ? page : tlb_invalid_tag(i);
    e.host_page = host;
    e.phys_page = phys & kPageMask;
    cpu.tlb_global[mmu_index][i] = cpu.last_translation_global;
    if (!cpu.tlb_listed[mmu_index][i]) {
        cpu.tlb_listed[mmu_index][i] = 1;
        cpu.tlb_used.push_back(uint32_t(mmu_index) << kTlbBits | i);
    }
}

// ------------------------------------------------- paging control registers

bool Vcpu::load_pae_pdptes(uint64_t cr3) {
    // Reserved in a present PDPTE: bits 2:1, 8:5 and 63:MAXPHYADDR (SDM vol. 3, 4.4.1).
    constexpr uint64_t kRsvd = bits(2, 1) | bits(8, 5) | above_maxphyaddr(63);
    uint64_t loaded[4];
    const uint64_t base = cr3 & 0xffffffe0;
    for (unsigned i = 0; i < 4; i++) {
        loaded[i] = machine.memory().read(base + i * 8, 8);
        if ((loaded[i] & P) && (loaded[i] & kRsvd)) return false;
    }
    std::copy(std::begin(loaded), std::end(loaded), std::begin(pae_pdpte));
    return true;
}

bool write_cr3(Vcpu& cpu, uint64_t value) {
    CpuState& s = cpu.state;
    if (s.efer & efer::LMA) {
        // With CR4.PCIDE, bit 63 asks to keep the new PCID's translations; it
        // is never stored. Bits MAXPHYADDR and up are reserved.
        if (s.cr4 & cr4::PCIDE) value &= ~(1ull << 63);
        if (value & above_maxphyaddr(63)) {
            cpu.raise(13, true, 0);
            return false;
        }
    } else {
        value = uint32_t(value);
        if ((s.cr0 & cr0::PG) && (s.cr4 & cr4::PAE) && !cpu.load_pae_pdptes(value)) {
            cpu.raise(13, true, 0);
            return false;
        }
    }
    s.cr3 = value;
    cpu.flush_tlb_nonglobal();
    return true;
}

bool commit_paging_controls(Vcpu& cpu, uint64_t cr0, uint64_t cr4, uint64_t efer) {
    CpuState& s = cpu.state;
    const bool lma = efer & efer::LMA;
    auto gp = [&] {
        cpu.raise(13, true, 0);
        return false;
    };
    // PCIDs exist only in IA-32e mode, and are turned on with PCID 0 current;
    // paging cannot be turned off under them (SDM vol. 2, MOV CR; vol. 3, 4.10.1).
    if ((cr4 & cr4::PCIDE) && !lma) return gp();
    if ((cr4 & cr4::PCIDE) && !(s.cr4 & cr4::PCIDE) && (s.cr3 & 0xfff)) return gp();
    if ((cr4 & cr4::PCIDE) && !(cr0 & cr0::PG)) return gp();
    // PAE paging loads the PDPTE registers when it is (or stays) on and the
    // write changes CD, NW, PG, PAE, PGE, PSE or SMEP (SDM vol. 3, 4.4.1).
    const bool pae_paging = (cr0 & cr0::PG) && (cr4 & cr4::PAE) && !lma;
    const bool reload = ((cr0 ^ s.cr0) & (cr0::CD | cr0::NW | cr0::PG)) ||
                        ((cr4 ^ s.cr4) & (cr4::PAE | cr4::PGE | cr4::PSE | cr4::SMEP));
    if (pae_paging && reload && !cpu.load_pae_pdptes(s.cr3)) return gp();
    const bool flush =
        ((cr0 ^ s.cr0) & (cr0::PG | cr0::WP | cr0::PE)) ||
        ((cr4 ^ s.cr4) & (cr4::PSE | cr4::PAE | cr4::PGE | cr4::PCIDE | cr4::SMEP | cr4::SMAP)) ||
        ((efer ^ s.efer) & (efer::LMA | efer::NXE));
    s.cr0 = cr0;
    s.cr4 = cr4;
    s.efer = efer;
    if (flush) cpu.flush_tlb();
    return true;
}

} // namespace hayate
