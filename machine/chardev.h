// Character backends: where a serial port's bytes go and where its input
// comes from (stdio, a file, nothing). A device talks to a CharBackend; the
// backend delivers input to the device through the CharReceiver it attached.
#pragma once
#include "machine/options.h"
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace hayate {

// The device side of a backend. Calls come from the backend's input thread,
// never concurrently with each other.
class CharReceiver {
  public:
    virtual ~CharReceiver() = default;
    // How many bytes the device can take right now; input waits while it is 0
    // (flow control, so a paste into the console does not overrun a FIFO).
    virtual size_t can_receive() = 0;
    virtual void receive(const uint8_t* data, size_t len) = 0;
    // A break condition on the line (Ctrl-A b on the console).
    virtual void receive_break() {}
};

class CharBackend {
  public:
    virtual ~CharBackend() = default;
    CharBackend() = default;
    CharBackend(const CharBackend&) = delete;
    CharBackend& operator=(const CharBackend&) = delete;

    // Sends bytes out. Blocks until all of them are handed to the host (never
    // drops output because the host is slow). Thread-safe.
    virtual void write(const uint8_t* data, size_t len) = 0;
    void write_byte(uint8_t b) { write(&b, 1); }

    // Connects the device that gets input (nullptr detaches). Once attach()
    // returns, no call into the previous receiver is in progress or will follow.
    void attach(CharReceiver* receiver);

    // The receiver may have room again (it consumed input or changed mode).
    // Cheap and lock-free: devices call it from their register handlers.
    virtual void notify_room() {}

  protected:
    // For input threads: the attached receiver's room (0 if none), and
    // delivery to it. Both hold the attach lock for the duration of the call.
    size_t receiver_room();
    void deliver(const uint8_t* data, size_t len);
    void deliver_break();
    virtual void on_attach() {}

  private:
    std::mutex receiver_mutex_;
    CharReceiver* receiver_ = nullptr;
};

// Discards output; never has input.
class NullBackend final : public CharBackend {
  public:
    void write(const uint8_t*, size_t) override {}
};

// Writes output to a file (created or truncated); never has input.
class FileBackend final : public CharBackend {
  public:
    // Throws std::runtime_error naming the path if it cannot be opened.
    explicit FileBackend(const std::string& path);
    ~FileBackend() override;
    void write(const uint8_t* data, size_t len) override;

  private:
    std::mutex write_mutex_;
    int fd_ = -1;
    std::string path_;
    bool failed_ = false;
};

// QEMU's console escape (Ctrl-A prefix) under -nographic, as a small state
// machine fed one input byte at a time.
class EscapeParser {
  public:
    static constexpr uint8_t kEscape = 0x01; // Ctrl-A
    enum class Action {
        None,    // byte swallowed (the escape prefix, or an unknown command)
        Deliver, // pass `byte` to the guest
        Quit,    // C-a x
        Help,    // C-a h or C-a ?
        Break,   // C-a b
        Monitor, // C-a c (there is no monitor yet)
    };
    struct Result {
        Action action = Action::None;
        uint8_t byte = 0;
    };
    Result feed(uint8_t c);
    bool pending_escape() const { return got_escape_; }
    static const char* help_text();

  private:
    bool got_escape_ = false;
};

// The host's stdin/stdout. With `nographic`, a terminal on stdin is put in
// raw mode (restored at exit, on SIGINT/SIGTERM/SIGHUP/SIGQUIT/SIGABRT and in
// the destructor) and the Ctrl-A escapes are interpreted. Input is read by a
// thread; at EOF or on a read error it stops reading. Only one StdioBackend
// may exist at a time (two devices cannot share the terminal).
class StdioBackend final : public CharBackend {
  public:
    struct Options {
        bool nographic = false;
        std::function<void(int status)> shutdown; // C-a x calls it with 0
        int in_fd = 0;                            // tests substitute pipes
        int out_fd = 1;
    };
    explicit StdioBackend(Options options);
    ~StdioBackend() override;

    void write(const uint8_t* data, size_t len) override;
    void notify_room() override;

  private:
    void on_attach() override;
    void reader_loop();
    void wake();
    void handle_input(const uint8_t* data, size_t len);
    void message(const char* text);

    Options options_;
    std::mutex write_mutex_;
    bool output_failed_ = false;
    EscapeParser escape_;
    int wake_pipe_[2] = {-1, -1};
    std::atomic<bool> stop_{false};
    std::atomic<bool> waiting_for_room_{false};
    bool raw_mode_ = false;
    std::thread reader_;
};

// Opens the backend for one -serial option; nullptr for Kind::None (no device).
// `shutdown` is what C-a x calls (the board passes Machine::request_shutdown).
std::unique_ptr<CharBackend> open_char_backend(const SerialOption& option, bool nographic,
                                               std::function<void(int status)> shutdown);

} // namespace hayate
