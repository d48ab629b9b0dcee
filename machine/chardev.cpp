#include "machine/chardev.h"
#include "machine/log.h"
#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <stdexcept>
#include <termios.h>
#include <unistd.h>
#include <vector>

namespace hayate {

// ---------------------------------------------------------------- CharBackend

void CharBackend::attach(CharReceiver* receiver) {
    {
        std::lock_guard lock(receiver_mutex_);
        receiver_ = receiver;
    }
    if (receiver) on_attach();
}

size_t CharBackend::receiver_room() {
    std::lock_guard lock(receiver_mutex_);
    return receiver_ ? receiver_->can_receive() : 0;
}

void CharBackend::deliver(const uint8_t* data, size_t len) {
    if (len == 0) return;
    std::lock_guard lock(receiver_mutex_);
    if (receiver_) receiver_->receive(data, len);
}

void CharBackend::deliver_break() {
    std::lock_guard lock(receiver_mutex_);
    if (receiver_) receiver_->receive_break();
}

namespace {

// Writes everything or fails with an errno value: the guest's output must
// never be lost to a short write, a signal, or a non-blocking descriptor.
int write_all(int fd, const uint8_t* data, size_t len) {
    while (len > 0) {
        ssize_t n = ::write(fd, data, len);
        if (n > 0) {
            data += n;
            len -= size_t(n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            pollfd p{fd, POLLOUT, 0};
            ::poll(&p, 1, -1);
            continue;
        }
        return n < 0 ? errno : EIO;
    }
    return 0;
}

} // namespace

// ---------------------------------------------------------------- FileBackend

FileBackend::FileBackend(const std::string& path) : path_(path) {
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd_ < 0)
        throw std::runtime_error(
            fmt::format("-serial file:{}: could not open '{}': {}", path, path, std::strerror(errno)));
}

FileBackend::~FileBackend() {
    if (fd_ >= 0) ::close(fd_);
}

void FileBackend::write(const uint8_t* data, size_t len) {
    std::lock_guard lock(write_mutex_);
    if (failed_) return;
    if (int err = write_all(fd_, data, len)) {
        // Reported once; a full disk must not flood stderr for every byte.
        failed_ = true;
        log_warning("serial output to '{}' failed: {}; further output is dropped", path_, std::strerror(err));
    }
}

// --------------------------------------------------------------- EscapeParser

EscapeParser::Result EscapeParser::feed(uint8_t c) {
    if (!got_escape_) {
        if (c == kEscape) {
            got_escape_ = true;
            return {};
        }
        return {Action::Deliver, c};
    }
    got_escape_ = false;
    switch (c) {
    case kEscape: return {Action::Deliver, kEscape};
    case 'x': return {Action::Quit, 0};
    case 'h':
    case '?': return {Action::Help, 0};
    case 'b': return {Action::Break, 0};
    case 'c': return {Action::Monitor, 0};
    default: return {}; // QEMU drops unknown escape commands too
    }
}

const char* EscapeParser::help_text() {
    return "\n"
           "C-a h    print this help\n"
           "C-a x    exit emulator\n"
           "C-a b    send break (magic sysrq)\n"
           "C-a c    switch to the monitor (not supported: hayate has no monitor yet)\n"
           "C-a C-a  sends C-a\n";
}

// ---------------------------------------------------------------- terminal

namespace {

// Signal handlers and atexit() cannot reach an object, so the terminal
// attributes to restore live here (there is only one stdin).
struct SavedTerminal {
    int fd = -1;
    termios attrs{};
    std::atomic<bool> active{false};
};
SavedTerminal g_terminal;
std::atomic<bool> g_stdio_in_use{false};

constexpr int kFatalSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGABRT};
constexpr int kSignalCount = sizeof(kFatalSignals) / sizeof(kFatalSignals[0]);
struct sigaction g_old_actions[kSignalCount];
bool g_installed[kSignalCount];

void restore_terminal() {
    if (g_terminal.active.exchange(false)) ::tcsetattr(g_terminal.fd, TCSANOW, &g_terminal.attrs);
}

void restore_terminal_at_exit() { restore_terminal(); }

extern "C" void terminal_signal_handler(int sig) {
    // Only async-signal-safe calls here.
    restore_terminal();
    if (sig != SIGABRT) {
        static const char prefix[] = "hayate: terminating on signal ";
        char msg[sizeof prefix + 4];
        std::memcpy(msg, prefix, sizeof prefix - 1);
        char* p = msg + sizeof prefix - 1;
        if (sig >= 10) *p++ = char('0' + sig / 10 % 10);
        *p++ = char('0' + sig % 10);
        *p++ = '\n';
        ssize_t ignored = ::write(2, msg, size_t(p - msg));
        (void)ignored;
    }
    // Hand the signal to its previous disposition (normally the default,
    // which ends the process with the signal as its status).
    for (int i = 0; i < kSignalCount; i++)
        if (kFatalSignals[i] == sig && g_installed[i]) {
            ::sigaction(sig, &g_old_actions[i], nullptr);
            g_installed[i] = false;
        }
    ::raise(sig);
}

void install_signal_handlers() {
    for (int i = 0; i < kSignalCount; i++) {
        struct sigaction old {};
        ::sigaction(kFatalSignals[i], nullptr, &old);
        // An ignored signal (nohup) stays ignored.
        if (!(old.sa_flags & SA_SIGINFO) && old.sa_handler == SIG_IGN) continue;
        struct sigaction sa {};
        sa.sa_handler = terminal_signal_handler;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESETHAND;
        g_old_actions[i] = old;
        ::sigaction(kFatalSignals[i], &sa, nullptr);
        g_installed[i] = true;
    }
}

void uninstall_signal_handlers() {
    for (int i = 0; i < kSignalCount; i++)
        if (g_installed[i]) {
            ::sigaction(kFatalSignals[i], &g_old_actions[i], nullptr);
            g_installed[i] = false;
        }
}

// QEMU's "raw" console: no echo, no line editing, no CR/LF input mapping, no
// flow control, 8-bit clean; output post-processing and ISIG stay, so "\n"
// still starts a new line and Ctrl-C still ends hayate as it ends QEMU.
bool enter_raw_mode(int fd) {
    termios t{};
    if (!::isatty(fd) || ::tcgetattr(fd, &t) != 0) return false;
    static std::once_flag at_exit_once;
    std::call_once(at_exit_once, [] { std::atexit(restore_terminal_at_exit); });
    g_terminal.fd = fd;
    g_terminal.attrs = t;
    t.c_iflag &= ~tcflag_t(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
    t.c_oflag |= OPOST;
    t.c_lflag &= ~tcflag_t(ECHO | ECHONL | ICANON | IEXTEN);
    t.c_cflag &= ~tcflag_t(CSIZE | PARENB);
    t.c_cflag |= CS8;
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    install_signal_handlers();
    g_terminal.active = true;
    if (::tcsetattr(fd, TCSANOW, &t) != 0) {
        g_terminal.active = false;
        uninstall_signal_handlers();
        return false;
    }
    return true;
}

} // namespace

// --------------------------------------------------------------- StdioBackend

StdioBackend::StdioBackend(Options options) : options_(std::move(options)) {
    if (options_.nographic && !options_.shutdown)
        throw std::logic_error("StdioBackend: -nographic needs a shutdown callback for C-a x");
    if (g_stdio_in_use.exchange(true))
        throw std::runtime_error("cannot use stdio by multiple character devices");
    if (::pipe2(wake_pipe_, O_CLOEXEC | O_NONBLOCK) != 0) {
        g_stdio_in_use = false;
        throw std::runtime_error(fmt::format("cannot create a pipe: {}", std::strerror(errno)));
    }
    if (options_.nographic) raw_mode_ = enter_raw_mode(options_.in_fd);
    reader_ = std::thread([this] { reader_loop(); });
}

StdioBackend::~StdioBackend() {
    stop_ = true;
    wake();
    reader_.join();
    if (raw_mode_) {
        restore_terminal();
        uninstall_signal_handlers();
    }
    ::close(wake_pipe_[0]);
    ::close(wake_pipe_[1]);
    g_stdio_in_use = false;
}

void StdioBackend::write(const uint8_t* data, size_t len) {
    std::lock_guard lock(write_mutex_);
    if (output_failed_) return;
    if (int err = write_all(options_.out_fd, data, len)) {
        output_failed_ = true;
        log_warning("serial output to stdout failed: {}; further output is dropped", std::strerror(err));
    }
}

void StdioBackend::message(const char* text) {
    write(reinterpret_cast<const uint8_t*>(text), std::strlen(text));
}

void StdioBackend::wake() {
    uint8_t b = 0;
    // A full pipe already holds a wakeup; nothing is lost by dropping this one.
    ssize_t ignored = ::write(wake_pipe_[1], &b, 1);
    (void)ignored;
}

void StdioBackend::notify_room() {
    // Only the reader waiting for room needs a wakeup: saves a syscall per
    // guest read while input flows.
    if (waiting_for_room_.exchange(false)) wake();
}

void StdioBackend::on_attach() { wake(); }

void StdioBackend::handle_input(const uint8_t* data, size_t len) {
    if (!options_.nographic) {
        deliver(data, len);
        return;
    }
    std::vector<uint8_t> out;
    out.reserve(len);
    for (size_t i = 0; i < len; i++) {
        auto r = escape_.feed(data[i]);
        switch (r.action) {
        case EscapeParser::Action::None: break;
        case EscapeParser::Action::Deliver: out.push_back(r.byte); break;
        case EscapeParser::Action::Help: message(EscapeParser::help_text()); break;
        case EscapeParser::Action::Monitor:
            message("\nhayate: C-a c: there is no monitor (not supported)\n");
            break;
        case EscapeParser::Action::Break:
            deliver(out.data(), out.size());
            out.clear();
            deliver_break();
            break;
        case EscapeParser::Action::Quit:
            deliver(out.data(), out.size());
            message("hayate: terminated\n");
            stop_ = true; // nothing typed after C-a x reaches the guest
            options_.shutdown(0);
            return;
        }
    }
    deliver(out.data(), out.size());
}

void StdioBackend::reader_loop() {
    uint8_t buf[256];
    while (!stop_) {
        // Announce the wait before looking at the room, so a notify_room()
        // racing with the check still wakes us.
        waiting_for_room_ = true;
        size_t room = receiver_room();
        if (room) waiting_for_room_ = false;
        pollfd fds[2] = {{wake_pipe_[0], POLLIN, 0}, {room ? options_.in_fd : -1, POLLIN, 0}};
        if (::poll(fds, 2, -1) < 0) {
            if (errno == EINTR) continue;
            log_warning("serial input: poll failed: {}", std::strerror(errno));
            return;
        }
        if (fds[0].revents) {
            uint8_t drain[64];
            while (::read(wake_pipe_[0], drain, sizeof drain) > 0) {}
            continue;
        }
        if (!fds[1].revents) continue;
        ssize_t n = ::read(options_.in_fd, buf, std::min(room, sizeof buf));
        if (n > 0) {
            handle_input(buf, size_t(n));
        } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
            return; // EOF or an unreadable stdin: the guest just gets no more input
        }
    }
}

// ----------------------------------------------------------------- factory

std::unique_ptr<CharBackend> open_char_backend(const SerialOption& option, bool nographic,
                                               std::function<void(int status)> shutdown) {
    switch (option.kind) {
    case SerialOption::Kind::Stdio: {
        StdioBackend::Options o;
        o.nographic = nographic;
        o.shutdown = std::move(shutdown);
        return std::make_unique<StdioBackend>(std::move(o));
    }
    case SerialOption::Kind::File: return std::make_unique<FileBackend>(option.path);
    case SerialOption::Kind::Null: return std::make_unique<NullBackend>();
    case SerialOption::Kind::None: return nullptr;
    }
    return nullptr;
}

} // namespace hayate
