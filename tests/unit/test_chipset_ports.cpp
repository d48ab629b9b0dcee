// Port 0x92 (fast A20 / fast reset), the PIIX3 reset control register at
// 0xCF9 and the POST port 0x80.
#include "devices/port92.h"
#include "devices/post_port.h"
#include "devices/reset_control.h"
#include <catch2/catch.hpp>
#include <vector>

using namespace hayate;

TEST_CASE("port92: A20 follows bit 1, reset on the 0-to-1 edge of bit 0", "[port92]") {
    int resets = 0;
    std::vector<bool> a20;
    Port92 p([&] { resets++; }, [&](bool on) { a20.push_back(on); });
    p.reset();
    CHECK(a20 == std::vector<bool>{false});
    CHECK(p.io_read(0, 1) == 0x00);

    p.io_write(0, 1, 0x02); // fast A20 on
    CHECK(a20.back() == true);
    CHECK(p.a20());
    CHECK(p.io_read(0, 1) == 0x02);
    CHECK(resets == 0);

    p.io_write(0, 1, 0x03); // bit 0 goes 0 -> 1: reset
    CHECK(resets == 1);
    CHECK(a20.size() == 2); // A20 did not change
    p.io_write(0, 1, 0x03); // still 1: no new edge
    CHECK(resets == 1);
    p.io_write(0, 1, 0x02);
    p.io_write(0, 1, 0x03);
    CHECK(resets == 2);
    CHECK(p.io_read(0, 1) == 0x03);

    p.io_write(0, 1, 0x00);
    CHECK(a20.back() == false);
    CHECK(resets == 2);
}

TEST_CASE("port92: save/load round trip re-announces A20", "[port92]") {
    std::vector<bool> a20;
    Port92 p([] {}, [&](bool on) { a20.push_back(on); });
    p.io_write(0, 1, 0x02);
    StateWriter w;
    p.save(w);
    Port92 q([] {}, [&](bool on) { a20.push_back(on); });
    StateReader r(w.bytes());
    q.load(r);
    CHECK(q.io_read(0, 1) == 0x02);
    CHECK(a20.back() == true);
}

TEST_CASE("reset-control: 0x06 resets, 0x02 only selects the hard reset", "[reset_control]") {
    int resets = 0;
    ResetControl rc([&] { resets++; });
    CHECK(rc.io_read(0, 1) == 0x00);
    rc.io_write(0, 1, 0x02);
    CHECK(resets == 0);
    CHECK(rc.io_read(0, 1) == 0x02);
    CHECK(rc.hard_reset_selected());
    rc.io_write(0, 1, 0x06); // RCPU 0 -> 1
    CHECK(resets == 1);
    rc.io_write(0, 1, 0x06); // no transition
    CHECK(resets == 1);
    rc.reset(); // what the board's reset does to the register
    CHECK(rc.io_read(0, 1) == 0x00);
    rc.io_write(0, 1, 0x06); // straight from 0: SRST and RCPU together
    CHECK(resets == 2);
    rc.io_write(0, 1, 0x04); // soft reset selected: still a reset on this board
    rc.io_write(0, 1, 0x00);
    rc.io_write(0, 1, 0x04);
    CHECK(resets == 3);
    rc.io_write(0, 1, 0xfa); // reserved bits read 0
    CHECK(rc.io_read(0, 1) == 0x02);

    StateWriter w;
    rc.save(w);
    ResetControl other([] {});
    StateReader r(w.bytes());
    other.load(r);
    CHECK(other.io_read(0, 1) == 0x02);
}

TEST_CASE("post-port: writes are kept, reads float", "[post_port]") {
    PostPort p;
    CHECK(p.io_read(0, 1) == 0xff);
    CHECK(p.io_read(0, 2) == 0xffff);
    p.io_write(0, 1, 0x42);
    CHECK(p.last_code() == 0x42);
    CHECK(p.io_read(0, 1) == 0xff);
    StateWriter w;
    p.save(w);
    PostPort q;
    StateReader r(w.bytes());
    q.load(r);
    CHECK(q.last_code() == 0x42);
    q.reset();
    CHECK(q.last_code() == 0x00);
}
