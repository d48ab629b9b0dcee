// The soft MMU: page walks for every paging mode (32-bit with PSE, PAE,
// 4-level), A/D bits, permission checks, TLB fill and flush, and the linear
// memory accessors helpers use.
#include "machine/log.h"
#include "machine/machine.h"
#include "machine/memory.h"
#include "machine/vcpu.h"
#include <atomic>
#include <cstring>

namespace hayate {

namespace {

constexpr uint64_t P = 1, RW = 2, US = 4, A = 0x20, D = 0x40, PS = 0x80, G = 0x100;
constexpr uint64_t NX = 1ull << 63;

bool is_canonical(uint64_t v) { return int64_t(v << 16) >> 16 == int64_t(v); }

// Sets A (and D) in a guest page-table entry atomically; false if the entry
// is not in RAM.
bool set_bits(PhysicalMemory& mem, uint64_t addr, unsigned size, uint64_t bits, uint64_t old) {
    if ((old & bits) == bits) return true;
    uint8_t* h = mem.host_range(addr, size);
    if (!h) return false;
    if (size == 8) std::atomic_ref<uint64_t>(*reinterpret_cast<uint64_t*>(h)).fetch_or(bits);
    else std::atomic_ref<uint32_t>(*reinterpret_cast<uint32_t*>(h)).fetch_or(uint32_t(bits));
    mem.notify_write(addr, size);
    return true;
}

} // namespace

struct WalkResult {
    uint64_t phys = 0;
    bool writable = false; // the mapping allows writes for this privilege
    bool user = false;
    bool global = false;
    uint64_t page_size = 0x1000; // of the mapping: 4 KiB, 2/4 MiB or 1 GiB
    uint32_t fault_code = 0;     // #PF error code when !ok
    bool ok = false;
};

static WalkResult walk(Vcpu& cpu, uint64_t linear, Vcpu::Access acc, bool user) {
    CpuState& s = cpu.state;
    PhysicalMemory& mem = cpu.machine.memory();
    WalkResult r;
    const bool write = acc == Vcpu::Access::Write;
    const bool fetch = acc == Vcpu::Access::Execute;
    const bool wp = s.cr0 & cr0::WP;
    const bool nxe = s.efer & efer::NXE;
    uint32_t err_base = (write ? 2u : 0u) | (user ? 4u : 0u);
    if (fetch && nxe && (s.cr4 & cr4::PAE)) err_base |= 0x10;
    else if (fetch && (s.cr4 & cr4::PAE)) err_base |= 0; // I/D only with NX support enabled
    auto fail = [&](bool present, bool rsvd = false) {
        r.fault_code = err_base | (present ? 1u : 0u) | (rsvd ? 8u : 0u);
        return r;
    };
    bool allow_w = true, allow_u = true, allow_x = true;

    if (!(s.cr4 & cr4::PAE)) {
        // 32-bit paging
        uint64_t pde_addr = (s.cr3 & 0xfffff000) + ((linear >> 22) & 0x3ff) * 4;
        uint32_t pde = uint32_t(mem.read(pde_addr, 4));
        if (!(pde & P)) return fail(false);
        allow_w &= bool(pde & RW);
        allow_u &= bool(pde & US);
        if ((pde & PS) && (s.cr4 & cr4::PSE)) {
            uint64_t base = (pde & 0xffc00000ull) | (uint64_t((pde >> 13) & 0xff) << 32); // PSE-36
            if (pde & (1u << 21)) return fail(true, true);
            if ((user && !allow_u) || (write && !allow_w && (user || wp))) return fail(true);
            set_bits(mem, pde_addr, 4, A | (write ? D : 0), pde);
            r.phys = base | (linear & 0x3fffff);
            r.page_size = 0x400000;
            r.global = (pde & G) && (s.cr4 & cr4::PGE);
            r.writable = allow_w || (!user && !wp);
            r.user = allow_u;
            r.ok = true;
            return r;
        }
        set_bits(mem, pde_addr, 4, A, pde);
        uint64_t pte_addr = (pde & 0xfffff000) + ((linear >> 12) & 0x3ff) * 4;
        uint32_t pte = uint32_t(mem.read(pte_addr, 4));
        if (!(pte & P)) return fail(false);
        allow_w &= bool(pte & RW);
        allow_u &= bool(pte & US);
        if ((user && !allow_u) || (write && !allow_w && (user || wp))) return fail(true);
        set_bits(mem, pte_addr, 4, A | (write ? D : 0), pte);
        r.phys = (pte & 0xfffff000) | (linear & 0xfff);
        r.global = (pte & G) && (s.cr4 & cr4::PGE);
        r.writable = allow_w || (!user && !wp);
        r.user = allow_u;
        r.ok = true;
        return r;
    }

    const uint64_t addr_mask = 0x000ffffffffff000ull; // MAXPHYADDR 52 bits of frame
    const uint64_t rsvd_high = 0x000ff00000000000ull; // bits above our MAXPHYADDR (44) must be 0
    auto rsvd = [&](uint64_t e) { return (e & rsvd_high) != 0 || (!nxe && (e & NX)); };
    uint64_t table;
    int levels;
    if (s.efer & efer::LMA) {
        table = s.cr3 & addr_mask;
        levels = 4;
    } else {
        // PAE: the four PDPTEs (the CPU caches them at CR3 load; we read them here).
        uint64_t pdpte_addr = (s.cr3 & 0xffffffe0) + ((linear >> 30) & 3) * 8;
        uint64_t pdpte = mem.read(pdpte_addr, 8);
        if (!(pdpte & P)) return fail(false);
        if (pdpte & (0x1e6ull | rsvd_high | NX)) return fail(true, true);
        table = pdpte & addr_mask;
        levels = 2;
    }
    for (int level = levels; level >= 1; level--) {
        int shift = 12 + 9 * (level - 1);
        uint64_t e_addr = table + ((linear >> shift) & 0x1ff) * 8;
        uint64_t e = mem.read(e_addr, 8);
        if (!(e & P)) return fail(false);
        if (rsvd(e)) return fail(true, true);
        allow_w &= bool(e & RW);
        allow_u &= bool(e & US);
        if (nxe && (e & NX)) allow_x = false;
        bool large = level > 1 && (e & PS);
        if (large && level == 4) return fail(true, true);
        if (level == 1 || large) {
            if (large && (e & (((1ull << shift) - 1) & ~0x1fffull) & addr_mask)) return fail(true, true);
            if ((user && !allow_u) || (write && !allow_w && (user || wp)) || (fetch && !allow_x))
                return fail(true);
            set_bits(mem, e_addr, 8, A | (write ? D : 0), e);
            uint64_t page_mask = (1ull << shift) - 1;
            r.phys = ((e & addr_mask) & ~page_mask) | (linear & page_mask);
            r.page_size = page_mask + 1;
            r.global = (e & G) && (s.cr4 & cr4::PGE);
            r.writable = allow_w || (!user && !wp);
            r.user = allow_u;
            r.ok = true;
            return r;
        }
        set_bits(mem, e_addr, 8, A, e);
        table = e & addr_mask;
    }
    return fail(false);
}

bool Vcpu::translate(uint64_t linear, Access acc, bool user, uint64_t& phys) {
    if (state.efer & efer::LMA) {
        if (!is_canonical(linear)) {
            raise(13, true, 0);
            return false;
        }
    } else {
        linear = uint32_t(linear);
    }
    if (!(state.cr0 & cr0::PG)) {
        phys = linear;
        return true;
    }
    WalkResult w = walk(*this, linear, acc, user);
    if (!w.ok) {
        state.cr2 = linear;
        log_cat(logcat::kMmu, "#PF at {:#x} err {:#x} (rip {:#x})", linear, w.fault_code, state.rip);
        raise(14, true, w.fault_code);
        return false;
    }
    // The TLB holds 4 KiB pieces of a large page; INVLPG must find them all.
    if (w.page_size > kPageSize) note_large_page(linear, w.page_size);
    phys = w.phys;
    return true;
}

bool Vcpu::probe_translate(uint64_t linear, Access acc, bool user, uint64_t& phys) {
    if (state.efer & efer::LMA) {
        if (!is_canonical(linear)) return false;
    } else {
        linear = uint32_t(linear);
    }
    if (!(state.cr0 & cr0::PG)) {
        phys = linear;
        return true;
    }
    WalkResult w = walk(*this, linear, acc, user);
    phys = w.phys;
    return w.ok;
}

uint64_t Vcpu::linear_of(int seg, uint64_t offset, unsigned address_bytes) const {
    if (address_bytes == 2) offset = uint16_t(offset);
    else if (address_bytes == 4) offset = uint32_t(offset);
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

bool Vcpu::write_linear(uint64_t linear, const void* in, unsigned size, bool user) {
    uint64_t phys[2];
    unsigned first = std::min<unsigned>(size, unsigned(kPageSize - (linear & 0xfff)));
    if (!translate(linear, Access::Write, user, phys[0])) return false;
    if (first < size && !translate(linear + first, Access::Write, user, phys[1])) return false;
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

void Vcpu::flush_tlb() {
    tlb_large_addr = ~0ull;
    tlb_large_mask = 0;
    for (int m = 0; m < kMmuIndexes; m++)
        for (unsigned i = 0; i < unsigned(kTlbEntries); i++) {
            TlbEntry& e = state.tlb[m][i];
            e.tag_read = e.tag_write = tlb_invalid_tag(i);
            e.host_page = nullptr;
            e.phys_page = ~0ull;
        }
    flush_jump_cache();
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
    if ((linear & tlb_large_mask) == tlb_large_addr) {
        flush_tlb();
        return;
    }
    unsigned i = unsigned(linear >> 12) & (kTlbEntries - 1);
    for (int m = 0; m < kMmuIndexes; m++) {
        TlbEntry& e = state.tlb[m][i];
        e.tag_read = e.tag_write = tlb_invalid_tag(i);
        e.phys_page = ~0ull;
    }
    flush_jump_cache();
}

void Vcpu::flush_tlb_phys_page_write(uint64_t phys_page) {
    for (int m = 0; m < kMmuIndexes; m++)
        for (unsigned i = 0; i < unsigned(kTlbEntries); i++) {
            TlbEntry& e = state.tlb[m][i];
            if (e.phys_page == (phys_page & kPageMask)) e.tag_write = tlb_invalid_tag(i);
        }
}

void Vcpu::flush_jump_cache() {
    for (auto& e : state.jump_cache) e = JumpCacheEntry{~0ull, ~0ull, nullptr, 0};
}

// Fills the TLB for an access that the slow path found to be plain RAM.
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
}

} // namespace hayate
