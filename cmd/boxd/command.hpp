// How a leaf command is wired (docs/design.md, section 10, "Parse, then run"): a
// `define_*` function declares the subcommand and binds its flags to a plain
// options struct; the subcommand's callback (run by CLI11 only after the
// whole command line parsed) copies the global --json/-q into the struct and
// stores `run(options, ctx)` as ctx.action; main runs it. Tests call the
// define function on their own CLI::App and inspect the struct: argv ->
// options with no network.
#pragma once

#include <memory>

#include <CLI/CLI.hpp>

#include "boxd/context.hpp"

namespace boxd::cli {

// `prepare`, when given, finishes the options from the context (e.g. the
// words after `--`) before the action is stored.
template <class Options>
CLI::App* add_leaf(CLI::App& parent, Context& ctx, CLI::App* (*define)(CLI::App&, Options&),
                   int (*run)(const Options&, Context&),
                   void (*prepare)(Options&, Context&) = nullptr) {
  auto options = std::make_shared<Options>();
  CLI::App* command = define(parent, *options);
  command->callback([options, &ctx, run, prepare] {
    if (prepare != nullptr) {
      prepare(*options, ctx);
    }
    if constexpr (requires { options->json; }) {
      options->json = options->json || ctx.global.json;
    }
    if constexpr (requires { options->quiet; }) {
      options->quiet = options->quiet || ctx.global.quiet;
    }
    ctx.action = [options, &ctx, run] { return run(*options, ctx); };
  });
  return command;
}

}  // namespace boxd::cli
