// The server's end of a box file helper (protocol: box_file.hpp). The
// helper runs as the box's user, who can ptrace or replace it: everything
// read here is bounded and checked, and a helper that stalls is given up
// after k_idle_timeout.
#include <fcntl.h>
#include <poll.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <csignal>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>

#include "local/box_file.hpp"
#include "local/fault.hpp"

namespace boxd::local {

namespace {

using namespace std::chrono_literals;

constexpr auto k_idle_timeout = 60s;
constexpr int k_poll_slice_ms = 250;

[[noreturn]] void helper_broke(const char* what) {
  fail(Fault::Internal, std::string("the file helper in the box ") + what);
}

}  // namespace

BoxFileChannel::BoxFileChannel(std::unique_ptr<ExecProcess> process,
                               std::function<bool()> cancelled)
    : m_process(std::move(process)), m_cancelled(std::move(cancelled)) {
  // Room for a few 1 MiB frames in flight, else at least one (a pipe may not
  // exceed /proc/sys/fs/pipe-max-size, 1 MiB by default, without
  // CAP_SYS_RESOURCE: 4 MiB fails with EPERM there). Best effort: with the
  // default 64 KiB every frame takes 16 round trips through the helper.
  for (int fd : {m_process->stdin_fd(), m_process->stdout_fd()}) {
    for (std::size_t size = 4 * box_file::k_chunk_bytes; fd >= 0 && size >= box_file::k_chunk_bytes;
         size /= 2) {
      if (fcntl(fd, F_SETPIPE_SZ, static_cast<int>(size)) >= 0) {
        break;
      }
    }
  }
}

namespace {

// Closes the helper's stdin and waits for its exit, for a second at most;
// then it is killed. A helper still running when its channel goes was given
// up on: it removes its temp file when its stdin closes.
void end_helper(ExecProcess& process) {
  process.close_stdin();
  for (int i = 0; i < 20 && !process.poll_exit(); ++i) {
    pollfd pfd{process.exit_fd(), POLLIN, 0};
    if (pfd.fd < 0 || poll(&pfd, 1, 50) < 0) {
      usleep(50000);
    }
  }
  if (!process.poll_exit()) {
    process.kill_group(SIGKILL);
  }
}

// Helpers whose exit a thread of release() waits for: at most
// k_max_released for the whole server (a tenant who stops its helpers after
// their answer must not get a thread each; past it the caller waits, as
// before), counted so that a shutdown can wait for them.
constexpr int k_max_released = 64;
std::mutex g_released_mutex;
std::condition_variable g_released_cv;
int g_released = 0;

void released_done() {
  {
    std::lock_guard lock(g_released_mutex);
    --g_released;
  }
  g_released_cv.notify_all();
}

}  // namespace

BoxFileChannel::~BoxFileChannel() {
  if (m_process) {
    end_helper(*m_process);
  }
}

void BoxFileChannel::release() {
  if (!m_process) {
    return;
  }
  {
    std::lock_guard lock(g_released_mutex);
    if (g_released >= k_max_released) {
      return;  // the destructor waits
    }
    ++g_released;
  }
  std::shared_ptr<ExecProcess> process(std::move(m_process));
  try {
    std::thread([process] {
      end_helper(*process);
      released_done();
    }).detach();
  } catch (const std::exception&) {  // no thread: wait here
    end_helper(*process);
    released_done();
  }
}

bool wait_for_released_helpers(std::chrono::milliseconds limit) {
  std::unique_lock lock(g_released_mutex);
  return g_released_cv.wait_for(lock, limit, [] { return g_released == 0; });
}

bool BoxFileChannel::wait_for(int fd, short events) {
  const auto deadline = std::chrono::steady_clock::now() + k_idle_timeout;
  while (true) {
    if (m_cancelled && m_cancelled()) {
      fail(Fault::Cancelled, "cancelled");
    }
    pollfd pfd{fd, events, 0};
    int rc = poll(&pfd, 1, k_poll_slice_ms);
    if (rc < 0 && errno != EINTR) {
      return false;
    }
    if (rc > 0) {
      return true;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      helper_broke("stopped responding");
    }
  }
}

bool BoxFileChannel::send(char type, std::string_view payload) {
  return send(type, std::span<const std::string_view>(&payload, 1));
}

bool BoxFileChannel::send(char type, std::span<const std::string_view> payload) {
  std::size_t size = 0;
  for (const auto piece : payload) {
    size += piece.size();
  }
  std::string header(1, type);
  box_file::put_u32(header, static_cast<std::uint32_t>(size));
  m_parts.clear();
  m_parts.emplace_back(header);
  for (const auto piece : payload) {
    if (!piece.empty()) {
      m_parts.push_back(piece);
    }
  }
  const int fd = m_process->stdin_fd();
  std::size_t first = 0;  // m_parts[first] is the first one not all written
  while (first < m_parts.size()) {
    if (fd < 0 || !wait_for(fd, POLLOUT)) {
      return false;
    }
    m_iov.clear();
    for (std::size_t i = first; i < m_parts.size() && m_iov.size() < IOV_MAX; ++i) {
      m_iov.push_back({const_cast<char*>(m_parts[i].data()), m_parts[i].size()});
    }
    ssize_t n = ::writev(fd, m_iov.data(), static_cast<int>(m_iov.size()));
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
      continue;
    }
    if (n <= 0) {
      return false;  // EPIPE: the helper exited (SIGPIPE is ignored)
    }
    auto done = static_cast<std::size_t>(n);
    while (done > 0) {
      auto& part = m_parts[first];
      const std::size_t used = std::min(done, part.size());
      part.remove_prefix(used);
      done -= used;
      if (part.empty()) {
        ++first;
      }
    }
  }
  return true;
}

