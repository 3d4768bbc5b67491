#include "boxd/box/forward_relay.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

#include "common/files.hpp"

namespace boxd::cli {

namespace {

constexpr std::size_t k_relay_chunk = 256 * 1024;

void say(const std::string& line) {
  [[maybe_unused]] const bool ok = write_all(2, line.data(), line.size());
}

// Connects to HOST:PORT (numeric or a name from the box's /etc/hosts).
int connect_to(const char* host, const char* port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const int rc = ::getaddrinfo(host, port, &hints, &found);
  if (rc != 0) {
    say(std::string("boxd-relay: ") + host + ": " + ::gai_strerror(rc) + "\n");
    return -1;
  }
  int last_errno = 0;
  int fd = -1;
  for (addrinfo* ai = found; ai != nullptr && fd < 0; ai = ai->ai_next) {
    fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      last_errno = errno;
      continue;
    }
    if (::connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
      last_errno = errno;
      ::close(fd);
      fd = -1;
    }
  }
  ::freeaddrinfo(found);
  if (fd < 0) {
    say(std::string("boxd-relay: connect to ") + host + ":" + port + ": " +
        std::strerror(last_errno) + "\n");
    return -1;
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

// stdin -> socket; at EOF the socket's write side is shut. A failed write
// (the server closed) ends this direction quietly: the other one reports.
void stdin_to_socket(int sock) {
  std::string buffer(k_relay_chunk, '\0');
  for (;;) {
    const ssize_t n = ::read(0, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      ::shutdown(sock, SHUT_WR);
      return;
    }
    if (!write_all(sock, buffer.data(), static_cast<std::size_t>(n))) {
      return;
    }
  }
}

}  // namespace

int forward_relay_main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  if (argc != 4) {
    say("usage: boxd __relay HOST PORT\n");
    return 2;
  }
  const int sock = connect_to(argv[2], argv[3]);
  if (sock < 0) {
    return 1;
  }
  std::thread up(stdin_to_socket, sock);
  std::string buffer(k_relay_chunk, '\0');
  unsigned long long written = 0;
  for (;;) {
    const ssize_t n = ::read(sock, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      // A reset: the connection is broken both ways, do not wait for stdin.
      say(std::string("boxd-relay: ") + std::strerror(errno) + "\n");
      ::_exit(1);
    }
    if (n == 0) {
      break;
    }
    if (!write_all(1, buffer.data(), static_cast<std::size_t>(n))) {
      ::_exit(1);  // the client is gone
    }
    written += static_cast<unsigned long long>(n);
  }
  say(std::string(k_relay_eof_marker) + std::to_string(written) + "\n");
  up.join();
  return 0;
}

const char* const k_python_relay =
    "import os,socket,sys,threading\n"
    "h,p=sys.argv[1],sys.argv[2]\n"
    "try:\n"
    " s=socket.create_connection((h,int(p)))\n"
    "except OSError as e:\n"
    " sys.stderr.write(\"boxd-relay: connect to %s:%s: %s\\n\"%(h,p,e.strerror or e));sys.exit(1)\n"
    "s.setsockopt(socket.IPPROTO_TCP,socket.TCP_NODELAY,1)\n"
    "def up():\n"
    " try:\n"
    "  while True:\n"
    "   d=os.read(0,262144)\n"
    "   if not d:\n"
    "    s.shutdown(socket.SHUT_WR);return\n"
    "   s.sendall(d)\n"
    " except OSError:\n"
    "  return\n"
    "t=threading.Thread(target=up,daemon=True);t.start()\n"
    "n=0\n"
    "try:\n"
    " while True:\n"
    "  d=s.recv(262144)\n"
    "  if not d:break\n"
    "  v=memoryview(d)\n"
    "  while v:v=v[os.write(1,v):]\n"
    "  n+=len(d)\n"
    "except OSError as e:\n"
    " sys.stderr.write(\"boxd-relay: %s\\n\"%e.strerror);sys.stderr.flush();os._exit(1)\n"
    "sys.stderr.write(\"boxd-relay-eof %d\\n\"%n);sys.stderr.flush()\n"
    "t.join()\n";

}  // namespace boxd::cli
