// The non-PTY exec relay against a scripted in-memory session: output is
// written byte-exact to the right fd, the exit code comes from the final
// chunk, piped stdin arrives and is half-closed, and a closed stdout cancels.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <unistd.h>

#include <condition_variable>
#include <csignal>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include "boxd/box/exec_relay.hpp"
#include "common/error.hpp"

using namespace boxd::cli;
namespace api = boxd::api::v1;

namespace {

// Server side of a fake `cat`-like command. Chunks are scripted; with
// echo_stdin, everything written to stdin comes back as stdout after EOF.
class FakeSession : public boxd::client::ExecSession {
 public:
  std::deque<api::ExecChunk> script;
  bool echo_stdin = false;
  std::string stdin_seen;
  bool stdin_closed = false;
  bool cancelled = false;

  bool write_stdin(std::string_view data) override {
    std::lock_guard lock(m_mutex);
    stdin_seen += data;
    return !cancelled;
  }
  bool resize(unsigned, unsigned) override { return true; }
  void close_stdin() override {
    std::lock_guard lock(m_mutex);
    stdin_closed = true;
    m_changed.notify_all();
  }
  bool read(api::ExecChunk& chunk) override {
    std::unique_lock lock(m_mutex);
    if (echo_stdin && !m_echoed) {
      m_changed.wait(lock, [&] { return stdin_closed || cancelled; });
      m_echoed = true;
      if (!cancelled) {
        chunk.Clear();
        chunk.set_data(stdin_seen);
        return true;
      }
    }
    if (cancelled || script.empty()) {
      return false;
    }
    chunk = script.front();
    script.pop_front();
    return true;
  }
  void finish() override {
    std::lock_guard lock(m_mutex);
    if (cancelled) {
      throw boxd::Error(boxd::ErrorClass::Cancelled, "cancelled");
    }
  }
  void cancel() override {
    std::lock_guard lock(m_mutex);
    cancelled = true;
    m_changed.notify_all();
  }

 private:
  std::mutex m_mutex;
  std::condition_variable m_changed;
  bool m_echoed = false;
};

api::ExecChunk out(const std::string& data, bool is_stderr = false) {
  api::ExecChunk chunk;
  chunk.set_data(data);
  chunk.set_is_stderr(is_stderr);
  return chunk;
}

api::ExecChunk exit_with(int code) {
  api::ExecChunk chunk;
  chunk.set_exit_code(code);
  return chunk;
}

struct Pipe {
  int fds[2];
  Pipe() { REQUIRE(::pipe2(fds, O_CLOEXEC) == 0); }
  ~Pipe() {
    close_read();
    close_write();
  }
  void close_read() {
    if (fds[0] >= 0) {
      ::close(fds[0]);
      fds[0] = -1;
    }
  }
  void close_write() {
    if (fds[1] >= 0) {
      ::close(fds[1]);
      fds[1] = -1;
    }
  }
  std::string drain() {
    close_write();
    std::string text;
    char buffer[4096];
    ssize_t n = 0;
    while ((n = ::read(fds[0], buffer, sizeof buffer)) > 0) {
      text.append(buffer, static_cast<std::size_t>(n));
    }
    return text;
  }
};

}  // namespace

TEST_CASE("output goes byte-exact to stdout and stderr; exit code from the last chunk") {
  FakeSession session;
  const std::string binary("a\0b\xff\n", 5);
  session.script = {out(binary), out("err\n", true), out("more"), exit_with(3)};
  Pipe stdout_pipe;
  Pipe stderr_pipe;
  RelayOptions options;
  options.stdout_fd = stdout_pipe.fds[1];
  options.stderr_fd = stderr_pipe.fds[1];
  const RelayResult result = relay_exec(session, options);
  CHECK(result.exit_code == 3);
  CHECK(session.stdin_closed);  // not relayed: half-closed at once
  CHECK(stdout_pipe.drain() == binary + "more");
  CHECK(stderr_pipe.drain() == "err\n");
}

TEST_CASE("a stream that ends without an exit chunk means 0; collect mode keeps output") {
  FakeSession session;
  session.script = {out("x"), out("y", true)};
  RelayOptions options;
  options.collect = true;
  const RelayResult result = relay_exec(session, options);
  CHECK(result.exit_code == 0);
  CHECK(result.stdout_data == "x");
  CHECK(result.stderr_data == "y");
}

TEST_CASE("piped stdin is relayed in full and then half-closed") {
  FakeSession session;
  session.echo_stdin = true;
  session.script = {exit_with(0)};
  Pipe stdin_pipe;
  Pipe stdout_pipe;
  std::string payload;
  for (int i = 0; i < 20000; ++i) {
    payload += "line " + std::to_string(i) + "\n";
  }
  std::thread feeder([&] {
    const bool ok = boxd::write_all(stdin_pipe.fds[1], payload.data(), payload.size());
    CHECK(ok);
    stdin_pipe.close_write();
  });
  std::string echoed;
  std::thread reader([&] {
    char buffer[4096];
    ssize_t n = 0;
    while ((n = ::read(stdout_pipe.fds[0], buffer, sizeof buffer)) > 0) {
      echoed.append(buffer, static_cast<std::size_t>(n));
    }
  });
  RelayOptions options;
  options.relay_stdin = true;
  options.stdin_fd = stdin_pipe.fds[0];
  options.stdout_fd = stdout_pipe.fds[1];
  const RelayResult result = relay_exec(session, options);
  feeder.join();
  stdout_pipe.close_write();
  reader.join();
  CHECK(result.exit_code == 0);
  CHECK(session.stdin_closed);
  CHECK(session.stdin_seen == payload);
  CHECK(echoed == payload);
}

TEST_CASE("a closed local stdout cancels the call quietly") {
  FakeSession session;
  session.script = {out("first"), out("second"), exit_with(0)};
  Pipe stdout_pipe;
  stdout_pipe.close_read();
  ::signal(SIGPIPE, SIG_IGN);
  RelayOptions options;
  options.stdout_fd = stdout_pipe.fds[1];
  const RelayResult result = relay_exec(session, options);  // must not throw
  CHECK(result.stdout_closed);
  CHECK(session.cancelled);
}

TEST_CASE("a failed call is rethrown with its class") {
  class Failing : public FakeSession {
   public:
    void finish() override { throw boxd::Error(boxd::ErrorClass::Timeout, "deadline exceeded"); }
  } session;
  session.script = {out("partial")};
  RelayOptions options;
  options.collect = true;
  try {
    relay_exec(session, options);
    FAIL("no exception");
  } catch (const boxd::Error& e) {
    CHECK(e.error_class() == boxd::ErrorClass::Timeout);
  }
}
