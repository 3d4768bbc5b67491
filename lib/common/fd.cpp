#include "common/fd.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>

#include <atomic>
#include <string>

#include "common/error.hpp"

namespace boxd {

namespace {

// The write end of the SignalPipe that owns each signal, plus one (static
// storage starts at 0: no owner).
constexpr int k_max_signal = 65;
std::atomic<int> g_signal_fds[k_max_signal];

extern "C" void route_signal(int sig) {
  const int saved_errno = errno;
  const int fd = (sig > 0 && sig < k_max_signal) ? g_signal_fds[sig].load() - 1 : -1;
  if (fd >= 0) {
    const auto byte = static_cast<unsigned char>(sig);
    [[maybe_unused]] const ssize_t n = ::write(fd, &byte, 1);
  }
  errno = saved_errno;
}

}  // namespace

bool write_all(int fd, const void* data, std::size_t size) {
  const auto* bytes = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd, bytes, size);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return false;
    }
    bytes += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

bool write_all(int fd, std::string_view data) {
  return write_all(fd, data.data(), data.size());
}

bool read_all(int fd, void* data, std::size_t size) {
  auto* bytes = static_cast<char*>(data);
  while (size > 0) {
    const ssize_t n = ::read(fd, bytes, size);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return false;
    }
    bytes += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

Pipe::Pipe(int flags) {
  int fds[2];
  if (::pipe2(fds, flags) != 0) {
    throw Error(ErrorClass::Internal, std::string("cannot create a pipe: ") + std::strerror(errno));
  }
  m_read.reset(fds[0]);
  m_write.reset(fds[1]);
}

void Pipe::notify(char byte) const {
  [[maybe_unused]] const ssize_t n = ::write(m_write.get(), &byte, 1);
}

void Pipe::drain() const {
  char buffer[64];
  while (::read(m_read.get(), buffer, sizeof buffer) > 0) {
  }
}

SignalPipe::SignalPipe(std::initializer_list<int> signals, int sa_flags)
    : m_pipe(O_CLOEXEC | O_NONBLOCK) {
  struct sigaction action {};
  action.sa_handler = route_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = sa_flags;
  for (const int sig : signals) {
    if (sig <= 0 || sig >= k_max_signal) {
      continue;
    }
    g_signal_fds[sig].store(m_pipe.write_fd() + 1);
    struct sigaction previous {};
    ::sigaction(sig, &action, &previous);
    m_previous.emplace_back(sig, previous);
  }
}

SignalPipe::~SignalPipe() {
  for (auto it = m_previous.rbegin(); it != m_previous.rend(); ++it) {
    ::sigaction(it->first, &it->second, nullptr);
    int expected = m_pipe.write_fd() + 1;
    g_signal_fds[it->first].compare_exchange_strong(expected, 0);
  }
}

int SignalPipe::take() const {
  unsigned char byte = 0;
  for (;;) {
    const ssize_t n = ::read(m_pipe.read_fd(), &byte, 1);
    if (n == 1) {
      return byte;
    }
    if (n < 0 && errno == EINTR) {
      continue;
    }
    return 0;
  }
}

}  // namespace boxd
