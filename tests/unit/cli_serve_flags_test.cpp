// The flags `boxd local start` hands to the server it spawns
// (serve_flags_to_argv) parse back into the same options (add_serve_flags):
// a flag left out there would silently fall back to its default in the
// background server.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "boxd/local/serve_flags.hpp"

namespace {

boxd::local::ServeOptions serve_flags_test_round_trip(const boxd::local::ServeOptions& given) {
  boxd::local::ServeOptions parsed;
  CLI::App app("serve");
  boxd::cli::add_serve_flags(app, parsed);
  std::vector<std::string> argv = boxd::cli::serve_flags_to_argv(given);
  std::reverse(argv.begin(), argv.end());  // CLI11 takes a vector last word first
  app.parse(argv);
  return parsed;
}

}  // namespace

TEST_CASE("serve flags: the stream caps reach the server `local start` spawns") {
  boxd::local::ServeOptions given;
  given.max_user_streams = 7;
  given.max_user_execs = 11;
  given.max_streams = 13;
  given.max_execs = 17;
  given.stream_idle_timeout = 19;
  given.box_pids_max = 23;
  given.max_boxes = 29;
  given.max_connections = 31;
  given.max_user_connections = 37;
  const auto parsed = serve_flags_test_round_trip(given);
  CHECK(parsed.max_user_streams == 7);
  CHECK(parsed.max_user_execs == 11);
  CHECK(parsed.max_streams == 13);
  CHECK(parsed.max_execs == 17);
  CHECK(parsed.stream_idle_timeout == 19);
  CHECK(parsed.box_pids_max == 23);
  CHECK(parsed.max_boxes == 29);
  CHECK(parsed.max_connections == 31);
  CHECK(parsed.max_user_connections == 37);
  // The server-wide caps left to the server stay so.
  const auto defaults = serve_flags_test_round_trip(boxd::local::ServeOptions{});
  CHECK(defaults.max_streams == 0);
  CHECK(defaults.max_execs == 0);
  CHECK(defaults.max_connections == 0);
}
