#include "devices/pic8259.h"
#include "machine/log.h"
#include <algorithm>

namespace hayate {

Pic8259::Pic8259(std::string name, std::function<void(bool)> output)
    : name_(std::move(name)), output_(std::move(output)) {}

void Pic8259::reset() {
    bool changed, level;
    {
        std::lock_guard<std::mutex> lock(mu_);
        irr_ = isr_ = imr_ = 0;
        inputs_ = 0;
        vector_base_ = 0;
        icw3_ = 0;
        lowest_priority_ = 7;
        init_step_ = 0;
        icw4_needed_ = single_ = auto_eoi_ = rotate_on_aeoi_ = special_fully_nested_ = false;
        read_isr_ = poll_ = special_mask_ = false;
        update_locked(changed, level);
    }
    notify(changed, level);
}

void Pic8259::save(StateWriter& out) const {
    std::lock_guard<std::mutex> lock(mu_);
    for (uint8_t v :
         {irr_, isr_, imr_, inputs_, level_mode_, vector_base_, icw3_, lowest_priority_, init_step_})
        out.put(v);
    for (bool b : {icw4_needed_, single_, auto_eoi_, rotate_on_aeoi_, special_fully_nested_, read_isr_, poll_,
                   special_mask_, out_})
        out.put(b);
}

void Pic8259::load(StateReader& in) {
    bool changed, level;
    {
        std::lock_guard<std::mutex> lock(mu_);
        for (uint8_t* v : {&irr_, &isr_, &imr_, &inputs_, &level_mode_, &vector_base_, &icw3_,
                           &lowest_priority_, &init_step_})
            in.get(*v);
        for (bool* b : {&icw4_needed_, &single_, &auto_eoi_, &rotate_on_aeoi_, &special_fully_nested_,
                        &read_isr_, &poll_, &special_mask_, &out_})
            in.get(*b);
        out_ = !out_; // force the output to be signalled again
        update_locked(changed, level);
    }
    notify(changed, level);
}

// The request to serve: the unmasked IRR bit of highest priority, if it
// beats everything in service (fully nested mode). Special mask mode leaves
// masked in-service levels out of the comparison; special fully nested mode
// lets a cascade line interrupt its own service (a higher slave request).
int Pic8259::highest_request_locked() const {
    const uint8_t pending = irr_ & ~imr_;
    int best = -1, best_prio = 8;
    for (unsigned line = 0; line < 8; line++)
        if ((pending >> line) & 1 && priority_of(line) < best_prio) {
            best = int(line);
            best_prio = priority_of(line);
        }
    if (best < 0) return -1;
    uint8_t in_service = isr_;
    if (special_mask_) in_service &= ~imr_;
    if (special_fully_nested_ && !single_ && ((icw3_ >> best) & 1)) in_service &= uint8_t(~(1u << best));
    int service_prio = 8;
    for (unsigned line = 0; line < 8; line++)
        if ((in_service >> line) & 1) service_prio = std::min(service_prio, priority_of(line));
    return best_prio < service_prio ? best : -1;
}

void Pic8259::update_locked(bool& changed, bool& level) {
    level = highest_request_locked() >= 0;
    changed = level != out_;
    out_ = level;
}

void Pic8259::notify(bool changed, bool level) {
    if (changed && output_) output_(level);
}

bool Pic8259::output() const {
    std::lock_guard<std::mutex> lock(mu_);
    return out_;
}

void Pic8259::set_input(unsigned line, bool level) {
    bool changed, out;
    {
        std::lock_guard<std::mutex> lock(mu_);
        const uint8_t bit = uint8_t(1u << (line & 7));
        const bool was = inputs_ & bit;
        if (level) {
            inputs_ |= bit;
            // Edge-triggered: a rising edge latches a request; level-triggered:
            // the request follows the input.
            if ((level_mode_ & bit) || !was) irr_ |= bit;
        } else {
            inputs_ &= uint8_t(~bit);
            if (level_mode_ & bit) irr_ &= uint8_t(~bit);
        }
        update_locked(changed, out);
    }
    notify(changed, out);
}

void Pic8259::set_level_triggered(uint8_t mask) {
    bool changed, out;
    {
        std::lock_guard<std::mutex> lock(mu_);
        level_mode_ = mask;
        irr_ = uint8_t((irr_ & ~mask) | (inputs_ & mask));
        update_locked(changed, out);
    }
    notify(changed, out);
}

uint8_t Pic8259::level_triggered() const {
    std::lock_guard<std::mutex> lock(mu_);
    return level_mode_;
}

uint8_t Pic8259::acknowledge(int* cascade) {
    bool changed, out;
    uint8_t vector;
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (cascade) *cascade = -1;
        const int line = highest_request_locked();
        if (line < 0) {
            // The request went away before INTA: the 8259A answers with IR7's
            // vector and sets no in-service bit (a "spurious interrupt").
            vector = uint8_t(vector_base_ | 7);
        } else {
            const uint8_t bit = uint8_t(1u << line);
            if (!(level_mode_ & bit)) irr_ &= uint8_t(~bit);
            if (!auto_eoi_)
                isr_ |= bit;
            else if (rotate_on_aeoi_)
                lowest_priority_ = uint8_t(line);
            vector = uint8_t(vector_base_ | line);
            if (cascade && !single_ && ((icw3_ >> line) & 1)) *cascade = line;
        }
        update_locked(changed, out);
    }
    notify(changed, out);
    return vector;
}

