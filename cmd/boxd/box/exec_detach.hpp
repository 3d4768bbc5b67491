#pragma once

#include "boxd/box/exec.hpp"
#include "boxd/context.hpp"

namespace boxd::cli {

// `box exec --detach`: starts the command as a job in the box (its own
// session, output to a log, exit status recorded; job_scripts.hpp), prints
// the job id and returns at once. Errors use the usual exit codes.
int run_exec_detach(const ExecOptions& options, Context& ctx);

}  // namespace boxd::cli
