// exec --jsonl: UTF-8 checks, base64, and the writer's line stream (held-back
// partial characters, binary chunks as data_base64, the final status line).
#include <doctest/doctest.h>

#include <fcntl.h>
#include <unistd.h>

#include <csignal>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "boxd/box/exec_jsonl.hpp"
#include "common/base64.hpp"

using namespace boxd::cli;
using boxd::base64_encode;

namespace {

// Runs `body` with a JsonlWriter on a pipe and returns the lines it wrote.
template <typename Body>
std::vector<nlohmann::json> written_lines(Body body) {
  int fds[2];
  REQUIRE(pipe2(fds, O_CLOEXEC) == 0);
  {
    JsonlWriter writer(fds[1]);
    body(writer);
  }
  close(fds[1]);
  std::string text;
  char buffer[4096];
  ssize_t n = 0;
  while ((n = read(fds[0], buffer, sizeof buffer)) > 0) {
    text.append(buffer, static_cast<std::size_t>(n));
  }
  close(fds[0]);
  std::vector<nlohmann::json> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t end = text.find('\n', start);
    REQUIRE(end != std::string::npos);
    lines.push_back(nlohmann::json::parse(text.substr(start, end - start)));
    start = end + 1;
  }
  return lines;
}

}  // namespace

TEST_CASE("UTF-8 validation rejects what JSON strings cannot carry") {
  CHECK(is_valid_utf8(""));
  CHECK(is_valid_utf8("plain ascii\n"));
  CHECK(is_valid_utf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
  CHECK_FALSE(is_valid_utf8("\xff"));
  CHECK_FALSE(is_valid_utf8("\xc3"));              // truncated
  CHECK_FALSE(is_valid_utf8("\xc0\xaf"));          // overlong
  CHECK_FALSE(is_valid_utf8("\xe0\x80\xaf"));      // overlong 3-byte
  CHECK_FALSE(is_valid_utf8("\xed\xa0\x80"));      // surrogate
  CHECK_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));  // above U+10FFFF
  CHECK_FALSE(is_valid_utf8("a\x80z"));            // stray continuation
}

TEST_CASE("an incomplete trailing character is found, a complete one is not") {
  CHECK(incomplete_utf8_tail("abc") == 0);
  CHECK(incomplete_utf8_tail("abc\xc3") == 1);
  CHECK(incomplete_utf8_tail("\xe2\x82") == 2);
  CHECK(incomplete_utf8_tail("\xf0\x9f\x98") == 3);
  CHECK(incomplete_utf8_tail("\xe2\x82\xac") == 0);
  CHECK(incomplete_utf8_tail("x\xff") == 0);  // invalid, not incomplete
}

TEST_CASE("base64 is the standard padded alphabet") {
  CHECK(base64_encode("") == "");
  CHECK(base64_encode("f") == "Zg==");
  CHECK(base64_encode("fo") == "Zm8=");
  CHECK(base64_encode("foo") == "Zm9v");
  CHECK(base64_encode(std::string("\xfb\xff\xfe", 3)) == "+//+");
}

TEST_CASE("chunks become lines, a split character is rejoined, binary is base64") {
  const auto lines = written_lines([](JsonlWriter& w) {
    CHECK(w.chunk(false, "one\n"));
    CHECK(w.chunk(true, "caf\xc3"));  // held back: \xc3
    CHECK(w.chunk(true, "\xa9!\n"));  // rejoined: "é!\n"
    CHECK(w.chunk(false, std::string("\x00\xff\x01", 3)));
    CHECK(w.chunk(false, "\xe2\x82"));  // only a partial character: nothing yet
    CHECK(w.finish({{"exit_code", 3}}));
  });
  REQUIRE(lines.size() == 6);
  CHECK(lines[0] == nlohmann::json({{"stream", "stdout"}, {"data", "one\n"}}));
  CHECK(lines[1] == nlohmann::json({{"stream", "stderr"}, {"data", "caf"}}));
  CHECK(lines[2] == nlohmann::json({{"stream", "stderr"}, {"data", "\xc3\xa9!\n"}}));
  CHECK(lines[3] == nlohmann::json({{"stream", "stdout"}, {"data_base64", "AP8B"}}));
  // The partial character is flushed, as bytes, before the status.
  CHECK(lines[4] == nlohmann::json({{"stream", "stdout"}, {"data_base64", "4oI="}}));
  CHECK(lines[5] == nlohmann::json({{"exit_code", 3}}));
}

TEST_CASE("a closed output is reported, not ignored") {
  int fds[2];
  REQUIRE(pipe2(fds, O_CLOEXEC) == 0);
  close(fds[0]);
  ::signal(SIGPIPE, SIG_IGN);  // as boxd's main does
  JsonlWriter writer(fds[1]);
  CHECK_FALSE(writer.chunk(false, "lost\n"));  // EPIPE
  close(fds[1]);
}
