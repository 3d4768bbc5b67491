// Paths in a box (box_path.hpp): the one lexical normalisation that file
// calls (files.cpp) and disk mount paths (disks.cpp) share.
#include <doctest/doctest.h>

#include <string>

#include "local/box_path.hpp"
#include "local/fault.hpp"
#include "local_fault_support.hpp"

using namespace boxd::local;
using boxd::local::test::failure_of;

TEST_CASE("box paths: slashes and '.' are dropped, '..' removes the part before it") {
  CHECK(normalise_path("/").path == "/");
  CHECK(normalise_path("//").path == "/");
  CHECK(normalise_path("/a//b/./c/../d").path == "/a/b/d");
  CHECK(normalise_path("/a/b/").path == "/a/b");
  CHECK(normalise_path("/./.").path == "/");
  const auto up = normalise_path("/a/..");
  CHECK(up.path == "/");
  CHECK(up.dotdot);
  CHECK_FALSE(up.climbed);
  const auto plain = normalise_path("/home/boxd/x");
  CHECK(plain.path == "/home/boxd/x");
  CHECK_FALSE(plain.dotdot);
  CHECK_FALSE(plain.climbed);
}

TEST_CASE("box paths: a '..' above '/' climbs out, wherever it is") {
  CHECK(normalise_path("/..").climbed);
  CHECK(normalise_path("/a/../../b").climbed);
  CHECK(normalise_path("//..//x").climbed);
  CHECK_FALSE(normalise_path("/a/b/../..").climbed);
  CHECK_FALSE(normalise_path("/...").climbed);  // a name, not '..'
  CHECK(normalise_path("/...").path == "/...");
}

TEST_CASE("box paths: relative paths and '~' start in /home/boxd") {
  CHECK(absolute_in_box("~") == "/home/boxd");
  CHECK(absolute_in_box("~/") == "/home/boxd");
  CHECK(absolute_in_box("~/a//b") == "/home/boxd/a/b");
  CHECK(absolute_in_box("notes.txt") == "/home/boxd/notes.txt");
  CHECK(absolute_in_box("./x/../y") == "/home/boxd/y");
  CHECK(absolute_in_box("~x") == "/home/boxd/~x");  // not a home directory
  CHECK(absolute_in_box("..") == "/home");
  CHECK(absolute_in_box("../../etc//passwd") == "/etc/passwd");
  CHECK(absolute_in_box("/tmp/./a") == "/tmp/a");
}

TEST_CASE("box paths: empty, NUL and above-'/' paths are INVALID_ARGUMENT") {
  CHECK(failure_of([] { absolute_in_box(""); }) ==
        std::pair{Fault::InvalidArgument, std::string("path is required")});
  CHECK(failure_of([] { absolute_in_box(std::string("a\0b", 3)); }) ==
        std::pair{Fault::InvalidArgument, std::string("path contains a NUL byte")});
  CHECK(failure_of([] { absolute_in_box("../../.."); }) ==
        std::pair{Fault::InvalidArgument, std::string("path '../../..' is outside the box")});
  CHECK(failure_of([] { absolute_in_box("/../etc"); }) ==
        std::pair{Fault::InvalidArgument, std::string("path '/../etc' is outside the box")});
}
