// See http_listener.hpp.
#include "local/http_listener.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>
#include <vector>

#include "common/error.hpp"
#include "common/log.hpp"
#include "local/grpc_gate.hpp"
#include "local/http_parse.hpp"

namespace boxd::local {

namespace {

// A refused connection is drained this long after its 503, so that the
// client reads the answer instead of a reset; at most this many at once.
constexpr auto k_linger = std::chrono::milliseconds(1000);
constexpr std::size_t k_max_lingering = 256;

int to_ms(Clock::duration d) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  return ms < 0 ? 0 : ms > 60000 ? 60000 : static_cast<int>(ms);
}

}  // namespace

int bind_tcp_listener(const std::string& host, int port, int backlog) {
  const bool v6 = host.find(':') != std::string::npos;
  const int fd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return -1;
  }
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  bool bound = false;
  if (v6) {
    sockaddr_in6 sa{};
    sa.sin6_family = AF_INET6;
    sa.sin6_port = htons(static_cast<std::uint16_t>(port));
    std::string bare = host;
    if (bare.front() == '[') {
      bare = bare.substr(1, bare.size() - 2);
    }
    bound = ::inet_pton(AF_INET6, bare.c_str(), &sa.sin6_addr) == 1 &&
            ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
  } else {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<std::uint16_t>(port));
    bound = ::inet_pton(AF_INET, host.c_str(), &sa.sin_addr) == 1 &&
            ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
  }
  if (!bound || ::listen(fd, backlog) != 0) {
    const int saved = errno;
    ::close(fd);
    errno = saved;
    return -1;
  }
  return fd;
}

int bound_port(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return 0;
  }
  return addr.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port)
                                    : ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
}

bool send_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return false;
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

std::string peer_address(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return "";
  }
  char text[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET) {
    ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&addr)->sin_addr, text, sizeof text);
  } else if (addr.ss_family == AF_INET6) {
    ::inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(&addr)->sin6_addr, text, sizeof text);
  }
  return text;
}

int HttpConn::fill(Clock::time_point deadline) {
  for (;;) {
    pollfd pfd{m_fd, POLLIN, 0};
    const auto left = deadline - Clock::now();
    if (left <= Clock::duration::zero()) {
      return -2;
    }
    const int ready = ::poll(&pfd, 1, std::max(1, to_ms(left)));
    if (ready < 0 && errno != EINTR) {
      return -1;
    }
    if (ready <= 0) {
      continue;  // EINTR, or a wait cut at 60 s: check the deadline again
    }
    return fill();
  }
}

int HttpConn::fill() {
  for (;;) {
    char chunk[16384];
    const ssize_t n = ::recv(m_fd, chunk, sizeof chunk, 0);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return n == 0 ? 0 : -1;
    }
    m_buffer.append(chunk, static_cast<std::size_t>(n));
    return 1;
  }
}

HttpListener::HttpListener(const std::string& listen, int port, const std::string& what,
                           const std::string& hint)
    : m_what(what) {
  const std::string host = listen.empty() || listen == "localhost" ? "127.0.0.1" : listen;
  m_listen_fd = bind_tcp_listener(host, port);
  if (m_listen_fd < 0) {
    throw Error(ErrorClass::Connection,
                "cannot listen on " + host + ":" + std::to_string(port) + " (" + what +
                    "): " + std::strerror(errno),
                hint);
  }
  m_port = bound_port(m_listen_fd);
}

HttpListener::~HttpListener() {
  stop();
  if (m_listen_fd >= 0) {
    ::close(m_listen_fd);
  }
}

void HttpListener::start(HttpLimits limits, std::function<void(int)> serve) {
  m_limits = limits;
  m_serve = std::move(serve);
  m_accept_thread = std::thread([this] { accept_loop(); });
}

void HttpListener::stop() {
  if (m_stopping.exchange(true)) {
    return;
  }
  m_wake.notify('x');
  if (m_accept_thread.joinable()) {
    m_accept_thread.join();
  }
  std::unique_lock lock(m_mutex);
  for (int fd : m_open_fds) {
    ::shutdown(fd, SHUT_RDWR);
  }
  m_idle.wait(lock, [this] { return m_active == 0; });
}

