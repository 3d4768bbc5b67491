// The gRPC port's connection caps: see grpc_gate.hpp.
#include "local/grpc_gate.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <unordered_map>

#include "common/error.hpp"
#include "common/fd.hpp"
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

// The uid column of /proc/net/tcp{,6} for each wanted (local, remote)
// pair, read once; -1 where there is no such socket.
std::vector<long> uids_of_sockets(const char* table,
                                  const std::vector<std::pair<std::string, std::string>>& wanted) {
  std::vector<long> uids(wanted.size(), -1);
  std::unordered_map<std::string, std::size_t> index;
  for (std::size_t i = 0; i < wanted.size(); ++i) {
    index.emplace(wanted[i].first + " " + wanted[i].second, i);
  }
  std::string text;
  {
    const UniqueFd fd(::open(table, O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) {
      return uids;
    }
    char buffer[16384];
    ssize_t n = 0;
    while ((n = ::read(fd.get(), buffer, sizeof buffer)) > 0) {
      text.append(buffer, static_cast<std::size_t>(n));
    }
  }
  std::string_view rest = text;
  rest.remove_prefix(std::min(rest.size(), rest.find('\n') + 1));  // the header
  while (!rest.empty()) {
    const auto end = std::min(rest.size(), rest.find('\n'));
    std::string_view line = rest.substr(0, end);
    rest.remove_prefix(std::min(rest.size(), end + 1));
    // Fields: sl local remote st queues timer retransmits uid ...
    std::string_view fields[8];
    std::size_t count = 0;
    while (count < 8) {
      const auto start = line.find_first_not_of(' ');
      if (start == std::string_view::npos) {
        break;
      }
      line.remove_prefix(start);
      const auto stop = std::min(line.size(), line.find(' '));
      fields[count++] = line.substr(0, stop);
      line.remove_prefix(stop);
    }
    if (count < 8) {
      continue;
    }
    std::string key(fields[1]);
    key += ' ';
    key += fields[2];
    if (const auto it = index.find(key); it != index.end() && uids[it->second] < 0) {
      uids[it->second] = std::strtol(std::string(fields[7]).c_str(), nullptr, 10);
    }
  }
  return uids;
}

}  // namespace

ConnectionPeer connection_peer(int fd) {
  ConnectionPeer out;
  sockaddr_storage peer{};
  sockaddr_storage self{};
  socklen_t peer_len = sizeof peer;
  socklen_t self_len = sizeof self;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_len) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&self), &self_len) != 0 ||
      (peer.ss_family != AF_INET && peer.ss_family != AF_INET6)) {
    return out;
  }
  unmap(peer);
  unmap(self);
  out.address = address_text(peer);
  out.loopback = is_loopback(peer) && peer.ss_family == self.ss_family;
  out.v6 = peer.ss_family == AF_INET6;
  // The peer's own socket, seen from its side: local = peer, remote = us.
  out.peer_key = proc_net_address(peer);
  out.self_key = proc_net_address(self);
  return out;
}

std::vector<std::string> connection_owners(const std::vector<const ConnectionPeer*>& peers) {
  std::vector<std::string> owners(peers.size());
  for (const bool v6 : {false, true}) {
    std::vector<std::pair<std::string, std::string>> wanted;
    std::vector<std::size_t> index;
    for (std::size_t i = 0; i < peers.size(); ++i) {
      if (peers[i]->loopback && peers[i]->v6 == v6) {
        wanted.emplace_back(peers[i]->peer_key, peers[i]->self_key);
        index.push_back(i);
      }
    }
    if (wanted.empty()) {
      continue;
    }
    const auto uids = uids_of_sockets(v6 ? "/proc/net/tcp6" : "/proc/net/tcp", wanted);
    for (std::size_t k = 0; k < index.size(); ++k) {
      if (uids[k] >= 0) {
        owners[index[k]] = "uid " + std::to_string(uids[k]);
      }
    }
  }
  for (std::size_t i = 0; i < peers.size(); ++i) {
    if (owners[i].empty()) {
      owners[i] = "address " + peers[i]->address;
    }
  }
  return owners;
}

std::string connection_owner(int fd) {
  const ConnectionPeer peer = connection_peer(fd);
  return connection_owners({&peer}).front();
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
      if (!held.owner.empty() && --m_per_owner[held.owner] <= 0) {
        m_per_owner.erase(held.owner);
      }
      m_admitted[i] = std::move(m_admitted.back());
      m_admitted.pop_back();
    }
  }
}

void ConnectionGate::resolve_owners() {
  std::vector<Admitted*> pending;
  std::vector<const ConnectionPeer*> peers;
  for (auto& held : m_admitted) {
    if (held.owner.empty()) {
      pending.push_back(&held);
      peers.push_back(&held.peer);
    }
  }
  if (pending.empty()) {
    return;
  }
  auto owners = connection_owners(peers);
  for (std::size_t i = 0; i < pending.size(); ++i) {
    pending[i]->owner = std::move(owners[i]);
    ++m_per_owner[pending[i]->owner];
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
    entry.owner = connection_owners({&entry.peer}).front();
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
