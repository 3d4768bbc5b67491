// boxd: the shortest path from argv to an exit code (dispatch.cpp).
#include <malloc.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include <absl/synchronization/mutex.h>

#include "boxd/box/forward_relay.hpp"
#include "boxd/context.hpp"
#include "boxd/dispatch.hpp"
#include "boxd/secret_args.hpp"
#include "common/log.hpp"
#include "common/sanitizer.hpp"
#include "local/box_file.hpp"
#include "local/runtime.hpp"

namespace {

// What the command wrote is flushed; then the process ends without tearing
// down the command tree, the gRPC channel and its threads and the static
// objects, none of which leaves anything outside the process. That teardown
// is measurable on every short command (tests/bench/FINDINGS.md).
int finish(boxd::cli::Context& ctx, int code) {
  // Under AddressSanitizer the process ends the long way, so that
  // LeakSanitizer's exit-time check runs (tests/sanitizers).
  if constexpr (boxd::k_address_sanitizer) {
    return code;
  }
  ctx.out.flush();
  ctx.err.flush();
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  boxd::logging::flush();
  _exit(code);
}

// Freed memory is kept for the next message: glibc otherwise maps each
// buffer of 128 KiB to 32 MiB afresh and gives it back (and trims a
// thread's heap past 128 KiB free), so the 1 MiB messages of a transfer
// kept faulting in new pages: 10,000-60,000 page faults per GiB in the
// client and the server, each a slow one on a VM whose freed memory goes
// back to the host (tests/bench/FINDINGS.md, "Round eight"). With these,
// 1,500-5,000 per GiB; a heap gives back what is free at its top past 8 MiB.
void keep_freed_memory() {
  if constexpr (!boxd::k_address_sanitizer) {
    mallopt(M_MMAP_THRESHOLD, 4 << 20);
    mallopt(M_TRIM_THRESHOLD, 8 << 20);
  }
}

// Debian builds abseil without NDEBUG, so every absl::Mutex lock ran the
// debug deadlock detector: a process-wide spin lock and an update of a
// lock-order graph, on each of the dozens of locks gRPC takes per message
// (~1% of the server's CPU in a bulk exec, more per keystroke;
// tests/bench/FINDINGS.md, "Round ten"). Release builds of abseil skip it.
// Set before any thread or lock exists.
void skip_mutex_deadlock_checks() {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
}

}  // namespace

int main(int argc, char** argv) {
  skip_mutex_deadlock_checks();
  // The box init process re-executes this binary; it must not touch CLI11,
  // config files or signal dispositions.
  if (argc >= 3 && std::strcmp(argv[1], "local") == 0 && std::strcmp(argv[2], "__box-init") == 0) {
    return boxd::local::box_init_main(argc, argv);
  }
  // The file helper the server starts inside a box (box_file.hpp).
  if (argc >= 3 && std::strcmp(argv[1], "local") == 0 && std::strcmp(argv[2], "__box-file") == 0) {
    return boxd::local::box_file_main(argc, argv);
  }
  // The relay `box forward` runs inside a box (forward_relay.hpp).
  if (argc >= 2 && std::strcmp(argv[1], "__relay") == 0) {
    return boxd::cli::forward_relay_main(argc, argv);
  }
  // A closed stdout (`boxd box list | head -1`) is not an error: writes fail
  // with EPIPE instead of killing us, and each command ends quietly.
  std::signal(SIGPIPE, SIG_IGN);
  keep_freed_memory();
  // Parsed from copies: argv's own memory (what /proc shows) loses its keys.
  std::vector<std::string> args = boxd::cli::take_secret_arguments(argc, argv);
  std::vector<char*> parsed;
  for (auto& arg : args) {
    parsed.push_back(arg.data());
  }
  parsed.push_back(nullptr);
  boxd::cli::Context ctx;
  return finish(ctx, boxd::cli::run_cli(argc, parsed.data(), ctx));
}
