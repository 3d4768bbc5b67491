// `boxd doctor`: one line per check (lib/client/doctor.hpp), exit 0 when
// none failed, else the exit code of the first failure's class.
#pragma once

#include <CLI/CLI.hpp>

#include "boxd/context.hpp"

namespace boxd::cli {

struct DoctorOptions {
  unsigned timeout_secs = 5;
  bool json = false;
};

CLI::App* define_doctor(CLI::App& parent, DoctorOptions& options);
void add_doctor(CLI::App& root, Context& ctx);
int run_doctor(const DoctorOptions& options, Context& ctx);

}  // namespace boxd::cli
