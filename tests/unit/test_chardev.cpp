// Character backends: file output, the Ctrl-A escape parser, stdio through pipes.
#include "machine/chardev.h"
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <fcntl.h>
#include <fstream>
#include <iterator>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <unistd.h>

using namespace hayate;

namespace {

std::string temp_path(const char* tag) {
    return (std::ostringstream() << "/tmp/hayate_test_" << tag << "_" << getpid()).str();
}

std::string read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
}

// Records input; accepts at most `capacity` bytes in total until raised.
class Collector final : public CharReceiver {
  public:
    size_t can_receive() override {
        std::lock_guard lock(mutex_);
        return capacity_ - data_.size();
    }
    void receive(const uint8_t* d, size_t n) override {
        std::lock_guard lock(mutex_);
        data_.append(reinterpret_cast<const char*>(d), n);
    }
    void receive_break() override {
        std::lock_guard lock(mutex_);
        data_ += "<BREAK>";
        capacity_ += 7;
    }
    std::string data() {
        std::lock_guard lock(mutex_);
        return data_;
    }
    void set_capacity(size_t c) {
        std::lock_guard lock(mutex_);
        capacity_ = c;
    }

  private:
    std::mutex mutex_;
    std::string data_;
    size_t capacity_ = 1 << 20;
};