void BoxFileChannel::read_exact(char* data, std::size_t size) {
  const int fd = m_process->stdout_fd();
  while (size > 0) {
    if (!wait_for(fd, POLLIN)) {
      helper_broke("failed");
    }
    ssize_t n = ::read(fd, data, size);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
      continue;
    }
    if (n <= 0) {
      helper_broke("exited unexpectedly");
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
}

BoxFileChannel::Frame BoxFileChannel::receive(std::size_t max_payload) {
  char header[5];
  read_exact(header, sizeof header);
  Frame frame;
  frame.type = header[0];
  const std::uint32_t size = *box_file::get_u32(std::string_view(header, sizeof header), 1);
  if (size > max_payload) {
    helper_broke("sent an oversized frame");
  }
  frame.payload.resize(size);
  read_exact(frame.payload.data(), size);
  return frame;
}

void BoxFileChannel::close_input() {
  m_process->close_stdin();
}

void make_dir_in_box(Runtime& runtime, const BoxSpec& box, const BoxHandle& handle,
                     const std::string& path) {
  int error = 0;
  for (const int uid : {1000, 0}) {
    BoxFileChannel helper(
        runtime.run_self(box, handle,
                         {"local", "__box-file", "mkdir", runtime.files_root(box), path}, uid),
        nullptr);
    const auto frame = helper.receive(8);
    if (frame.type == 'O' && frame.payload.empty()) {
      return;
    }
    const auto failure = box_file::parse_failure(frame.payload);
    if (frame.type != 'E' || !failure) {
      fail(Fault::Internal, "the file helper in the box sent an unexpected reply");
    }
    error = failure->error;
    if (error != EACCES && error != EPERM) {
      break;
    }
  }
  fail(error == EACCES || error == EPERM || error == EROFS ? Fault::PermissionDenied
                                                           : Fault::FailedPrecondition,
       "cannot create the mount point " + path + " in VM '" + box.name +
           "': " + std::strerror(error));
}

}  // namespace boxd::local
