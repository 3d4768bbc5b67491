#include "boxd/box/machine.hpp"

#include <string>

#include "boxd/box/box.hpp"

namespace boxd::cli {

namespace {

// Gives a command the official verb; its own name stays as an alias.
void rename(CLI::App& group, const std::string& from, const std::string& to) {
  CLI::App* command = group.get_subcommand(from);
  command->name(to);
  command->alias(from);
}

}  // namespace

void add_machine(CLI::App& root, Context& ctx) {
  CLI::App* machine = add_box(root, ctx, "machine");
  machine->description(
      "Alias of 'box' with the official boxd CLI's verbs: new (create), remove (destroy), pause "
      "(suspend)");
  machine->group("Aliases");
  rename(*machine, "create", "new");
  rename(*machine, "destroy", "remove");
  rename(*machine, "suspend", "pause");
  machine->footer(
      "Every 'boxd box' command works as 'boxd machine' too, so scripts written for the\n"
      "official boxd CLI run unchanged; 'boxd box --help' documents them.\n"
      "\n"
      "Examples:\n"
      "  boxd machine new web --json\n"
      "  boxd machine exec web -- uname -a\n"
      "  boxd machine pause web\n"
      "  boxd machine remove web -y");
}

}  // namespace boxd::cli