uint64_t Pic8259::io_read(uint64_t offset, unsigned size) {
    (void)size;
    bool changed = false, out = false;
    uint8_t v;
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (offset & 1) {
            v = imr_;
        } else if (poll_) {
            // Poll command: the read acknowledges the highest request.
            poll_ = false;
            const int line = highest_request_locked();
            if (line < 0) {
                v = 0;
            } else {
                const uint8_t bit = uint8_t(1u << line);
                if (!(level_mode_ & bit)) irr_ &= uint8_t(~bit);
                if (!auto_eoi_) isr_ |= bit;
                v = uint8_t(0x80 | line);
                update_locked(changed, out);
            }
        } else {
            v = read_isr_ ? isr_ : irr_;
        }
    }
    notify(changed, out);
    return v;
}

void Pic8259::io_write(uint64_t offset, unsigned size, uint64_t value) {
    (void)size;
    const uint8_t v = uint8_t(value);
    bool changed, out;
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (!(offset & 1)) {
            if (v & 0x10) {
                // ICW1: start of initialisation. IMR and ISR cleared, IR7
                // lowest priority, IRR read back, special mask off; edge
                // requests dropped. (LTIM is ignored, as on the PC, where
                // the ELCR decides.)
                if (!(v & 1))
                    log_guest_error("{}: ICW1 without ICW4 (8080/8085 mode) is not a PC setting", name_);
                icw4_needed_ = v & 1;
                single_ = v & 2;
                irr_ &= level_mode_;
                imr_ = isr_ = 0;
                lowest_priority_ = 7;
                read_isr_ = poll_ = special_mask_ = false;
                auto_eoi_ = rotate_on_aeoi_ = special_fully_nested_ = false;
                init_step_ = 2;
            } else if (v & 0x08) {
                // OCW3
                if (v & 0x02) read_isr_ = v & 0x01;
                if (v & 0x04) poll_ = true;
                if (v & 0x40) special_mask_ = v & 0x20;
            } else {
                // OCW2
                auto highest_in_service = [this]() {
                    int line = -1, prio = 8;
                    for (unsigned l = 0; l < 8; l++)
                        if ((isr_ >> l) & 1 && priority_of(l) < prio) {
                            line = int(l);
                            prio = priority_of(l);
                        }
                    return line;
                };
                switch (v >> 5) {
                case 0: rotate_on_aeoi_ = false; break;
                case 4: rotate_on_aeoi_ = true; break;
                case 1:   // non-specific EOI
                case 5: { // rotate on non-specific EOI
                    const int line = highest_in_service();
                    if (line >= 0) {
                        isr_ &= uint8_t(~(1u << line));
                        if ((v >> 5) == 5) lowest_priority_ = uint8_t(line);
                    }
                    break;
                }
                case 3: isr_ &= uint8_t(~(1u << (v & 7))); break; // specific EOI
                case 7:                                           // rotate on specific EOI
                    isr_ &= uint8_t(~(1u << (v & 7)));
                    lowest_priority_ = v & 7;
                    break;
                case 6: lowest_priority_ = v & 7; break; // set priority
                default: break;                          // 2: no operation
                }
            }
        } else if (init_step_ == 2) {
            vector_base_ = v & 0xf8; // ICW2
            init_step_ = single_ ? (icw4_needed_ ? 4 : 0) : 3;
        } else if (init_step_ == 3) {
            icw3_ = v; // ICW3
            init_step_ = icw4_needed_ ? 4 : 0;
        } else if (init_step_ == 4) {
            // ICW4: AEOI, special fully nested mode; buffered mode has no effect here.
            if (!(v & 1)) log_guest_error("{}: ICW4 selects 8080/8085 mode, not a PC setting", name_);
            auto_eoi_ = v & 0x02;
            special_fully_nested_ = v & 0x10;
            init_step_ = 0;
        } else {
            imr_ = v; // OCW1
        }
        update_locked(changed, out);
    }
    notify(changed, out);
}

} // namespace hayate
