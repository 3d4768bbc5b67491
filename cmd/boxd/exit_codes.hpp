// The one table that turns an error class into a process exit code
// (docs/design.md, section 5 "Exit codes"; `boxd help exit-codes` prints it).
#pragma once

#include <string>

#include "common/error.hpp"

namespace boxd::cli {

inline constexpr int k_exit_ok = 0;
inline constexpr int k_exit_usage = 2;

// `box exec` keeps the remote command's status; these are its own codes.
inline constexpr int k_exit_exec_timeout = 124;
inline constexpr int k_exit_exec_failure = 255;

int exit_code_for(ErrorClass error_class);

// The table as text, for `boxd help exit-codes`.
std::string exit_codes_help();

}  // namespace boxd::cli
