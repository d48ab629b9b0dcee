// The small interface every device model implements, and the pieces it uses
// from the board: IRQ lines and device-state serialization.
#pragma once
#include <cstdint>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace hayate {

// Serialized device state (snapshots, later migration). Fields are written in
// a fixed order; load() reads them back in the same order.
class StateWriter {
  public:
    template <typename T> void put(const T& v) {
        static_assert(std::is_trivially_copyable_v<T>);
        const auto* p = reinterpret_cast<const uint8_t*>(&v);
        bytes_.insert(bytes_.end(), p, p + sizeof(T));
    }
    void put_bytes(const void* p, size_t n) {
        const auto* b = static_cast<const uint8_t*>(p);
        bytes_.insert(bytes_.end(), b, b + n);
    }
    const std::vector<uint8_t>& bytes() const { return bytes_; }

  private:
    std::vector<uint8_t> bytes_;
};

class StateReader {
  public:
    explicit StateReader(const std::vector<uint8_t>& bytes) : bytes_(bytes) {}
    template <typename T> void get(T& v) {
        static_assert(std::is_trivially_copyable_v<T>);
        get_bytes(&v, sizeof(T));
    }
    void get_bytes(void* p, size_t n) {
        if (pos_ + n > bytes_.size()) throw std::runtime_error("device state truncated");
        std::memcpy(p, bytes_.data() + pos_, n);
        pos_ += n;
    }

  private:
    const std::vector<uint8_t>& bytes_;
    size_t pos_ = 0;
};

// One access signature for port I/O and MMIO: `offset` is relative to the
// start of the region the handler was mapped at, `size` is 1, 2, 4 or 8.
class IoHandler {
  public:
    virtual ~IoHandler() = default;
    virtual uint64_t io_read(uint64_t offset, unsigned size) = 0;
    virtual void io_write(uint64_t offset, unsigned size, uint64_t value) = 0;
};

// A device model: named, with state that can be saved and restored.
class Device : public IoHandler {
  public:
    virtual const char* name() const = 0;
    virtual void reset() {}
    virtual void save(StateWriter& out) const = 0;
    virtual void load(StateReader& in) = 0;
};

// An interrupt request line. The device raises and lowers it; the board
// connects it to an interrupt controller input (or to nothing).
class IrqLine {
  public:
    using Sink = std::function<void(bool level)>;
    IrqLine() = default;
    explicit IrqLine(Sink sink) : sink_(std::move(sink)) {}
    void set(bool level) {
        if (level == level_) return;
        level_ = level;
        if (sink_) sink_(level);
    }
    void raise() { set(true); }
    void lower() { set(false); }
    void pulse() {
        raise();
        lower();
    }
    bool level() const { return level_; }
    void connect(Sink sink) { sink_ = std::move(sink); }

  private:
    Sink sink_;
    bool level_ = false;
};

} // namespace hayate
