// GCC 12 at -O2 reports a "potential null pointer dereference" inside
// CLI11's own string splitting (CLI/StringTools.hpp, inlined into App::parse)
// with -Wnull-dereference; it is a false positive in a third-party header.
#pragma GCC diagnostic ignored "-Wnull-dereference"

#include "boxd/dispatch.hpp"

#include <chrono>
#include <cstdlib>
#include <exception>
#include <ostream>
#include <string_view>

#include <CLI/CLI.hpp>

#include "boxd/exit_codes.hpp"
#include "boxd/root.hpp"
#include "boxd/suggest.hpp"
#include "client/update_notice.hpp"
#include "common/error.hpp"
#include "common/log.hpp"
#include "common/version.hpp"

namespace boxd::cli {

SplitArgs split_trailing_args(int argc, const char* const* argv) {
  SplitArgs split;
  for (int i = 0; i < argc; ++i) {
    if (split.trailing) {
      split.trailing->emplace_back(argv[i]);
    } else if (i > 0 && std::string_view(argv[i]) == "--") {
      split.trailing.emplace();
    } else {
      split.parsed.push_back(argv[i]);
    }
  }
  return split;
}

namespace {

bool env_set(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr && value[0] != '\0';
}

// After the command: one stderr line when a server advertised a newer CLI
// (update_notice.hpp has the rules).
void maybe_print_update_notice(Context& ctx) {
  client::ClientApi* client = ctx.existing_client();
  if (client == nullptr) {
    return;
  }
  const client::NoticeSituation situation{ctx.stderr_tty, ctx.global.json, env_set("CI"),
                                          env_set("BOXD_NO_UPDATE_NOTIFIER")};
  if (!client::notice_allowed(situation)) {
    return;
  }
  const std::string advertised = client->advertised_cli_latest();
  if (advertised.empty()) {
    return;
  }
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  if (auto line = client::take_update_notice(advertised, k_version, now,
                                             client::default_notice_state_file())) {
    ctx.err << *line << "\n";
  }
}

// -v info, -vv debug (endpoints, transport, token source and cache, every
// RPC with status and duration), -vvv trace (gRPC's own tracers too); all on
// stderr, never a secret (common/log.hpp redacts the known ones besides).
// Without -v only gRPC's own errors. `boxd local serve` replaces this log
// with the server's.
void start_cli_log(Context& ctx) {
  using logging::Level;
  const int v = ctx.global.verbose;
  const Level level = v >= 3   ? Level::Trace
                      : v == 2 ? Level::Debug
                      : v == 1 ? Level::Info
                               : Level::Error;
  logging::to_stream(ctx.err, level, logging::Format::Text, logging::Style::Cli);
  logging::route_grpc_log(v >= 3);
}

int run_action(Context& ctx) {
  try {
    const int code = ctx.action();
    ctx.out.flush();
    return code;
  } catch (const Error& e) {
    ctx.out.flush();
    ctx.print_error(e.what(), e.hint());
    return exit_code_for(e.error_class());
  } catch (const std::exception& e) {
    ctx.out.flush();
    ctx.print_error(e.what());
    return exit_code_for(ErrorClass::Internal);
  }
}

// Leftover words (or a group that required a subcommand): an unknown
// command or flag gets its name and the close ones ("did you mean");
// anything else CLI11's message and the help.
int report_extras(CLI::App& root, const SplitArgs& split, const CLI::ParseError& e, Context& ctx) {
  const std::vector<std::string> words(split.parsed.begin() + (split.parsed.empty() ? 0 : 1),
                                       split.parsed.end());
  const auto problem = explain_extras(root, words);
  if (!problem) {
    ctx.err << "error: " << e.what() << "\n\n" << root.help();
    return k_exit_usage;
  }
  ctx.print_error(problem->message, problem->hint);
  if (problem->hint.empty()) {
    ctx.err << "\n" << root.help();
  } else {
    ctx.err << "Run '" << problem->help_path << " --help' for usage.\n";
  }
  return k_exit_usage;
}

}  // namespace

int run_cli(int argc, const char* const* argv, Context& ctx) {
  const SplitArgs split = split_trailing_args(argc, argv);
  ctx.trailing_args = split.trailing;
  CLI::App root;
  build_root(root, ctx, first_command_word(split.parsed));
  // root.help() delegates to the deepest subcommand the parser reached and
  // names it in full ("Usage: boxd box create ..."): that is the help shown
  // for --help, for a parse error and for a group given no subcommand.
  try {
    root.parse(static_cast<int>(split.parsed.size()), split.parsed.data());
    if (ctx.trailing_args && !ctx.trailing_args_used && !ctx.trailing_args->empty()) {
      throw CLI::ExtrasError(*ctx.trailing_args);
    }
  } catch (const CLI::CallForHelp&) {
    ctx.out << root.help();
    return k_exit_ok;
  } catch (const CLI::CallForAllHelp&) {
    ctx.out << root.help("", CLI::AppFormatMode::All);
    return k_exit_ok;
  } catch (const CLI::CallForVersion& version) {
    ctx.out << version.what() << "\n";
    return k_exit_ok;
  } catch (const CLI::ExtrasError& e) {
    return report_extras(root, split, e, ctx);
  } catch (const CLI::RequiredError& e) {
    // A group that requires a subcommand got only an unknown word.
    return report_extras(root, split, e, ctx);
  } catch (const CLI::ParseError& e) {
    ctx.err << "error: " << e.what() << "\n\n" << root.help();
    return k_exit_usage;
  } catch (const Error& e) {
    ctx.print_error(e.what(), e.hint());
    return exit_code_for(e.error_class());
  }

  if (ctx.global.flags.api_key) {
    ctx.warn(
        "--api-key is visible to other users in the process list; prefer BOXD_API_KEY or "
        "'boxd auth login'");
  }
  if (!ctx.action) {
    // A group without a subcommand (`boxd box`): say what it has.
    ctx.err << root.help();
    return k_exit_usage;
  }
  start_cli_log(ctx);
  const auto started = std::chrono::steady_clock::now();
  const int code = run_action(ctx);
  logging::info(
      "done",
      {{"exit", code},
       {"ms", static_cast<std::int64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                            std::chrono::steady_clock::now() - started)
                                            .count())}});
  maybe_print_update_notice(ctx);
  logging::off();  // the log writes to ctx.err, which need not outlive this call (tests)
  return code;
}

}  // namespace boxd::cli
