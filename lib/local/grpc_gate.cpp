// The gRPC port's connection caps: see grpc_gate.hpp.
#include "local/grpc_gate.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/error.hpp"
#include "local/http_listener.hpp"

namespace boxd::local {

namespace {

constexpr auto k_sweep_every = std::chrono::milliseconds(50);

// An address as /proc/net/tcp{,6} prints it: each 32-bit word of the
// address as the host reads it, in hex, then the port ("0100007F:1F90").
std::string proc_net_address(const sockaddr_storage& addr) {
  char text[64] = {};
  if (addr.ss_family == AF_INET) {
    const auto& in = reinterpret_cast<const sockaddr_in&>(addr);
    std::snprintf(text, sizeof text, "%08X:%04X", in.sin_addr.s_addr, ntohs(in.sin_port));
  } else {
    const auto& in6 = reinterpret_cast<const sockaddr_in6&>(addr);
    std::uint32_t words[4];
    std::memcpy(words, &in6.sin6_addr, sizeof words);
    std::snprintf(text, sizeof text, "%08X%08X%08X%08X:%04X", words[0], words[1], words[2],
                  words[3], ntohs(in6.sin6_port));
  }
  return text;
}

// A v4-mapped IPv6 address (::ffff:a.b.c.d) as the IPv4 one it is.
void unmap(sockaddr_storage& addr) {
  if (addr.ss_family != AF_INET6) {
    return;
  }
  const auto in6 = reinterpret_cast<const sockaddr_in6&>(addr);
  if (!IN6_IS_ADDR_V4MAPPED(&in6.sin6_addr)) {
    return;
  }
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_port = in6.sin6_port;
  std::memcpy(&in.sin_addr, &in6.sin6_addr.s6_addr[12], 4);
  addr = {};
  std::memcpy(&addr, &in, sizeof in);
}

bool is_loopback(const sockaddr_storage& addr) {
  if (addr.ss_family == AF_INET) {
    const auto& in = reinterpret_cast<const sockaddr_in&>(addr);
    return (ntohl(in.sin_addr.s_addr) >> 24) == 127;
  }
  const auto& in6 = reinterpret_cast<const sockaddr_in6&>(addr);
  return IN6_IS_ADDR_LOOPBACK(&in6.sin6_addr);
}

std::string address_text(const sockaddr_storage& addr) {
  char text[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET) {
    ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(addr).sin_addr, text, sizeof text);
  } else {
    ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(addr).sin6_addr, text,
                sizeof text);
  }
  return text;
}

// The uid of the socket whose local end is `local` and remote end `remote`
// (both as proc_net_address prints them), from the table of this network
// namespace; -1 when there is none.
long uid_of_socket(const char* table, const std::string& local, const std::string& remote) {
  std::ifstream in(table);
  std::string line;
  std::getline(in, line);  // the header
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string slot;
    std::string loc;
    std::string rem;
    std::string state;
    std::string queues;
    std::string timer;
    std::string retransmits;
    long uid = -1;
    if (!(fields >> slot >> loc >> rem >> state >> queues >> timer >> retransmits >> uid)) {
      continue;
    }
    if (loc == local && rem == remote) {
      return uid;
    }
  }
  return -1;
}

}  // namespace

std::string connection_owner(int fd) {
  sockaddr_storage peer{};
  sockaddr_storage self{};
  socklen_t peer_len = sizeof peer;
  socklen_t self_len = sizeof self;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_len) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&self), &self_len) != 0 ||
      (peer.ss_family != AF_INET && peer.ss_family != AF_INET6)) {
    return "address ?";
  }
  unmap(peer);
  unmap(self);
  if (is_loopback(peer) && peer.ss_family == self.ss_family) {
    // The peer's own socket, seen from its side: local = peer, remote = us.
    const long uid = uid_of_socket(peer.ss_family == AF_INET ? "/proc/net/tcp" : "/proc/net/tcp6",
                                   proc_net_address(peer), proc_net_address(self));
    if (uid >= 0) {
      return "uid " + std::to_string(uid);
    }
  }
  return "address " + address_text(peer);
}

