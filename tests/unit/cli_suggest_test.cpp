// "Did you mean": the edit distance and which names are close enough.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "boxd/suggest.hpp"

using namespace boxd::cli;

TEST_CASE("edit distance counts a swap of neighbours as one edit") {
  CHECK(edit_distance("create", "create") == 0);
  CHECK(edit_distance("craete", "create") == 1);
  CHECK(edit_distance("lsit", "list") == 1);
  CHECK(edit_distance("", "abc") == 3);
  CHECK(edit_distance("destory", "destroy") == 1);
  CHECK(edit_distance("kitten", "sitting") == 3);
}

TEST_CASE("suggestions: close names first, prefixes, nothing for strangers") {
  const std::vector<std::string> commands = {"create", "list",    "ls", "start",
                                             "stop",   "destroy", "rm", "exec"};
  CHECK(suggestions("craete", commands) == std::vector<std::string>{"create"});
  CHECK(suggestions("destory", commands) == std::vector<std::string>{"destroy"});
  CHECK(suggestions("lst", commands) == std::vector<std::string>{"list", "ls"});
  CHECK(suggestions("st", commands) == std::vector<std::string>{"stop", "start"});
  CHECK(suggestions("frobnicate", commands).empty());
  CHECK(suggestions("create", commands).empty());  // itself is no suggestion
}

TEST_CASE("suggestions for flags ignore the dashes and single letters match only case") {
  const std::vector<std::string> flags = {"--json",    "-q", "--quiet", "-v",
                                          "--verbose", "-h", "--help",  "--profile"};
  CHECK(suggestions("--jsno", flags) == std::vector<std::string>{"--json"});
  CHECK(suggestions("--profle", flags) == std::vector<std::string>{"--profile"});
  CHECK(suggestions("-Q", flags) == std::vector<std::string>{"-q"});
  CHECK(suggestions("-x", flags).empty());
}

TEST_CASE("or_list joins with commas and 'or'") {
  CHECK(or_list({"a"}) == "'a'");
  CHECK(or_list({"a", "b"}) == "'a' or 'b'");
  CHECK(or_list({"a", "b", "c"}) == "'a', 'b' or 'c'");
}
