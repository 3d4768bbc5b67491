// cmd/boxd/root: the command line's first word picks how much of the tree
// is built, and a pruned tree is the same tree for the area it reaches.
#include <doctest/doctest.h>

#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "boxd/context.hpp"
#include "boxd/root.hpp"

namespace {

using boxd::cli::first_command_word;

std::string first_word(const std::vector<const char*>& argv) {
  return std::string(first_command_word(argv));
}

struct Tree {
  std::ostringstream out;
  std::ostringstream err;
  std::istringstream in;
  boxd::cli::Context ctx{out, err, in};
  CLI::App root;
  explicit Tree(std::string_view word) { boxd::cli::build_root(root, ctx, word); }

  std::vector<std::string> areas() {
    std::vector<std::string> names;
    for (const CLI::App* sub : root.get_subcommands({})) {
      names.push_back(sub->get_name());
    }
    return names;
  }
};

}  // namespace

TEST_CASE("root: the first word skips the global options and their values") {
  CHECK(first_word({"boxd", "box", "list"}) == "box");
  CHECK(first_word({"boxd", "--json", "-q", "box", "list"}) == "box");
  CHECK(first_word({"boxd", "--profile", "box", "disk", "list"}) == "disk");
  CHECK(first_word({"boxd", "--api-url", "http://x", "--token", "t", "disk"}) == "disk");
  CHECK(first_word({"boxd", "--api-url=http://x", "whoami"}) == "whoami");
  CHECK(first_word({"boxd", "--", "box"}).empty());
  CHECK(first_word({"boxd", "--json"}).empty());
  CHECK(first_word({"boxd"}).empty());
}

TEST_CASE("root: a known first word builds the areas up to its own; others build all") {
  Tree full("");
  const auto all = full.areas();
  REQUIRE(all.size() > 10);
  CHECK(Tree("box").areas() == std::vector<std::string>{"box"});
  for (const std::string word : {"nosuch", "help", "--help"}) {
    CAPTURE(word);
    CHECK(Tree(word).areas() == all);
  }
  // Every area's own tree is the same whether the rest was built or not:
  // the same help, down to every subcommand.
  for (const std::string& name : all) {
    CAPTURE(name);
    Tree pruned(name);
    CHECK(pruned.areas().size() <= all.size());
    const CLI::App* alone = pruned.root.get_subcommand(name);
    const CLI::App* within = full.root.get_subcommand(name);
    CHECK(alone->help() == within->help());
    REQUIRE(alone->get_subcommands({}).size() == within->get_subcommands({}).size());
    for (const CLI::App* leaf : within->get_subcommands({})) {
      CHECK(alone->get_subcommand(leaf->get_name())->help() == leaf->help());
    }
  }
}
