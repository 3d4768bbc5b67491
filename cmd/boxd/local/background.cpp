#include "boxd/local/background.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <sstream>

#include "common/files.hpp"
#include "common/paths.hpp"

namespace boxd::cli {

std::filesystem::path resolve_local_state_dir(const std::filesystem::path& flag) {
  auto dir = flag.empty() ? local_state_dir() : flag;
  std::error_code ec;
  auto absolute = std::filesystem::absolute(dir, ec);
  return ec ? dir : absolute.lexically_normal();
}

namespace {

bool pid_is_local_server(int pid) {
  if (pid <= 0 || (::kill(pid, 0) != 0 && errno == ESRCH)) {
    return false;
  }
  std::optional<std::string> cmdline;
  try {
    cmdline = read_file("/proc/" + std::to_string(pid) + "/cmdline");
  } catch (...) {
    return false;
  }
  if (!cmdline) {
    return false;
  }
  return cmdline->find(std::string("local\0serve", 11)) != std::string::npos;
}

}  // namespace

BackgroundServer read_background_server(const std::filesystem::path& state_dir) {
  BackgroundServer server;
  try {
    if (auto pid = read_file(state_dir / "server.pid")) {
      server.pid = std::atoi(pid->c_str());
    }
    if (auto out = read_file(state_dir / "server.out")) {
      std::istringstream lines(*out);
      std::string line;
      while (std::getline(lines, line)) {
        if (line == "ready") {
          server.ready = true;
          continue;
        }
        const auto sep = line.find(": ");
        if (sep != std::string::npos) {
          server.info[line.substr(0, sep)] = line.substr(sep + 2);
        }
      }
    }
  } catch (...) {
  }
  server.running = pid_is_local_server(server.pid);
  return server;
}

bool local_server_healthy(const std::string& exchange_url) {
  // http://HOST:PORT/... (the local server's exchange is plain HTTP on loopback)
  const std::string prefix = "http://";
  if (exchange_url.rfind(prefix, 0) != 0) {
    return false;
  }
  const auto rest = exchange_url.substr(prefix.size());
  const auto slash = rest.find('/');
  const auto hostport = rest.substr(0, slash);
  const auto colon = hostport.rfind(':');
  if (colon == std::string::npos) {
    return false;
  }
  const auto host = hostport.substr(0, colon);
  const int port = std::atoi(hostport.c_str() + colon + 1);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<std::uint16_t>(port));
  if (::inet_pton(AF_INET, host.c_str(), &sa.sin_addr) != 1) {
    return false;
  }
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return false;
  }
  timeval tv{2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  bool ok = false;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0) {
    const std::string request =
        "GET /healthz HTTP/1.1\r\nHost: " + hostport + "\r\nConnection: close\r\n\r\n";
    if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
        static_cast<ssize_t>(request.size())) {
      std::string response;
      char buf[512];
      ssize_t n = 0;
      while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0 && response.size() < 4096) {
        response.append(buf, static_cast<std::size_t>(n));
      }
      ok = response.rfind("HTTP/1.1 200", 0) == 0 && response.size() >= 2 &&
           response.substr(response.size() - 2) == "ok";
    }
  }
  ::close(fd);
  return ok;
}

}  // namespace boxd::cli
