#include "machine/apic_bus.h"
#include <algorithm>

namespace hayate {

void ApicBus::attach(ApicBusTarget* target) {
    std::lock_guard lock(mu_);
    if (std::find(targets_.begin(), targets_.end(), target) == targets_.end()) targets_.push_back(target);
}

void ApicBus::detach(ApicBusTarget* target) {
    std::lock_guard lock(mu_);
    targets_.erase(std::remove(targets_.begin(), targets_.end(), target), targets_.end());
}

void ApicBus::attach(ApicEoiListener* listener) {
    std::lock_guard lock(mu_);
    if (std::find(listeners_.begin(), listeners_.end(), listener) == listeners_.end())
        listeners_.push_back(listener);
}

void ApicBus::detach(ApicEoiListener* listener) {
    std::lock_guard lock(mu_);
    listeners_.erase(std::remove(listeners_.begin(), listeners_.end(), listener), listeners_.end());
}

std::vector<ApicBusTarget*> ApicBus::targets_snapshot() const {
    std::lock_guard lock(mu_);
    return targets_;
}

bool ApicBus::matches(const ApicMessage& m, const ApicAddressing& a) {
    if (!a.hardware_enabled) return false;
    const uint32_t dest = m.destination;
    const bool logical = m.destination_mode == ApicDestinationMode::Logical;
    if (a.x2apic) {
        // All ones is the x2APIC broadcast. An xAPIC-format sender (the I/O
        // APIC without interrupt remapping) reaches x2APIC targets with its
        // 8-bit broadcast too, so legacy routing keeps working.
        if (dest == 0xffffffff || (!m.x2apic_destination && dest == 0xff)) return true;
        if (!logical) return dest == a.id;
        // Logical: cluster ID in bits 31:16, a member bitmap in bits 15:0.
        return (dest >> 16) == (a.ldr >> 16) && (dest & a.ldr & 0xffff) != 0;
    }
    if (m.x2apic_destination && dest > 0xff) return dest == 0xffffffff;
    const uint8_t d = uint8_t(dest);
    if (d == 0xff) return true; // broadcast, physical or logical
    if (!logical) return d == uint8_t(a.id);
    const uint8_t logical_id = uint8_t(a.ldr >> 24);
    switch (a.dfr >> 28) {
    case 0xf: return (d & logical_id) != 0; // flat: one bit per APIC
    case 0x0:                               // cluster: cluster in 7:4, members in 3:0
        return (d >> 4) == (logical_id >> 4) && (d & logical_id & 0x0f) != 0;
    default: return false; // a model the SDM does not define addresses nobody
    }
}

unsigned ApicBus::send(const ApicMessage& m, const ApicBusTarget* sender) {
    std::vector<ApicBusTarget*> chosen;
    std::vector<ApicAddressing> addresses;
    for (ApicBusTarget* t : targets_snapshot()) {
        const ApicAddressing a = t->addressing();
        bool hit = false;
        switch (m.shorthand) {
        case ApicShorthand::None: hit = matches(m, a); break;
        case ApicShorthand::Self: hit = t == sender; break;
        case ApicShorthand::AllIncludingSelf: hit = a.hardware_enabled; break;
        case ApicShorthand::AllExcludingSelf: hit = a.hardware_enabled && t != sender; break;
        }
        if (hit) {
            chosen.push_back(t);
            addresses.push_back(a);
        }
    }
    if (m.delivery_mode == ApicDeliveryMode::LowestPriority) {
        // One receiver among those that accept fixed interrupts (software
        // enabled): the focus processor if there is one, else the lowest
        // arbitration priority (the first registered on a tie).
        ApicBusTarget* best = nullptr;
        unsigned best_priority = 0x100;
        for (size_t i = 0; i < chosen.size(); i++) {
            if (!addresses[i].software_enabled) continue;
            if (addresses[i].focus_checking && chosen[i]->has_vector(m.vector)) {
                best = chosen[i];
                break;
            }
            const unsigned priority = chosen[i]->arbitration_priority();
            if (priority < best_priority) {
                best = chosen[i];
                best_priority = priority;
            }
        }
        return best && best->accept(m) ? 1 : 0;
    }
    unsigned taken = 0;
    for (ApicBusTarget* t : chosen) taken += t->accept(m) ? 1 : 0;
    return taken;
}

void ApicBus::broadcast_eoi(uint8_t vector) {
    std::vector<ApicEoiListener*> listeners;
    {
        std::lock_guard lock(mu_);
        listeners = listeners_;
    }
    for (ApicEoiListener* l : listeners) l->end_of_interrupt(vector);
}

} // namespace hayate
