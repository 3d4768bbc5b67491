#include "boxd/doctor/local_server.hpp"

#include <cstdio>
#include <sstream>
#include <vector>

#include "boxd/local/background.hpp"
#include "common/files.hpp"

namespace boxd::cli {

namespace {

// "http://127.0.0.1:9443" -> {"127.0.0.1", 9443}; port 0 when absent.
std::pair<std::string, int> host_port(const std::string& api_url) {
  std::string rest = api_url;
  if (const auto scheme = rest.find("://"); scheme != std::string::npos) {
    rest = rest.substr(scheme + 3);
  }
  rest = rest.substr(0, rest.find('/'));
  const auto colon = rest.rfind(':');
  if (colon == std::string::npos || rest.back() == ']') {
    return {rest, 0};
  }
  return {rest.substr(0, colon), std::atoi(rest.c_str() + colon + 1)};
}

bool is_loopback(const std::string& host) {
  return host == "localhost" || host.rfind("127.", 0) == 0 || host == "[::1]" || host == "::1";
}

// MainPID of an active boxd-local.service, or 0 (no systemd, not active).
int service_main_pid() {
  FILE* pipe =
      ::popen("systemctl show boxd-local.service -p ActiveState -p MainPID 2>/dev/null", "r");
  if (pipe == nullptr) {
    return 0;
  }
  std::string text;
  char buf[256];
  while (std::fgets(buf, sizeof buf, pipe) != nullptr) {
    text += buf;
  }
  ::pclose(pipe);
  std::istringstream lines(text);
  std::string line;
  bool active = false;
  int pid = 0;
  while (std::getline(lines, line)) {
    if (line == "ActiveState=active") {
      active = true;
    } else if (line.rfind("MainPID=", 0) == 0) {
      pid = std::atoi(line.c_str() + 8);
    }
  }
  return active ? pid : 0;
}

std::string cmdline_of(int pid) {
  try {
    return read_file("/proc/" + std::to_string(pid) + "/cmdline").value_or("");
  } catch (...) {
    return "";
  }
}

client::CheckResult ok(std::string detail) {
  return {"local_server", client::CheckStatus::Ok, std::move(detail), ErrorClass::Internal};
}

}  // namespace

ServeCommandLine parse_serve_cmdline(const std::string& cmdline) {
  std::vector<std::string> words;
  std::string word;
  for (const char c : cmdline) {
    if (c == '\0') {
      words.push_back(word);
      word.clear();
    } else {
      word += c;
    }
  }
  if (!word.empty()) {
    words.push_back(word);
  }
  ServeCommandLine parsed;
  for (std::size_t i = 0; i + 1 < words.size(); ++i) {
    if (words[i] == "local" && words[i + 1] == "serve") {
      parsed.is_serve = true;
    }
  }
  for (std::size_t i = 0; i < words.size(); ++i) {
    const std::string& w = words[i];
    const bool has_next = i + 1 < words.size();
    if (w == "--port" && has_next) {
      parsed.port = std::atoi(words[i + 1].c_str());
    } else if (w.rfind("--port=", 0) == 0) {
      parsed.port = std::atoi(w.c_str() + 7);
    } else if (w == "--state-dir" && has_next) {
      parsed.state_dir = words[i + 1];
    } else if (w.rfind("--state-dir=", 0) == 0) {
      parsed.state_dir = w.substr(12);
    }
  }
  return parsed;
}

std::optional<client::CheckResult> check_local_server(const std::string& api_url) {
  const auto [host, port] = host_port(api_url);
  if (!is_loopback(host)) {
    return std::nullopt;
  }
  if (const int pid = service_main_pid(); pid > 0) {
    const auto serve = parse_serve_cmdline(cmdline_of(pid));
    if (serve.is_serve && serve.port == port) {
      return ok("boxd-local.service (systemd), pid " + std::to_string(pid) + ", state dir " +
                (serve.state_dir.empty() ? std::string("default") : serve.state_dir) +
                "; log: sudo boxd local logs --state-dir " + serve.state_dir);
    }
  }
  const auto state_dir = resolve_local_state_dir({});
  auto background = read_background_server(state_dir);
  if (background.running && background.info["api_url"] == api_url) {
    return ok("boxd local start, pid " + std::to_string(background.pid) + ", state dir " +
              state_dir.string() + "; log: boxd local logs");
  }
  return ok(
      "on this machine, not boxd-local.service nor 'boxd local start' (a foreground "
      "'boxd local serve'?)");
}

}  // namespace boxd::cli
