// The byte format between the server and the box file helper: what the
// server accepts from the helper (which a box process can impersonate).
#include <doctest/doctest.h>

#include <sys/stat.h>

#include <string>
#include <vector>

#include "local/box_file_wire.hpp"

namespace wire = boxd::local::box_file;

TEST_CASE("box file wire: an entry round-trips and bad names are refused") {
  const wire::Entry entry{S_IFREG | 0644, 1234, -5, "notes.txt"};
  const std::string payload = wire::encode_entry(entry);
  CHECK(payload.size() == wire::k_entry_fixed_bytes + 9);
  const auto back = wire::parse_entry(payload);
  REQUIRE(back);
  CHECK(back->mode == entry.mode);
  CHECK(back->size == 1234);
  CHECK(back->mtime == -5);
  CHECK(back->name == "notes.txt");
  const std::vector<std::string> bad = {
      "", ".", "..", "a/b", std::string("a\0b", 3), std::string(wire::k_max_name_bytes + 1, 'x')};
  for (const auto& name : bad) {
    CAPTURE(name);
    CHECK_FALSE(wire::parse_entry(wire::encode_entry({S_IFREG, 0, 0, name})));
  }
  CHECK(wire::parse_entry(wire::encode_entry({S_IFREG, 0, 0, std::string(255, 'x')})));
  CHECK_FALSE(wire::parse_entry(payload.substr(0, 7)));
}

TEST_CASE("box file wire: failures carry a known reason and a 16-bit errno") {
  const auto failure = wire::parse_failure(wire::encode_failure(wire::Reason::Open, 20));
  REQUIRE(failure);
  CHECK(failure->reason == wire::Reason::Open);
  CHECK(failure->error == 20);
  CHECK(wire::parse_failure(wire::encode_failure(wire::Reason::Read, 0x10002))->error == 2);
  CHECK_FALSE(wire::parse_failure(std::string("\x00\x00\x00\x00\x01", 5)));
  CHECK_FALSE(wire::parse_failure(std::string("\x2a\x00\x00\x00\x01", 5)));
  CHECK_FALSE(wire::parse_failure(std::string("\x02\x00\x00\x00", 4)));
}

TEST_CASE("box file wire: integers never read past the payload") {
  std::string out;
  wire::put_u64(out, 0x0102030405060708ULL);
  CHECK(*wire::get_u64(out, 0) == 0x0102030405060708ULL);
  CHECK(*wire::get_u32(out, 4) == 0x05060708U);
  CHECK_FALSE(wire::get_u32(out, 5));
  CHECK_FALSE(wire::get_u64(out, 1));
  CHECK_FALSE(wire::get_u64(out, 100));
  CHECK_FALSE(wire::get_u32("", 0));
}
