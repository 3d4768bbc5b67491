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

void build_root(CLI::App& root, Context& ctx) {
  root.name("boxd");
  root.description("boxd: Linux microVMs (\"boxes\") from the command line");
  // Global options work after subcommands too: subcommands inherit this and
  // hand what they do not know to their parent.
  root.fallthrough();
  root.set_version_flag("--version", std::string("boxd ") + k_version,
                        "Print the version and exit");
  add_global_options(root, ctx.global);

  add_box(root, ctx);
  add_template(root, ctx);
  add_snapshot(root, ctx);
  add_domain(root, ctx);
  add_network(root, ctx);
  add_token(root, ctx);
  add_disk(root, ctx);
  add_auth(root, ctx);
  add_whoami(root, ctx);
  add_ssh_config(root, ctx);
  add_config(root, ctx);
  add_doctor(root, ctx);
  add_version(root, ctx);
  add_local(root, ctx);
  add_mcp(root, ctx);
  add_machine(root, ctx);
  add_help(root, ctx);
  add_docs(root, ctx);

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
