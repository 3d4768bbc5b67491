// GCC 12 at -O2 reports a "potential null pointer dereference" inside
// CLI11's own string splitting (CLI/StringTools.hpp, inlined into App::parse)
// with -Wnull-dereference; it is a false positive in a third-party header.
#pragma GCC diagnostic ignored "-Wnull-dereference"

#include "boxd/dispatch.hpp"

#include <exception>
#include <ostream>

#include <CLI/CLI.hpp>

#include "boxd/exit_codes.hpp"
#include "boxd/root.hpp"
#include "common/error.hpp"

namespace boxd::cli {

namespace {

// The deepest subcommand the parser got to: its help is the useful one.
const CLI::App* selected_command(const CLI::App& root) {
  const CLI::App* app = &root;
  for (;;) {
    const auto selected = app->get_subcommands();
    if (selected.empty()) {
      return app;
    }
    app = selected.front();
  }
}

}  // namespace

int run_cli(int argc, const char* const* argv, Context& ctx) {
  CLI::App root;
  build_root(root, ctx);
  try {
    root.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    ctx.out << selected_command(root)->help();
    return k_exit_ok;
  } catch (const CLI::CallForAllHelp&) {
    ctx.out << selected_command(root)->help("", CLI::AppFormatMode::All);
    return k_exit_ok;
  } catch (const CLI::CallForVersion& version) {
    ctx.out << version.what() << "\n";
    return k_exit_ok;
  } catch (const CLI::ParseError& e) {
    ctx.err << "error: " << e.what() << "\n\n" << selected_command(root)->help();
    return k_exit_usage;
  } catch (const Error& e) {
    ctx.print_error(e.what(), e.hint());
    return exit_code_for(e.error_class());
  }

  if (ctx.global.flags.api_key) {
    ctx.warn("--api-key is visible to other users in the process list; prefer BOXD_API_KEY or "
             "'boxd auth login'");
  }
  if (!ctx.action) {
    // A group without a subcommand (`boxd box`): say what it has.
    ctx.err << selected_command(root)->help();
    return k_exit_usage;
  }
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

}  // namespace boxd::cli
