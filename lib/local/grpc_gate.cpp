// The gRPC port's connection caps: see grpc_gate.hpp.
#include "local/grpc_gate.hpp"

#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/error.hpp"
#include "common/fd.hpp"
#include "local/http_listener.hpp"

namespace boxd::local {

namespace {

constexpr auto k_sweep_every = std::chrono::milliseconds(50);

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

// The uid of the live socket of this host (this network namespace) whose
// local end is `local` and remote end `remote`, by an exact sock_diag
// query (no table is read); -1 when there is none, or when it is closing
// (a socket without its file: TIME_WAIT and orphans list uid 0).
long uid_of_socket(const sockaddr_storage& local, const sockaddr_storage& remote) {
  const UniqueFd fd(::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
  if (fd.get() < 0) {
    return -1;
  }
  struct {
    nlmsghdr header;
    inet_diag_req_v2 request;
  } message{};
  message.header.nlmsg_len = sizeof message;
  message.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  message.header.nlmsg_flags = NLM_F_REQUEST;
  auto& request = message.request;
  // An AF_INET query also finds an IPv6 socket connected to a v4-mapped
  // address (the kernel looks both up in the same table).
  request.sdiag_family = local.ss_family;
  request.sdiag_protocol = IPPROTO_TCP;
  request.idiag_states = ~0U;
  request.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
  request.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
  if (local.ss_family == AF_INET) {
    const auto& l = reinterpret_cast<const sockaddr_in&>(local);
    const auto& r = reinterpret_cast<const sockaddr_in&>(remote);
    request.id.idiag_sport = l.sin_port;
    request.id.idiag_dport = r.sin_port;
    request.id.idiag_src[0] = l.sin_addr.s_addr;
    request.id.idiag_dst[0] = r.sin_addr.s_addr;
  } else {
    const auto& l = reinterpret_cast<const sockaddr_in6&>(local);
    const auto& r = reinterpret_cast<const sockaddr_in6&>(remote);
    request.id.idiag_sport = l.sin6_port;
    request.id.idiag_dport = r.sin6_port;
    std::memcpy(request.id.idiag_src, &l.sin6_addr, sizeof l.sin6_addr);
    std::memcpy(request.id.idiag_dst, &r.sin6_addr, sizeof r.sin6_addr);
  }
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(fd.get(), &message, sizeof message, 0, reinterpret_cast<sockaddr*>(&kernel),
               sizeof kernel) < 0) {
    return -1;
  }
  alignas(nlmsghdr) char reply[8192];
  const ssize_t n = ::recv(fd.get(), reply, sizeof reply, 0);
  if (n < static_cast<ssize_t>(sizeof(nlmsghdr))) {
    return -1;
  }
  const auto* header = reinterpret_cast<const nlmsghdr*>(reply);
  if (!NLMSG_OK(header, static_cast<unsigned>(n)) || header->nlmsg_type != SOCK_DIAG_BY_FAMILY ||
      header->nlmsg_len < NLMSG_LENGTH(sizeof(inet_diag_msg))) {
    return -1;  // NLMSG_ERROR: no such socket
  }
  const auto* found = static_cast<const inet_diag_msg*>(NLMSG_DATA(header));
  return found->idiag_inode != 0 ? static_cast<long>(found->idiag_uid) : -1;
}

}  // namespace

ConnectionPeer connection_peer(int fd) {
  ConnectionPeer out;
  socklen_t peer_len = sizeof out.peer;
  socklen_t self_len = sizeof out.self;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&out.peer), &peer_len) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&out.self), &self_len) != 0 ||
      (out.peer.ss_family != AF_INET && out.peer.ss_family != AF_INET6)) {
    return out;
  }
  unmap(out.peer);
  unmap(out.self);
  out.known = out.peer.ss_family == out.self.ss_family;
  out.loopback = is_loopback(out.peer);
  out.address = address_text(out.peer);
  return out;
}

std::string owner_of(const ConnectionPeer& peer) {
  if (peer.known) {
    // The peer's own socket, from its side: local = the peer, remote = us.
    const long uid = uid_of_socket(peer.peer, peer.self);
    if (uid >= 0) {
      return "uid " + std::to_string(uid);
    }
  }
  // A loopback peer always has its socket here, unless it is closing.
  if (peer.loopback) {
    return k_closed_owner;
  }
  if (peer.peer.ss_family == AF_INET6) {
    // A remote IPv6 client by its /64: the least a site is given, every
    // address of which one host can use (one address each connection would
    // otherwise count as many clients).
    sockaddr_storage prefix = peer.peer;
    auto& in6 = reinterpret_cast<sockaddr_in6&>(prefix);
    std::memset(&in6.sin6_addr.s6_addr[8], 0, 8);
    return "network " + address_text(prefix) + "/64";
  }
  return "address " + peer.address;
}

std::string connection_owner(int fd) {
  return owner_of(connection_peer(fd));
}

ConnectionGate::ConnectionGate(const std::string& listen, int port) {
  const std::string host = listen.empty() || listen == "localhost" ? "127.0.0.1" : listen;
  m_listen_fd = bind_tcp_listener(host, port, SOMAXCONN);
  if (m_listen_fd < 0) {
    const std::string spec = host.find(':') != std::string::npos && host.front() != '['
                                 ? "[" + host + "]:" + std::to_string(port)
                                 : host + ":" + std::to_string(port);
    throw Error(ErrorClass::Connection,
                "cannot listen on " + spec + " (gRPC): " + std::strerror(errno),
                "use --port to choose another port (0 = any free port)");
  }
  m_port = bound_port(m_listen_fd);
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
      if (!held.owner.empty() && --m_per_owner[held.owner] <= 0) {
        m_per_owner.erase(held.owner);
      }
      m_admitted[i] = std::move(m_admitted.back());
      m_admitted.pop_back();
    }
  }
}

void ConnectionGate::resolve_owners() {
  for (auto& held : m_admitted) {
    if (held.owner.empty()) {
      held.owner = owner_of(held.peer);
      ++m_per_owner[held.owner];
    }
  }
}

bool ConnectionGate::admit(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    return false;
  }
  Admitted entry{fd, st.st_dev, st.st_ino, connection_peer(fd), {}};
  std::lock_guard lock(m_mutex);
  auto many = [&] {
    return static_cast<int>(m_admitted.size()) >= std::min(m_limits.max_owner, m_limits.max_total);
  };
  if (many()) {
    sweep(false);
  }
  if (many()) {
    // Owners matter now: this connection's and every admitted one's.
    resolve_owners();
    entry.owner = owner_of(entry.peer);
    if (entry.owner == k_closed_owner) {
      return false;  // its client is gone already
    }
    const auto it = m_per_owner.find(entry.owner);
    const bool full = static_cast<int>(m_admitted.size()) >= m_limits.max_total ||
                      (it != m_per_owner.end() && it->second >= m_limits.max_owner);
    if (full) {
      if (m_refused) {
        m_refused(entry.owner);
      }
      return false;
    }
    ++m_per_owner[entry.owner];
  }
  m_admitted.push_back(std::move(entry));
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
      // What gRPC's listener gave its sockets: no delay, and unacknowledged
      // data drops the connection after the keepalive timeout.
      const int one = 1;
      ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      const int user_timeout_ms = 10000;
      ::setsockopt(client, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout_ms, sizeof user_timeout_ms);
      m_hand_over(client);
      continue;
    }
    const linger reset{1, 0};  // close with a reset: nothing is kept for it
    ::setsockopt(client, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
    ::close(client);
  }
}

}  // namespace boxd::local
