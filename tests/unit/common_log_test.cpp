// common/log.hpp (rendering, levels, redaction, the file sink's rotation) and
// the pure parts of `boxd local logs` and of doctor's "local server" line.
#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "boxd/doctor/local_server.hpp"
#include "boxd/local/logs.hpp"
#include "common/log.hpp"

using namespace boxd;

TEST_CASE("log events render as key=value text or JSON members") {
  const logging::Fields fields{
      {"user", "alice"}, {"ms", 12}, {"error", "VM 'x' not found"}, {"empty", ""}};
  CHECK(logging::render(logging::Format::Text, "rpc", fields) ==
        "rpc user=alice ms=12 error=\"VM 'x' not found\" empty=\"\"");
  const auto doc =
      nlohmann::json::parse("{" + logging::render(logging::Format::Json, "rpc", fields) + "}");
  CHECK(doc["msg"] == "rpc");
  CHECK(doc["ms"] == 12);
  CHECK(doc["error"] == "VM 'x' not found");
  // One event is one line, whatever a value holds.
  const auto text = logging::render(logging::Format::Text, "a\nb", {{"v", "x\"y\nz"}});
  CHECK(text == "a\\nb v=\"x\\\"y\\nz\"");
}

TEST_CASE("levels filter, and registered secrets never reach a line") {
  std::ostringstream out;
  logging::to_stream(out, logging::Level::Info, logging::Format::Text, logging::Style::Server);
  logging::debug("hidden");
  logging::add_secret("sekrit-value-123");
  logging::info("shown", {{"v", "a sekrit-value-123 b"}});
  logging::off();
  const auto text = out.str();
  CHECK(text.find("hidden") == std::string::npos);
  CHECK(text.find("shown v=\"a [redacted] b\"") != std::string::npos);
  CHECK(text.find("sekrit") == std::string::npos);
  CHECK(logging::scrub("authorization: Bearer abc.def.ghi x") ==
        "authorization: Bearer [redacted] x");
  CHECK(logging::scrub("tok eyJhbGciOi.eyJzdWIi.c2ln end") == "tok [redacted] end");
  CHECK(logging::scrub("eyJonly-one.part") == "eyJonly-one.part");
  CHECK(logging::scrub("key=authorization value=42 65 61 72 65 72 20 65 79 4a 'x'") ==
        "key=authorization value=[redacted] 'x'");
  CHECK(logging::scrub("len=00 01 02") == "len=00 01 02");
}

TEST_CASE("the file sink rotates at its size and keeps max_files") {
  const auto dir =
      std::filesystem::temp_directory_path() / ("boxd-log-test-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  logging::to_file({dir / "server.log", 4096, 2}, logging::Level::Debug, logging::Format::Json);
  for (int i = 0; i < 200; ++i) {
    logging::debug("event", {{"i", i}});
  }
  logging::off();
  CHECK(std::filesystem::exists(dir / "server.log"));
  CHECK(std::filesystem::exists(dir / "server.1.log"));
  CHECK(std::filesystem::exists(dir / "server.2.log"));
  CHECK_FALSE(std::filesystem::exists(dir / "server.3.log"));
  CHECK(std::filesystem::file_size(dir / "server.log") <= 4096);
  const auto files = cli::log_files_oldest_first(dir / "server.log");
  REQUIRE(files.size() == 3);
  CHECK(files[0].filename() == "server.2.log");
  CHECK(files[2].filename() == "server.log");
  std::ifstream last(dir / "server.log");
  std::string line;
  std::getline(last, line);
  const auto info = cli::parse_log_line(line);
  REQUIRE(info);
  CHECK(info->level == logging::Level::Debug);
  std::filesystem::remove_all(dir);
}

TEST_CASE("local logs: durations and log lines") {
  CHECK(cli::parse_duration_secs("90s") == 90);
  CHECK(cli::parse_duration_secs("1h30m") == 5400);
  CHECK(cli::parse_duration_secs("2d") == 172800);
  CHECK(cli::parse_duration_secs("45") == 45);
  CHECK_FALSE(cli::parse_duration_secs(""));
  CHECK_FALSE(cli::parse_duration_secs("soon"));
  CHECK_FALSE(cli::parse_duration_secs("h"));
  const auto text = cli::parse_log_line("2026-11-30T03:04:05.123Z warn  no pid namespace: x");
  REQUIRE(text);
  CHECK(text->level == logging::Level::Warn);
  CHECK(text->unix_ms == 1796007845123);
  const auto json =
      cli::parse_log_line(R"({"ts":"2026-11-30T03:04:05.123Z","level":"debug","msg":"rpc"})");
  REQUIRE(json);
  CHECK(json->level == logging::Level::Debug);
  CHECK(json->unix_ms == 1796007845123);
  CHECK_FALSE(cli::parse_log_line("==== start 1: boxd local serve"));
}

TEST_CASE("doctor: the flags of a boxd local serve command line") {
  using std::string_literals::operator""s;
  const auto serve = cli::parse_serve_cmdline(
      "/usr/bin/boxd\0local\0serve\0--state-dir\0/var/lib/boxd-local\0--port\0"
      "19443\0"s);
  CHECK(serve.is_serve);
  CHECK(serve.port == 19443);
  CHECK(serve.state_dir == "/var/lib/boxd-local");
  const auto plain = cli::parse_serve_cmdline("boxd\0local\0serve\0"s);
  CHECK(plain.port == 9443);
  CHECK_FALSE(cli::parse_serve_cmdline("boxd\0box\0list\0"s).is_serve);
}