ConnectionGate::ConnectionGate(const std::string& listen, int port) {
  const std::string host = listen.empty() || listen == "localhost" ? "127.0.0.1" : listen;
  m_listen_fd = bind_tcp_listener(host, port);
  if (m_listen_fd < 0) {
    const std::string spec = host.find(':') != std::string::npos && host.front() != '['
                                 ? "[" + host + "]:" + std::to_string(port)
                                 : host + ":" + std::to_string(port);
    throw Error(ErrorClass::Connection,
                "cannot listen on " + spec + " (gRPC): " + std::strerror(errno),
                "use --port to choose another port (0 = any free port)");
  }
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  ::getsockname(m_listen_fd, reinterpret_cast<sockaddr*>(&addr), &len);
  m_port = addr.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port)
                                      : ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
}

ConnectionGate::~ConnectionGate() {
  stop();
  if (m_listen_fd >= 0) {
    ::close(m_listen_fd);
  }
}

void ConnectionGate::start(ConnectionLimits limits, std::function<void(int)> hand_over,
                           std::function<void(const std::string&)> refused) {
  m_limits = limits;
  m_hand_over = std::move(hand_over);
  m_refused = std::move(refused);
  m_thread = std::thread([this] { accept_loop(); });
}

void ConnectionGate::stop() {
  if (m_stopping.exchange(true)) {
    return;
  }
  m_wake.notify('x');
  if (m_thread.joinable()) {
    m_thread.join();
  }
}

int ConnectionGate::open_connections() {
  std::lock_guard lock(m_mutex);
  sweep(true);
  return static_cast<int>(m_admitted.size());
}

void ConnectionGate::sweep(bool force) {
  const auto now = std::chrono::steady_clock::now();
  if (!force && now - m_swept < k_sweep_every) {
    return;
  }
  m_swept = now;
  for (std::size_t i = m_admitted.size(); i-- > 0;) {
    const auto& held = m_admitted[i];
    struct stat st {};
    const bool same = ::fstat(held.fd, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == held.dev &&
                      st.st_ino == held.inode;
    if (!same) {  // gRPC closed it (the number may be another file's now)
      if (--m_per_owner[held.owner] <= 0) {
        m_per_owner.erase(held.owner);
      }
      m_admitted[i] = std::move(m_admitted.back());
      m_admitted.pop_back();
    }
  }
}

bool ConnectionGate::admit(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    return false;
  }
  std::string owner = connection_owner(fd);
  std::lock_guard lock(m_mutex);
  auto full = [&] {
    const auto it = m_per_owner.find(owner);
    return static_cast<int>(m_admitted.size()) >= m_limits.max_total ||
           (it != m_per_owner.end() && it->second >= m_limits.max_owner);
  };
  if (full()) {
    sweep(false);
    if (full()) {
      if (m_refused) {
        m_refused(owner);
      }
      return false;
    }
  }
  ++m_per_owner[owner];
  m_admitted.push_back({fd, st.st_dev, st.st_ino, std::move(owner)});
  return true;
}

void ConnectionGate::accept_loop() {
  while (!m_stopping) {
    pollfd fds[2] = {{m_listen_fd, POLLIN, 0}, {m_wake.read_fd(), POLLIN, 0}};
    const int ready = ::poll(fds, 2, -1);
    if (ready < 0 && errno != EINTR) {
      break;
    }
    if (fds[1].revents != 0) {
      break;
    }
    if (ready <= 0 || fds[0].revents == 0) {
      continue;
    }
    // Nonblocking and without delay, as gRPC's own listener makes them.
    const int client = ::accept4(m_listen_fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (client < 0) {
      if (errno == EMFILE || errno == ENFILE) {
        ::poll(nullptr, 0, 50);  // no descriptor now: do not spin on the queue
      }
      continue;
    }
    if (admit(client)) {
      const int one = 1;
      ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      m_hand_over(client);
      continue;
    }
    const linger reset{1, 0};  // close with a reset: nothing is kept for it
    ::setsockopt(client, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
    ::close(client);
  }
}

}  // namespace boxd::local
