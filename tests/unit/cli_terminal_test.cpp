// The escape-sequence filter of interactive sessions (issue 3).
#include <doctest/doctest.h>

#include "boxd/term/terminal.hpp"
#include "common/error.hpp"

using boxd::cli::EscapeFilter;

TEST_CASE("~. after a newline ends the session") {
  EscapeFilter f('~');
  auto r = f.feed("ls\r~.");
  CHECK(r.disconnect);
  CHECK(r.forward == "ls\r");
}

TEST_CASE("~. at the very start ends the session") {
  EscapeFilter f('~');
  CHECK(f.feed("~.").disconnect);
}

TEST_CASE("~ in the middle of a line is an ordinary key") {
  EscapeFilter f('~');
  auto r = f.feed("echo a~.b\r");
  CHECK_FALSE(r.disconnect);
  CHECK(r.forward == "echo a~.b\r");
}

TEST_CASE("a line-leading ~ is held only until the next key") {
  EscapeFilter f('~');
  auto r1 = f.feed("\n~");
  CHECK(r1.forward == "\n");
  auto r2 = f.feed("x");
  CHECK(r2.forward == "~x");
  CHECK_FALSE(r2.disconnect);
  EscapeFilter g('~');
  CHECK(g.feed("~~").forward == "~");
}

TEST_CASE("escape split across reads") {
  EscapeFilter f('~');
  CHECK(f.feed("\r").forward == "\r");
  CHECK(f.feed("~").forward.empty());
  CHECK(f.feed(".").disconnect);
}

TEST_CASE("control keys pass through untouched") {
  EscapeFilter f('~');
  const std::string keys = "\x03\x04\x1a\x10";
  CHECK(f.feed(keys).forward == keys);
}

TEST_CASE("escapes can be disabled or changed") {
  EscapeFilter none(std::nullopt);
  auto r = none.feed("~.");
  CHECK_FALSE(r.disconnect);
  CHECK(r.forward == "~.");
  EscapeFilter hash('#');
  CHECK(hash.feed("#.").disconnect);
  CHECK(boxd::cli::parse_escape_char("none") == std::nullopt);
  CHECK(boxd::cli::parse_escape_char("#") == '#');
  CHECK(boxd::cli::parse_escape_char("^]") == '\x1d');
  CHECK_THROWS_AS(boxd::cli::parse_escape_char("ab"), boxd::Error);
}
