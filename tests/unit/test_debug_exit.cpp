// isa-debug-exit: status (V << 1) | 1, as QEMU computes it.
#include "devices/debug_exit.h"
#include <catch2/catch.hpp>
#include <vector>

using namespace hayate;

TEST_CASE("debug-exit: status formula", "[debug_exit]") {
    CHECK(DebugExit::exit_status(0) == 1);
    CHECK(DebugExit::exit_status(1) == 3);
    CHECK(DebugExit::exit_status(0x10) == 0x21);
    CHECK(DebugExit::exit_status(0x7f) == 0xff);
    // The host keeps the low 8 bits of the status, as with QEMU's exit().
    CHECK((DebugExit::exit_status(0x80) & 0xff) == 0x01);
    CHECK((DebugExit::exit_status(0xffffffff) & 0xff) == 0xff);
}

TEST_CASE("debug-exit: writes end the emulator with the computed status", "[debug_exit]") {
    std::vector<int> statuses;
    DebugExit dev("debug-exit", 2, [&](int s) { statuses.push_back(s); });
    dev.io_write(0, 1, 0x00);
    dev.io_write(0, 1, 0x31);
    dev.io_write(0, 2, 0x1234);
    dev.io_write(1, 1, 0x05); // any port of the region
    REQUIRE(statuses.size() == 4);
    CHECK(statuses[0] == 1);
    CHECK(statuses[1] == 0x63);
    CHECK(statuses[2] == 0x2469);
    CHECK(statuses[3] == 0x0b);
}

TEST_CASE("debug-exit: bytes past the region are not part of the value", "[debug_exit]") {
    std::vector<int> statuses;
    DebugExit dev("debug-exit", 2, [&](int s) { statuses.push_back(s); });
    dev.io_write(0, 4, 0xabcd0012); // only the low two bytes reach the device
    dev.io_write(1, 2, 0x3412);     // only the low byte lands inside
    DebugExit wide("debug-exit", 4, [&](int s) { statuses.push_back(s); });
    wide.io_write(0, 4, 0x00010000);
    REQUIRE(statuses.size() == 3);
    CHECK(statuses[0] == 0x25);
    CHECK(statuses[1] == 0x25);
    CHECK(statuses[2] == 0x20001);
}

TEST_CASE("debug-exit: reads return 0 like QEMU", "[debug_exit]") {
    DebugExit dev("debug-exit", 4, [](int) { FAIL("a read must not end the emulator"); });
    CHECK(dev.io_read(0, 1) == 0);
    CHECK(dev.io_read(0, 4) == 0);
    StateWriter w;
    dev.save(w);
    CHECK(w.bytes().empty());
}

TEST_CASE("debug-exit: bad construction", "[debug_exit]") {
    CHECK_THROWS(DebugExit("d", 0, [](int) {}));
    CHECK_THROWS(DebugExit("d", 8, [](int) {}));
    CHECK_THROWS(DebugExit("d", 2, nullptr));
}
