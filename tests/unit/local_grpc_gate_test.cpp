// The gRPC port's connection caps (lib/local/grpc_gate.hpp): who owns a
// loopback connection (the uid of the peer's socket), and the caps per
// owner and in total, freed again when the connection is closed.
// tests/security/test_dos.py tries the attack on a real server.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "local/grpc_gate.hpp"

using namespace boxd::local;

namespace {

int connect_to(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  return fd;
}

// The gate with a hand-over that keeps the sockets (as gRPC would) until
// close_all().
struct Gate {
  ConnectionGate gate{"127.0.0.1", 0};
  std::mutex mutex;
  std::vector<int> handed;
  std::vector<std::string> refused;

  explicit Gate(ConnectionLimits limits) {
    gate.start(
        limits,
        [this](int fd) {
          std::lock_guard lock(mutex);
          handed.push_back(fd);
        },
        [this](const std::string& owner) {
          std::lock_guard lock(mutex);
          refused.push_back(owner);
        });
  }
  ~Gate() {
    gate.stop();
    close_all();
  }
  std::size_t counts(std::size_t& refusals) {
    std::lock_guard lock(mutex);
    refusals = refused.size();
    return handed.size();
  }
  // Waits until `handed + refused` reaches `events`.
  void settle(std::size_t events) {
    for (int i = 0; i < 500; ++i) {
      std::size_t refusals = 0;
      if (counts(refusals) + refusals >= events) {
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  void close_all() {
    std::lock_guard lock(mutex);
    for (const int fd : handed) {
      ::close(fd);
    }
    handed.clear();
  }
};

// A child that takes uid 65534 and connects to `port`: over IPv4, or
// (mapped) from an IPv6 socket bound to ::ffff:127.0.0.9, the address a
// lookup in the IPv4 table alone would miss. It holds the socket until
// `hold` is readable.
pid_t connect_as_nobody(int port, bool mapped, int hold) {
  const pid_t child = ::fork();
  if (child != 0) {
    return child;
  }
  if (::setgid(65534) != 0 || ::setuid(65534) != 0) {
    ::_exit(1);
  }
  int fd = -1;
  if (!mapped) {
    fd = connect_to(port);
  } else {
    fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in6 from{};
    from.sin6_family = AF_INET6;
    ::inet_pton(AF_INET6, "::ffff:127.0.0.9", &from.sin6_addr);
    sockaddr_in6 to{};
    to.sin6_family = AF_INET6;
    to.sin6_port = htons(static_cast<std::uint16_t>(port));
    ::inet_pton(AF_INET6, "::ffff:127.0.0.1", &to.sin6_addr);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0 ||
        ::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
      ::_exit(2);
    }
  }
  char byte = 0;
  (void)::read(hold, &byte, 1);
  ::close(fd);
  ::_exit(0);
}

}  // namespace

TEST_CASE("grpc gate: a connection belongs to the uid of the peer's socket, however it connects") {
  ConnectionGate gate("127.0.0.1", 0);
  std::mutex mutex;
  std::vector<std::string> owners;
  gate.start(
      {100, 100},
      [&](int fd) {
        std::lock_guard lock(mutex);
        owners.push_back(connection_owner(fd));
        ::close(fd);
      },
      [](const std::string&) {});
  const int mine = connect_to(gate.port());
  int hold[2];
  REQUIRE(::pipe(hold) == 0);
  const pid_t over_v4 = connect_as_nobody(gate.port(), false, hold[0]);
  const pid_t over_v6 = connect_as_nobody(gate.port(), true, hold[0]);
  for (int i = 0; i < 500; ++i) {
    {
      std::lock_guard lock(mutex);
      if (owners.size() == 3) {
        break;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  (void)::write(hold[1], "xx", 2);
  int status = 0;
  ::waitpid(over_v4, &status, 0);
  ::waitpid(over_v6, &status, 0);
  CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
  ::close(hold[0]);
  ::close(hold[1]);
  ::close(mine);
  gate.stop();
  std::lock_guard lock(mutex);
  REQUIRE(owners.size() == 3);
  const std::string me = "uid " + std::to_string(::geteuid());
  CHECK(std::count(owners.begin(), owners.end(), me) == 1);
  CHECK(std::count(owners.begin(), owners.end(), "uid 65534") == 2);
}

TEST_CASE("grpc gate: past its caps a connection is refused, and admitted again once one ends") {
  Gate g(ConnectionLimits{3, 2});
  std::vector<int> clients;
  for (int i = 0; i < 4; ++i) {
    clients.push_back(connect_to(g.gate.port()));
  }
  g.settle(4);
  std::size_t refusals = 0;
  CHECK(g.counts(refusals) == 2);  // one owner (this process's uid): 2
  CHECK(refusals == 2);
  CHECK(g.gate.open_connections() == 2);
  // A refused connection is reset: its client reads an error or EOF.
  char byte = 0;
  CHECK(::recv(clients[3], &byte, 1, 0) <= 0);
  // The holder (gRPC) closes its two; after the sweep interval a new one
  // gets in.
  g.close_all();
  CHECK(g.gate.open_connections() == 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(60));
  clients.push_back(connect_to(g.gate.port()));
  g.settle(1 + 2);  // handed (after close_all) + refusals so far
  CHECK(g.counts(refusals) == 1);
  for (const int fd : clients) {
    ::close(fd);
  }
}

TEST_CASE("grpc gate: a remote client counts by its IPv4 address, an IPv6 one by its /64") {
  const auto remote = [](int family, const char* text) {
    ConnectionPeer peer;
    peer.known = false;  // no socket of this host: a remote client
    peer.peer.ss_family = static_cast<sa_family_t>(family);
    void* where = family == AF_INET
                      ? static_cast<void*>(&reinterpret_cast<sockaddr_in&>(peer.peer).sin_addr)
                      : static_cast<void*>(&reinterpret_cast<sockaddr_in6&>(peer.peer).sin6_addr);
    REQUIRE(::inet_pton(family, text, where) == 1);
    peer.address = text;
    return owner_of(peer);
  };
  CHECK(remote(AF_INET, "192.0.2.7") == "address 192.0.2.7");
  CHECK(remote(AF_INET, "192.0.2.7") != remote(AF_INET, "192.0.2.8"));
  CHECK(remote(AF_INET6, "2001:db8:1:2::7") == "network 2001:db8:1:2::/64");
  CHECK(remote(AF_INET6, "2001:db8:1:2:aaaa:bbbb:cccc:dddd") == "network 2001:db8:1:2::/64");
  CHECK(remote(AF_INET6, "2001:db8:1:3::7") == "network 2001:db8:1:3::/64");
}

TEST_CASE(
    "grpc gate: out of descriptors, the accept loop waits instead of spinning, then accepts") {
  // In a child: the descriptor limit and table are the process's own.
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    int failed = 0;
    {
      Gate g(ConnectionLimits{100, 100});
      int go[2];
      if (::pipe(go) != 0) {
        ::_exit(10);
      }
      // The client: forked before the table is full, connects when told.
      const pid_t client = ::fork();
      if (client == 0) {
        char byte = 0;
        (void)!::read(go[0], &byte, 1);
        (void)connect_to(g.gate.port());
        ::pause();
        ::_exit(0);
      }
      rlimit limit{};
      ::getrlimit(RLIMIT_NOFILE, &limit);
      limit.rlim_cur = std::min<rlim_t>(limit.rlim_cur, 512);
      ::setrlimit(RLIMIT_NOFILE, &limit);
      std::vector<int> filler;
      for (int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC); fd >= 0;
           fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC)) {
        filler.push_back(fd);
      }
      rusage before{};
      ::getrusage(RUSAGE_SELF, &before);
      (void)!::write(go[1], "x", 1);
      std::this_thread::sleep_for(std::chrono::seconds(1));
      rusage after{};
      ::getrusage(RUSAGE_SELF, &after);
      const auto cpu_ms = [](const rusage& r) {
        return (r.ru_utime.tv_sec + r.ru_stime.tv_sec) * 1000L +
               (r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1000L;
      };
      std::size_t refusals = 0;
      // A second of a spinning accept loop would be about a second of CPU.
      failed |= cpu_ms(after) - cpu_ms(before) > 300 ? 1 : 0;
      failed |= g.counts(refusals) != 0 ? 2 : 0;  // nothing accepted while full
      for (int i = 0; i < 4 && !filler.empty(); ++i) {
        ::close(filler.back());
        filler.pop_back();
      }
      g.settle(1);
      failed |= g.counts(refusals) != 1 ? 4 : 0;  // accepted once descriptors were free
      ::kill(client, SIGKILL);
      ::waitpid(client, nullptr, 0);
    }
    ::_exit(failed);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);  // 1: spun, 2: accepted while full, 4: never accepted
}
