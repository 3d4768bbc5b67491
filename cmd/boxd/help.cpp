#include "boxd/help.hpp"

#include <memory>

#include "boxd/docs/topics.hpp"
#include "boxd/exit_codes.hpp"
#include "common/error.hpp"

namespace boxd::cli {

void add_help(CLI::App& root, Context& ctx) {
  auto options = std::make_shared<HelpOptions>();
  CLI::App* cmd =
      root.add_subcommand("help", "Show help for a command, or a topic (exit-codes, environment)");
  cmd->add_option("TOPIC", options->topic,
                  "exit-codes, environment, or a command such as 'box exec'");
  cmd->footer(
      "Examples:\n"
      "  boxd help exit-codes\n"
      "  boxd help environment\n"
      "  boxd help box exec");
  cmd->callback([options, &root, &ctx] {
    ctx.action = [options, &root, &ctx] { return run_help(*options, root, ctx); };
  });
}

int run_help(const HelpOptions& options, const CLI::App& root, Context& ctx) {
  if (options.topic.size() == 1 && options.topic.front() == "exit-codes") {
    ctx.out << exit_codes_help();
    return 0;
  }
  if (options.topic.size() == 1 && options.topic.front() == "environment") {
    ctx.out << docs::environment_help();
    return 0;
  }
  const CLI::App* app = &root;
  std::string path = root.get_name();
  for (const auto& word : options.topic) {
    const CLI::App* next = nullptr;
    for (const CLI::App* sub : app->get_subcommands({})) {
      if (sub->check_name(word)) {
        next = sub;
        break;
      }
    }
    if (next == nullptr) {
      throw Error(ErrorClass::Usage, "no help for '" + word + "'",
                  "run 'boxd --help' to see the commands");
    }
    app = next;
    path += " " + next->get_name();
  }
  const std::string own = app->get_name();
  const std::string prefix =
      path.size() > own.size() ? path.substr(0, path.size() - own.size() - 1) : "";
  ctx.out << app->help(prefix);
  return 0;
}

}  // namespace boxd::cli
