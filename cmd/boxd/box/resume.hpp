#pragma once

#include <CLI/CLI.hpp>

#include "boxd/box/bulk.hpp"
#include "boxd/context.hpp"

namespace boxd::cli {

using ResumeOptions = BulkOptions;

CLI::App* define_box_resume(CLI::App& parent, ResumeOptions& options);
void add_box_resume(CLI::App& parent, Context& ctx);
// --json: one object per box and line, {"name": ..., "resume_us": N}.
int run_resume(const ResumeOptions& options, Context& ctx);

}  // namespace boxd::cli