template <typename F> bool wait_for(F cond) {
    for (int i = 0; i < 2000; i++) {
        if (cond()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return cond();
}

struct Pipes {
    int in[2], out[2];
    Pipes() {
        REQUIRE(pipe(in) == 0);
        REQUIRE(pipe(out) == 0);
    }
    ~Pipes() {
        for (int fd : {in[0], in[1], out[0], out[1]})
            if (fd >= 0) close(fd);
    }
    void type(const std::string& s) { REQUIRE(write(in[1], s.data(), s.size()) == ssize_t(s.size())); }
    std::string drain_output() {
        fcntl(out[0], F_SETFL, O_NONBLOCK);
        std::string s;
        char buf[4096];
        ssize_t n;
        while ((n = read(out[0], buf, sizeof buf)) > 0) s.append(buf, size_t(n));
        return s;
    }
};

} // namespace

TEST_CASE("chardev: file backend writes exactly what it is given", "[chardev]") {
    const std::string path = temp_path("file");
    {
        std::ofstream old(path);
        old << "previous contents that must disappear";
    }
    std::string expect;
    {
        FileBackend f(path);
        for (int i = 0; i < 256; i++) f.write_byte(uint8_t(i)); // NUL, CR, LF untranslated
        expect.resize(256);
        for (int i = 0; i < 256; i++) expect[size_t(i)] = char(i);
        std::string big(200000, 'x');
        for (size_t i = 0; i < big.size(); i++) big[i] = char('a' + i % 23);
        f.write(reinterpret_cast<const uint8_t*>(big.data()), big.size());
        expect += big;
        // Written through at once: visible before the backend goes away.
        CHECK(read_file(path) == expect);
    }
    CHECK(read_file(path) == expect);
    std::remove(path.c_str());
}

TEST_CASE("chardev: an unopenable file names the path", "[chardev]") {
    const std::string path = "/nonexistent-dir/serial.log";
    try {
        FileBackend f(path);
        FAIL("no exception");
    } catch (const std::runtime_error& e) { CHECK(std::string(e.what()).find(path) != std::string::npos); }
}

TEST_CASE("chardev: null backend and factory", "[chardev]") {
    NullBackend n;
    Collector c;
    n.attach(&c);
    n.write_byte('x');
    CHECK(c.data().empty());
    n.attach(nullptr);

    CHECK(open_char_backend({SerialOption::Kind::None, ""}, false, nullptr) == nullptr);
    CHECK(
        dynamic_cast<NullBackend*>(open_char_backend({SerialOption::Kind::Null, ""}, false, nullptr).get()));
    const std::string path = temp_path("factory");
    CHECK(dynamic_cast<FileBackend*>(
        open_char_backend({SerialOption::Kind::File, path}, false, nullptr).get()));
    std::remove(path.c_str());
}

TEST_CASE("chardev: escape parser", "[chardev]") {
    using A = EscapeParser::Action;
    EscapeParser p;
    auto r = p.feed('a');
    CHECK(r.action == A::Deliver);
    CHECK(r.byte == 'a');
    CHECK(p.feed(0x01).action == A::None);
    CHECK(p.pending_escape());
    r = p.feed(0x01);
    CHECK(r.action == A::Deliver);
    CHECK(r.byte == 0x01);
    CHECK_FALSE(p.pending_escape());
    p.feed(0x01);
    CHECK(p.feed('x').action == A::Quit);
    p.feed(0x01);
    CHECK(p.feed('h').action == A::Help);
    p.feed(0x01);
    CHECK(p.feed('?').action == A::Help);
    p.feed(0x01);
    CHECK(p.feed('b').action == A::Break);
    p.feed(0x01);
    CHECK(p.feed('c').action == A::Monitor);
    p.feed(0x01);
    CHECK(p.feed('z').action == A::None); // unknown command: dropped
    r = p.feed('x');                      // a plain x again
    CHECK(r.action == A::Deliver);
    CHECK(r.byte == 'x');
    CHECK(std::string(EscapeParser::help_text()).find("C-a x") != std::string::npos);
}

TEST_CASE("chardev: stdio with -nographic interprets C-a", "[chardev]") {
    Pipes p;
    Collector c;
    std::atomic<int> status{-1};
    {
        StdioBackend::Options o;
        o.nographic = true;
        o.shutdown = [&](int s) { status = s; };
        o.in_fd = p.in[0];
        o.out_fd = p.out[1];
        StdioBackend b(std::move(o));
        b.attach(&c);
        p.type("he\x01\x01llo");
        REQUIRE(wait_for([&] { return c.data() == "he\x01llo"; }));
        p.type("\x01h");
        p.type("\x01"
               "b");
        REQUIRE(wait_for([&] { return c.data() == "he\x01llo<BREAK>"; }));
        p.type("!\x01xafter");
        REQUIRE(wait_for([&] { return status == 0; }));
        CHECK(c.data() == "he\x01llo<BREAK>!"); // nothing after C-a x reaches the guest
        b.write(reinterpret_cast<const uint8_t*>("out"), 3);
        b.attach(nullptr);
    }
    std::string out = p.drain_output();
    CHECK(out.find("C-a x    exit emulator") != std::string::npos);
    CHECK(out.find("hayate: terminated\n") != std::string::npos);
    CHECK(out.substr(out.size() - 3) == "out");
}

TEST_CASE("chardev: stdio without -nographic passes C-a through", "[chardev]") {
    Pipes p;
    Collector c;
    StdioBackend::Options o;
    o.in_fd = p.in[0];
    o.out_fd = p.out[1];
    StdioBackend b(std::move(o));
    b.attach(&c);
    p.type("a\x01x");
    REQUIRE(wait_for([&] { return c.data() == "a\x01x"; }));
}

TEST_CASE("chardev: stdio input waits for room and stops at EOF", "[chardev]") {
    Pipes p;
    Collector c;
    c.set_capacity(3);
    StdioBackend::Options o;
    o.in_fd = p.in[0];
    o.out_fd = p.out[1];
    StdioBackend b(std::move(o));
    b.attach(&c);
    p.type("abcdefgh");
    REQUIRE(wait_for([&] { return c.data() == "abc"; }));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    CHECK(c.data() == "abc"); // never more than the receiver has room for
    c.set_capacity(100);
    b.notify_room();
    REQUIRE(wait_for([&] { return c.data() == "abcdefgh"; }));
    close(p.in[1]);
    p.in[1] = -1; // EOF: the reader ends; the destructor still joins cleanly
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

TEST_CASE("chardev: stdio output survives a slow non-blocking reader", "[chardev]") {
    Pipes p;
    fcntl(p.out[1], F_SETFL, O_NONBLOCK); // forces EAGAIN and partial writes
    std::string big(1 << 20, 0);
    for (size_t i = 0; i < big.size(); i++) big[i] = char(i * 7 + (i >> 9));
    std::string got;
    std::thread reader([&] {
        char buf[1000];
        while (got.size() < big.size()) {
            ssize_t n = read(p.out[0], buf, sizeof buf);
            if (n <= 0) break;
            got.append(buf, size_t(n));
            if (got.size() % 50000 < 1000) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
    });
    {
        StdioBackend::Options o;
        o.in_fd = p.in[0];
        o.out_fd = p.out[1];
        StdioBackend b(std::move(o));
        b.write(reinterpret_cast<const uint8_t*>(big.data()), big.size());
    }
    reader.join();
    CHECK(got.size() == big.size());
    CHECK(got == big);
}

TEST_CASE("chardev: only one stdio backend at a time", "[chardev]") {
    Pipes p;
    StdioBackend::Options o;
    o.in_fd = p.in[0];
    o.out_fd = p.out[1];
    StdioBackend a(o);
    CHECK_THROWS_AS(StdioBackend(o), std::runtime_error);
    StdioBackend::Options g = o;
    g.nographic = true; // C-a x would have nobody to tell
    CHECK_THROWS_AS(StdioBackend(g), std::logic_error);
}