void HttpListener::track(int fd, bool add) {
  std::lock_guard lock(m_mutex);
  if (add) {
    m_open_fds.insert(fd);
    if (m_stopping) {
      ::shutdown(fd, SHUT_RDWR);
    }
  } else {
    m_open_fds.erase(fd);
  }
}

int HttpListener::active() const {
  std::lock_guard lock(m_mutex);
  return m_active;
}

void HttpListener::refuse(int fd) {
  const std::string response =
      http_error_response(503, "too many connections to the " + m_what + ": try again later");
  ::send(fd, response.data(), response.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  ::shutdown(fd, SHUT_WR);
}

void HttpListener::log_refusal(const std::string& owner) {
  ++m_refusals;
  const auto now = Clock::now();
  if (m_refusal_logged != Clock::time_point{} &&
      now - m_refusal_logged < std::chrono::seconds(10)) {
    return;
  }
  m_refusal_logged = now;
  logging::warn(m_what +
                    " connection refused: too many open (--http-max-connections; one "
                    "owner at most half of them)",
                {{"owner", owner}, {"refused", m_refusals}});
  m_refusals = 0;
}

void HttpListener::run_connection(int fd, const std::string& owner) {
  track(fd, true);
  try {
    m_serve(fd);
  } catch (...) {
  }
  track(fd, false);
  // A graceful end: the client reads the last answer even when it sent
  // more than was read (a close with unread data would reset it).
  ::shutdown(fd, SHUT_WR);
  const auto until = Clock::now() + k_linger;
  HttpConn drain(fd);
  std::size_t drained = 0;
  while (drained < 1024 * 1024 && drain.fill(until) > 0) {
    drained += drain.buffer().size();
    drain.buffer().clear();
  }
  ::close(fd);
  std::lock_guard lock(m_mutex);
  --m_active;
  if (auto it = m_owners.find(owner); it != m_owners.end() && --it->second <= 0) {
    m_owners.erase(it);
  }
  m_idle.notify_all();
}

void HttpListener::accept_loop() {
  struct Lingering {
    int fd;
    Clock::time_point until;
  };
  std::vector<Lingering> lingering;
  while (!m_stopping) {
    std::vector<pollfd> fds = {{m_listen_fd, POLLIN, 0}, {m_wake.read_fd(), POLLIN, 0}};
    for (const auto& l : lingering) {
      fds.push_back({l.fd, POLLIN, 0});
    }
    const int ready = ::poll(fds.data(), fds.size(), lingering.empty() ? -1 : 100);
    if (ready < 0 && errno != EINTR) {
      break;
    }
    if (fds[1].revents != 0) {
      break;
    }
    const auto now = Clock::now();
    for (std::size_t i = lingering.size(); i-- > 0;) {
      bool done = now >= lingering[i].until;
      if (!done && fds[i + 2].revents != 0) {
        char scratch[4096];
        const ssize_t n = ::recv(lingering[i].fd, scratch, sizeof scratch, MSG_DONTWAIT);
        done = n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR);
      }
      if (done) {
        ::close(lingering[i].fd);
        lingering.erase(lingering.begin() + static_cast<std::ptrdiff_t>(i));
      }
    }
    if (ready <= 0 || fds[0].revents == 0) {
      continue;
    }
    const int client = ::accept4(m_listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) {
      continue;
    }
    const std::string owner = connection_owner(client);
    {
      std::lock_guard lock(m_mutex);
      int& held = m_owners[owner];
      if (m_active < m_limits.max_connections && held < m_limits.max_owner_connections) {
        try {
          std::thread([this, client, owner] { run_connection(client, owner); }).detach();
          ++m_active;
          ++held;
          continue;
        } catch (const std::system_error&) {
          // no thread to be had: refused like a connection past the limit
        }
      }
      if (held == 0) {
        m_owners.erase(owner);
      }
    }
    log_refusal(owner);
    refuse(client);
    if (lingering.size() < k_max_lingering) {
      lingering.push_back({client, Clock::now() + k_linger});
    } else {
      ::close(client);
    }
  }
  for (const auto& l : lingering) {
    ::close(l.fd);
  }
}

}  // namespace boxd::local
