#include "boxd/box/interrupt.hpp"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

namespace boxd::cli {

namespace {

std::atomic<int> g_interrupt_pipe{-1};

void on_interrupt(int sig) {
  const int fd = g_interrupt_pipe.load();
  if (fd >= 0) {
    const char byte = static_cast<char>(sig);
    ssize_t ignored = ::write(fd, &byte, 1);
    (void)ignored;
  }
}

}  // namespace

InterruptWatch::InterruptWatch(client::CallCancel& cancel) : m_cancel(cancel) {
  if (::pipe2(m_pipe, O_CLOEXEC) < 0) {
    m_pipe[0] = m_pipe[1] = -1;
    return;
  }
  g_interrupt_pipe.store(m_pipe[1]);
  struct sigaction action {};
  action.sa_handler = on_interrupt;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGINT, &action, &m_old_int);
  ::sigaction(SIGTERM, &action, &m_old_term);
  const int read_end = m_pipe[0];
  m_thread = std::thread([this, read_end] {
    while (true) {
      pollfd fd{read_end, POLLIN, 0};
      if (::poll(&fd, 1, -1) < 0) {
        continue;
      }
      char byte = 0;
      if (::read(read_end, &byte, 1) != 1 || byte == 0) {
        return;  // closed or the destructor's stop byte
      }
      m_interrupted.store(true);
      m_cancel.cancel();
    }
  });
}

InterruptWatch::~InterruptWatch() {
  if (m_pipe[1] < 0) {
    return;
  }
  ::sigaction(SIGINT, &m_old_int, nullptr);
  ::sigaction(SIGTERM, &m_old_term, nullptr);
  g_interrupt_pipe.store(-1);
  const char stop = 0;
  ssize_t ignored = ::write(m_pipe[1], &stop, 1);
  (void)ignored;
  if (m_thread.joinable()) {
    m_thread.join();
  }
  ::close(m_pipe[0]);
  ::close(m_pipe[1]);
}

}  // namespace boxd::cli
