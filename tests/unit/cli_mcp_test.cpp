// boxd mcp's pure parts: protocol version negotiation, the line reader, the
// output caps, the policy's globs and --max-boxes slots, and the client
// config snippets and merges of `boxd mcp config`.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <unistd.h>

#include <string>

#include <nlohmann/json.hpp>

#include "boxd/mcp/clients.hpp"
#include "boxd/mcp/json_rpc.hpp"
#include "boxd/mcp/policy.hpp"
#include "boxd/mcp/tool.hpp"
#include "common/error.hpp"

using namespace boxd::cli::mcp;

TEST_CASE("mcp: a known revision is echoed, anything else gets the newest") {
  CHECK(negotiate_version("2025-06-18") == "2025-06-18");
  CHECK(negotiate_version("2024-11-05") == "2024-11-05");
  CHECK(negotiate_version("2031-01-01") == "2025-11-25");
  CHECK(negotiate_version(nullptr) == "2025-11-25");
  CHECK(negotiate_version(42) == "2025-11-25");
}

TEST_CASE("mcp: one line per message, never a raw newline, invalid UTF-8 replaced") {
  const std::string line = encode_line(rpc_notification("x", {{"text", "a\nb\xff"}}));
  CHECK(line.back() == '\n');
  CHECK(line.find('\n') == line.size() - 1);
  CHECK(nlohmann::json::parse(line)["params"]["text"] == "a\nb\xEF\xBF\xBD");
}

TEST_CASE("mcp: the line reader splits, skips blank and too long lines") {
  int fds[2];
  REQUIRE(pipe2(fds, O_CLOEXEC) == 0);
  const std::string input = "one\r\n\n" + std::string(100, 'x') + "\ntwo\nlast";
  REQUIRE(write(fds[1], input.data(), input.size()) == static_cast<ssize_t>(input.size()));
  close(fds[1]);
  LineReader reader(fds[0], 50);
  std::string line;
  CHECK(reader.next(line) == LineReader::Status::Line);
  CHECK(line == "one");
  CHECK(reader.next(line) == LineReader::Status::TooLong);
  CHECK(reader.next(line) == LineReader::Status::Line);
  CHECK(line == "two");
  CHECK(reader.next(line) == LineReader::Status::Line);
  CHECK(line == "last");
  CHECK(reader.next(line) == LineReader::Status::End);
  close(fds[0]);
}

TEST_CASE("mcp: caps keep the head or the tail, text cut on a character") {
  CHECK(cap_head("abc", 5, true).truncated == false);
  CHECK(cap_head("abcdef", 4, false).data == "abcd");
  CHECK(cap_head("ab\xC3\xA9z", 3, true).data == "ab");       // é not cut in half
  CHECK(cap_head("ab\xC3\xA9z", 3, false).data == "ab\xC3");  // bytes exactly
  CHECK(cap_tail("xx\xC3\xA9yz", 4).data == "\xC3\xA9yz");
  const Capped tail = cap_tail("xx\xC3\xA9yz", 3);
  CHECK(tail.truncated);
  CHECK(tail.data == "yz");  // the continuation byte is skipped
  CHECK(cap_tail("12345", 3).data == "345");
}

TEST_CASE("mcp: --allow-boxes globs and --max-boxes slots") {
  Policy open({});
  CHECK(open.visible("anything"));
  CHECK_NOTHROW(open.check_new_name(""));

  Policy narrow({false, {"agent-*", "ci"}, 1u});
  CHECK(narrow.visible("agent-7"));
  CHECK(narrow.visible("ci"));
  CHECK_FALSE(narrow.visible("prod-db"));
  CHECK_THROWS_AS(narrow.check_new_name(""), boxd::Error);
  CHECK_THROWS_AS(narrow.check_new_name("prod-2"), boxd::Error);
  CHECK_NOTHROW(narrow.check_new_name("agent-2"));

  narrow.reserve();
  CHECK_THROWS_AS(narrow.reserve(), boxd::Error);  // one in flight already
  narrow.commit("agent-1");
  try {
    narrow.reserve();
    FAIL("a second box fits under --max-boxes 1");
  } catch (const boxd::Error& e) {
    CHECK(e.error_class() == boxd::ErrorClass::QuotaExceeded);
    CHECK(std::string(e.what()).find("agent-1") != std::string::npos);
  }
  narrow.forget("agent-1");
  CHECK_NOTHROW(narrow.reserve());
  narrow.release();
}

TEST_CASE("mcp config: snippets per client shape") {
  const auto* cursor = find_mcp_client("cursor");
  REQUIRE(cursor != nullptr);
  const auto doc = nlohmann::json::parse(config_snippet(*cursor, "boxd", "/bin/boxd", {"mcp"}));
  CHECK(doc ==
        nlohmann::json::parse(R"({"mcpServers":{"boxd":{"command":"/bin/boxd","args":["mcp"]}}})"));
  const auto* vscode = find_mcp_client("vscode");
  REQUIRE(vscode != nullptr);
  CHECK(nlohmann::json::parse(config_snippet(*vscode, "b", "/x", {}))["servers"]["b"]["type"] ==
        "stdio");
  const auto* codex = find_mcp_client("codex");
  REQUIRE(codex != nullptr);
  CHECK(config_snippet(*codex, "boxd", "/bin/boxd", {"mcp", "--read-only"}) ==
        "[mcp_servers.\"boxd\"]\ncommand = \"/bin/boxd\"\nargs = [\"mcp\", \"--read-only\"]\n");
  CHECK(find_mcp_client("emacs") == nullptr);
}

TEST_CASE("mcp config: merges keep the file's other content and order") {
  const auto* cursor = find_mcp_client("cursor");
  const std::string merged =
      merge_config(*cursor, std::string(R"({"z":1,"mcpServers":{"other":{"command":"o"}},"a":2})"),
                   "boxd", "/bin/boxd", {"mcp"});
  CHECK(merged.find("\"z\"") < merged.find("\"a\""));
  const auto doc = nlohmann::json::parse(merged);
  CHECK(doc["mcpServers"]["other"]["command"] == "o");
  CHECK(doc["mcpServers"]["boxd"]["command"] == "/bin/boxd");
  CHECK(nlohmann::json::parse(merge_config(*cursor, std::nullopt, "boxd", "/b", {}))
            .contains("mcpServers"));
  CHECK_THROWS_AS(merge_config(*cursor, std::string("[1]"), "boxd", "/b", {}), boxd::Error);
  CHECK_THROWS_AS(merge_config(*cursor, std::string(R"({"mcpServers":3})"), "boxd", "/b", {}),
                  boxd::Error);

  const auto* codex = find_mcp_client("codex");
  const std::string toml =
      merge_config(*codex, std::string("model = \"x\""), "boxd", "/b", {"mcp"});
  CHECK(toml.rfind("model = \"x\"\n\n[mcp_servers.\"boxd\"]", 0) == 0);
  CHECK(merge_config(*codex, toml, "boxd", "/b", {"mcp"}) == toml);  // already there
  CHECK_THROWS_AS(merge_config(*codex, toml, "boxd", "/other", {"mcp"}), boxd::Error);
}
