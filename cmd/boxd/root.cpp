#include "boxd/root.hpp"

#include "boxd/auth/auth.hpp"
#include "boxd/box/box.hpp"
#include "boxd/box/machine.hpp"
#include "boxd/config.hpp"
#include "boxd/disk/disk.hpp"
#include "boxd/docs/docs.hpp"
#include "boxd/doctor/doctor.hpp"
#include "boxd/domain/domain.hpp"
#include "boxd/help.hpp"
#include "boxd/local/local.hpp"
#include "boxd/mcp/mcp.hpp"
#include "boxd/network/network.hpp"
#include "boxd/snapshot/snapshot.hpp"
#include "boxd/ssh/ssh_config.hpp"
#include "boxd/template/template.hpp"
#include "boxd/token/token.hpp"
#include "boxd/version.hpp"
#include "boxd/whoami.hpp"
#include "common/version.hpp"

#include <algorithm>
#include <array>
#include <string>
#include <string_view>

namespace boxd::cli {

namespace {

void add_global_options(CLI::App& root, GlobalOptions& global) {
  client::ConfigFlags& flags = global.flags;
  const std::string group = "Global options";
  root.add_option_function<std::string>(
          "--api-key", [&flags](const std::string& v) { flags.api_key = v; },
          "API key (visible in the process list: prefer BOXD_API_KEY or 'boxd auth login')")
      ->group(group);
  root.add_option_function<std::string>(
          "--token", [&flags](const std::string& v) { flags.token = v; },
          "JWT used as is [BOXD_TOKEN]")
      ->group(group);
  root.add_option_function<std::string>(
          "--environment", [&flags](const std::string& v) { flags.environment = v; },
          "production, staging or local [BOXD_ENVIRONMENT]")
      ->group(group);
  root.add_option_function<std::string>(
          "--api-url", [&flags](const std::string& v) { flags.api_url = v; },
          "gRPC endpoint; http:// h2c, https:// TLS, loopback host:port auto [BOXD_API_URL]")
      ->group(group);
  root.add_option_function<std::string>(
          "--exchange-url", [&flags](const std::string& v) { flags.exchange_url = v; },
          "API key exchange URL [BOXD_EXCHANGE_URL]")
      ->group(group);
  root.add_option_function<std::string>(
          "--profile", [&flags](const std::string& v) { flags.profile = v; },
          "Profile in config.json [BOXD_PROFILE]")
      ->group(group);
  root.add_flag("--json", global.json, "Print JSON (the document only) on stdout")->group(group);
  root.add_flag("-q,--quiet", global.quiet, "Print names only / fewer messages")->group(group);
  root.add_flag("-v,--verbose", global.verbose, "More detail on stderr (repeatable; never secrets)")
      ->group(group);
  root.add_flag("--no-color", global.no_color, "No colour (also: NO_COLOR)")->group(group);
}

}  // namespace

std::string_view first_command_word(const std::vector<const char*>& argv) {
  // The global options that take a value (add_global_options).
  static constexpr std::array<std::string_view, 6> k_with_value = {
      "--api-key", "--token", "--environment", "--api-url", "--exchange-url", "--profile"};
  for (std::size_t i = 1; i < argv.size(); ++i) {
    const std::string_view word = argv[i];
    if (word == "--") {
      return {};
    }
    if (word.empty() || word[0] != '-') {
      return word;
    }
    if (std::find(k_with_value.begin(), k_with_value.end(), word) != k_with_value.end()) {
      ++i;  // its value
    }
  }
  return {};
}

void build_root(CLI::App& root, Context& ctx, std::string_view first_word) {
  root.name("boxd");
  root.description("boxd: Linux microVMs (\"boxes\") from the command line");
  // Global options work after subcommands too: subcommands inherit this and
  // hand what they do not know to their parent.
  root.fallthrough();
  root.set_version_flag("--version", std::string("boxd ") + k_version,
                        "Print the version and exit");
  add_global_options(root, ctx.global);

  // Each area as a plain function (some adders take more, with defaults).
  using AddArea = void (*)(CLI::App&, Context&);
  static constexpr std::array<AddArea, 18> k_areas = {
      [](CLI::App& r, Context& c) { add_box(r, c); },
      [](CLI::App& r, Context& c) { add_template(r, c); },
      [](CLI::App& r, Context& c) { add_snapshot(r, c); },
      [](CLI::App& r, Context& c) { add_domain(r, c); },
      [](CLI::App& r, Context& c) { add_network(r, c); },
      [](CLI::App& r, Context& c) { add_token(r, c); },
      [](CLI::App& r, Context& c) { add_disk(r, c); },
      [](CLI::App& r, Context& c) { add_auth(r, c); },
      [](CLI::App& r, Context& c) { add_whoami(r, c); },
      [](CLI::App& r, Context& c) { add_ssh_config(r, c); },
      [](CLI::App& r, Context& c) { add_config(r, c); },
      [](CLI::App& r, Context& c) { add_doctor(r, c); },
      [](CLI::App& r, Context& c) { add_version(r, c); },
      [](CLI::App& r, Context& c) { add_local(r, c); },
      [](CLI::App& r, Context& c) { add_mcp(r, c); },
      [](CLI::App& r, Context& c) { add_machine(r, c); },
      [](CLI::App& r, Context& c) { add_help(r, c); },
      [](CLI::App& r, Context& c) { add_docs(r, c); },
  };
  const std::string wanted(first_word == "help" ? std::string_view{} : first_word);
  const auto has_wanted = [&root, &wanted] {
    const auto subs = root.get_subcommands({});
    return std::any_of(subs.begin(), subs.end(),
                       [&wanted](const CLI::App* sub) { return sub->check_name(wanted); });
  };
  for (const AddArea add : k_areas) {
    add(root, ctx);
    if (!wanted.empty() && has_wanted()) {
      break;
    }
  }

  root.footer(
      "Examples:\n"
      "  boxd auth login < key.txt\n"
      "  vm=$(boxd box create)\n"
      "  boxd box exec \"$vm\" -- uname -a\n"
      "  boxd --environment local box list\n"
      "\n"
      "Run 'boxd COMMAND --help' for more on a command.");
}

}  // namespace boxd::cli
