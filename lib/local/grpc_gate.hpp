// The gRPC port's own accept loop, so that connections are bounded: gRPC
// 1.51's listener accepts every connection it is offered, and each holds a
// descriptor of the root server and gRPC's buffers, so a local user with
// no key could open connections until the server had no descriptor left
// for anybody's exec or upload.
//
// The gate listens itself and hands each accepted socket to gRPC (its
// external connection acceptor, TLS or not as the server is) unless the
// connection's owner already holds max_owner connections, or all owners
// together max_total. The owner is the local user whose socket is the other
// end, found by an exact sock_diag query for that socket (the uid it was
// made with, whatever address or family it connected from, which its user
// cannot change), else, for a remote client, the peer's IP address. A
// refused connection is closed at once (reset), before any byte is read.
//
// Owners are looked up only while connections are many (max_owner or more
// admitted): below that no owner can be at its cap, and a connection costs
// two system calls more than it did with gRPC's listener.
//
// gRPC closes a socket when its connection ends and says nothing; the gate
// notices when the descriptor no longer is that socket (fstat: inode), at
// most every 50 ms and only when a cap is reached.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/fd.hpp"

namespace boxd::local {

struct ConnectionLimits {
  int max_total = 4096;
  int max_owner = 512;
};

// A connection's two ends as the owner lookup needs them, taken at accept
// (v4-mapped addresses as IPv4).
struct ConnectionPeer {
  bool known = false;     // both ends read, of one family
  bool loopback = false;  // the peer is 127.0.0.0/8 or ::1
  sockaddr_storage peer{};
  sockaddr_storage self{};
  std::string address = "?";  // the peer's IP as text
};
ConnectionPeer connection_peer(int fd);

// The owner of a loopback peer whose socket is closing (not one of a user).
constexpr const char* k_closed_owner = "closed";

// Who holds the connection: "uid N" when the peer's socket is on this host
// (an exact sock_diag query: the uid its creator had, whatever address it
// used), "closed" for a loopback peer whose socket is gone or closing,
// else a remote client: "address A" (IPv4), "network P/64" (IPv6: the /64
// its address is in, since one host can use every address of its /64).
std::string owner_of(const ConnectionPeer& peer);
std::string connection_owner(int fd);

class ConnectionGate {
 public:
  // Binds listen:port (0 = any free port); throws boxd::Error (Connection)
  // as the other listeners do.
  ConnectionGate(const std::string& listen, int port);
  ~ConnectionGate();
  ConnectionGate(const ConnectionGate&) = delete;
  ConnectionGate& operator=(const ConnectionGate&) = delete;

  int port() const { return m_port; }

  // Starts accepting; `hand_over(fd)` gives an admitted socket to gRPC
  // (which then owns it). `refused(owner)` is told of each refusal.
  void start(ConnectionLimits limits, std::function<void(int)> hand_over,
             std::function<void(const std::string&)> refused);
  void stop();

  // Connections admitted and not yet ended (sweeps first).
  int open_connections();

 private:
  // The owner is looked up only once connections are many (admitted >=
  // max_owner): below that no owner can be at its cap.
  struct Admitted {
    int fd;
    dev_t dev;
    ino_t inode;
    ConnectionPeer peer;
    std::string owner;  // "" = not looked up yet
  };
  void accept_loop();
  bool admit(int fd);  // false: refused (the caller closes it)
  void sweep(bool force);
  void resolve_owners();  // for every admitted connection without one

  int m_listen_fd = -1;
  int m_port = 0;
  ConnectionLimits m_limits;
  std::function<void(int)> m_hand_over;
  std::function<void(const std::string&)> m_refused;
  std::thread m_thread;
  std::atomic<bool> m_stopping{false};
  Pipe m_wake{O_CLOEXEC | O_NONBLOCK};
  std::mutex m_mutex;  // guards what follows
  std::vector<Admitted> m_admitted;
  std::map<std::string, int> m_per_owner;
  std::chrono::steady_clock::time_point m_swept{};
};

}  // namespace boxd::local
