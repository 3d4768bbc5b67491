// The shared shape of the lifecycle commands (start, stop, reboot, destroy,
// suspend, resume): NAME... arguments, one call per box, each failure
// reported as `error: ...` while the rest go on, and the exit code of the
// first failure.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <google/protobuf/message.h>
#include <CLI/CLI.hpp>

#include "boxd/context.hpp"

namespace boxd::cli {

struct BulkOptions {
  std::vector<std::string> names;
  bool json = false;
  bool quiet = false;
};

// Declares `<verb> NAME...` with the given one-line description and examples.
CLI::App* define_bulk_command(CLI::App& parent, const std::string& verb,
                              const std::string& description, const std::string& examples,
                              std::vector<std::string>& names);

// Calls `one` for each name in order; a boxd::Error is printed and remembered.
// Returns 0, or the exit code of the first failure.
int for_each_box(Context& ctx, const std::vector<std::string>& names,
                 const std::function<void(const std::string&)>& one);

// Reports one box's timed result: its response as one JSON line (plus
// "name") with --json, else "<Done> box 'NAME' in X ms" on stderr unless -q.
void report_timed(Context& ctx, const BulkOptions& options, const std::string& name,
                  const google::protobuf::Message& response, const std::string& done,
                  std::uint64_t micros);

}  // namespace boxd::cli
