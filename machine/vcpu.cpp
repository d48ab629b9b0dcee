#include "machine/vcpu.h"
#include "frontend/mode.h"
#include "machine/machine.h"
#include "machine/system.h"
#include "machine/x87.h"
#include <fmt/format.h>

namespace hayate {

Vcpu::Vcpu(Machine& m, int i) : machine(m), index(i) {
    state.vcpu = this;
    reset();
}

Vcpu::~Vcpu() = default;

void Vcpu::reset() {
    CpuState fresh;
    fresh.vcpu = this;
    // Keep the (large) TLB arrays out of the copy: reset them explicitly.
    state.rip = fresh.rip;
    std::copy(std::begin(fresh.gpr), std::end(fresh.gpr), std::begin(state.gpr));
    state.gpr[RDX] = cpuid_signature(); // family/model/stepping, as CPUID.1:EAX
    state.eflags = flag::kFixed1;
    state.exit_request = 0;
    for (int s = 0; s < kSegCount; s++) set_segment(SegReg(s), 0, 0, 0xffff, 0x93);
    set_segment(CS, 0xf000, 0xffff0000, 0xffff, 0x9b);
    state.gdtr = state.idtr = DescriptorTableReg{0, 0xffff};
    state.ldtr = SegmentCache{0, 0xffff, 0, 0x82};
    state.tr = SegmentCache{0, 0xffff, 0, 0x8b};
    state.cr0 = cr0::ET | cr0::CD | cr0::NW;
    state.cr2 = state.cr3 = state.cr4 = state.cr8 = 0;
    state.efer = 0;
    state.xcr0 = 1;
    std::copy(std::begin(fresh.dr), std::end(fresh.dr), std::begin(state.dr));
    std::fill(&state.xmm[0][0], &state.xmm[0][0] + sizeof state.xmm, 0);
    state.mxcsr = 0x1f80;
    x87::reset(state);
    state.star = state.lstar = state.cstar = state.sfmask = state.kernel_gs_base = 0;
    state.sysenter_cs = state.sysenter_esp = state.sysenter_eip = 0;
    state.tsc_aux = 0;
    state.apic_base = fresh.apic_base;
    state.pat = 0x0007040600070406ull;
    state.misc_enable = fresh.misc_enable;
    state.mtrr_def_type = 0; // MTRRs disabled; the ranges keep undefined (here: zero) contents
    std::fill(std::begin(state.mtrr_fixed), std::end(state.mtrr_fixed), 0);
    std::fill(std::begin(state.mtrr_var), std::end(state.mtrr_var), 0);
    state.halted = false;
    state.interrupt_shadow = false;
    state.nmi_pending = 0;
    state.nmi_blocked = false;
    triple_faulted = false;
    invalidate_all_translations();
}

void Vcpu::set_segment(SegReg s, uint16_t selector, uint64_t base, uint32_t limit, uint16_t attr) {
    state.seg[s] = SegmentCache{base, limit, selector, attr};
}

void Vcpu::enter_flat_protected_mode(uint32_t eip, uint32_t gdt_base, uint16_t gdt_limit,
                                     uint16_t code_selector, uint16_t data_selector) {
    state.cr0 = (state.cr0 | cr0::PE) & ~cr0::PG;
    state.gdtr = DescriptorTableReg{gdt_base, gdt_limit};
    set_segment(CS, code_selector, 0, 0xffffffff, 0xc09b);
    for (SegReg s : {DS, ES, FS, GS, SS}) set_segment(s, data_selector, 0, 0xffffffff, 0xc093);
    state.eflags = flag::kFixed1;
    state.rip = eip;
    flush_tlb();
}

std::string Vcpu::dump_state() const {
    const CpuState& s = state;
    static const char* names[16] = {"RAX", "RCX", "RDX", "RBX", "RSP", "RBP", "RSI", "RDI",
                                    "R8",  "R9",  "R10", "R11", "R12", "R13", "R14", "R15"};
    uint32_t m = compute_mode(s);
    const char* mode_name = (s.efer & efer::LMA) ? (mode::is64(m) ? "long (64-bit)" : "long (compatibility)")
                            : !(s.cr0 & cr0::PE) ? "real"
                            : (s.eflags & flag::VM)               ? "virtual-8086"
                            : mode::code_size(m) == mode::kCode32 ? "protected (32-bit)"
                                                                  : "protected (16-bit)";
    std::string out = fmt::format("CPU {} in {} mode, CPL {}, at {:04x}:{:x}{}\n", index, mode_name, s.cpl(),
                                  s.seg[CS].selector, s.rip, s.halted ? ", halted" : "");
    for (int i = 0; i < 16; i++)
        out += fmt::format("{:>3}={:016x}{}", names[i], s.gpr[i], i % 4 == 3 ? "\n" : " ");
    out += fmt::format("RIP={:016x} RFL={:08x} [{}{}{}{}{}{}{}{}]\n", s.rip, s.eflags,
                       s.eflags & flag::OF ? 'O' : '-', s.eflags & flag::DF ? 'D' : '-',
                       s.eflags & flag::IF ? 'I' : '-', s.eflags & flag::SF ? 'S' : '-',
                       s.eflags & flag::ZF ? 'Z' : '-', s.eflags & flag::AF ? 'A' : '-',
                       s.eflags & flag::PF ? 'P' : '-', s.eflags & flag::CF ? 'C' : '-');
    static const char* seg_names[6] = {"ES", "CS", "SS", "DS", "FS", "GS"};
    for (int i = 0; i < kSegCount; i++)
        out += fmt::format("{} ={:04x} {:016x} {:08x} {:04x}\n", seg_names[i], s.seg[i].selector,
                           s.seg[i].base, s.seg[i].limit, s.seg[i].attr);
    out += fmt::format("LDT={:04x} {:016x} {:08x}  TR={:04x} {:016x} {:08x}\n", s.ldtr.selector, s.ldtr.base,
                       s.ldtr.limit, s.tr.selector, s.tr.base, s.tr.limit);
    out += fmt::format("GDT={:016x} {:08x}  IDT={:016x} {:08x}\n", s.gdtr.base, s.gdtr.limit, s.idtr.base,
                       s.idtr.limit);
    out += fmt::format("CR0={:08x} CR2={:016x} CR3={:016x} CR4={:08x} EFER={:x}\n", s.cr0, s.cr2, s.cr3,
                       s.cr4, s.efer);
    out += fmt::format("CR8={:x} DR6={:08x} DR7={:08x} XCR0={:x}\n", s.cr8, s.dr[6], s.dr[7], s.xcr0);
    if (last_exception_count) {
        out += "recent exceptions:";
        unsigned n = std::min(last_exception_count, 4u);
        for (unsigned i = last_exception_count - n; i < last_exception_count; i++)
            out += fmt::format(" {}", last_exceptions[i % 4]);
        out += "\n";
    }
    // The instruction bytes at CS:RIP, page by page, as far as they can be
    // read without side effects.
    uint64_t linear = mode::is64(m) ? s.rip : uint32_t(s.seg[CS].base + s.rip);
    auto& self = const_cast<Vcpu&>(*this);
    std::string code;
    for (unsigned n = 0; n < 16;) {
        const uint64_t at = mode::is64(m) ? linear + n : uint32_t(linear + n);
        uint64_t phys = at;
        const bool ok = !(s.cr0 & cr0::PG) || self.probe_translate(at, Access::Read, false, phys);
        const unsigned chunk = std::min<unsigned>(16 - n, unsigned(0x1000 - (at & 0xfff)));
        uint8_t bytes[16];
        if (!ok || !machine.memory().read_bytes(phys, bytes, chunk)) break;
        for (unsigned i = 0; i < chunk; i++) code += fmt::format(" {:02x}", bytes[i]);
        n += chunk;
    }
    if (!code.empty()) out += "code:" + code + "\n";
    return out;
}

} // namespace hayate
