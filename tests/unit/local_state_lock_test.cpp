// The state dir's lock (state_lock.hpp): a second server is refused, and a
// killed server's lock goes with it even while a child it forked still
// holds the file's descriptor (the restart right after a kill -9).
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <string>

#include "common/error.hpp"
#include "local/state_lock.hpp"

using boxd::local::StateLock;
namespace fs = std::filesystem;

namespace {

fs::path temp_dir() {
  char pattern[] = "/tmp/boxd-state-lock-XXXXXX";
  REQUIRE(::mkdtemp(pattern) != nullptr);
  return pattern;
}

// Runs `body` in a forked child; its exit status (0 when body returned true).
template <class Body>
int in_child(Body body) {
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::_exit(body() ? 0 : 1);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

bool can_lock(const fs::path& dir) {
  try {
    StateLock lock(dir);
    return true;
  } catch (const boxd::Error&) {
    return false;
  }
}

}  // namespace

TEST_CASE("state lock: a second server on the same state dir is refused, with the reason") {
  const fs::path dir = temp_dir();
  {
    StateLock lock(dir);
    // Another process (a lock is a process's own, so the check forks).
    CHECK(in_child([&] { return can_lock(dir); }) == 1);
    CHECK(in_child([&] {
            try {
              StateLock second(dir);
            } catch (const boxd::Error& e) {
              return std::string(e.what()) == "another boxd local server is using " + dir.string();
            }
            return false;
          }) == 0);
  }
  CHECK(in_child([&] { return can_lock(dir); }) == 0);  // released with the lock object
  fs::remove_all(dir);
}

TEST_CASE("state lock: a killed server's lock is free at once, though a child it forked lives") {
  const fs::path dir = temp_dir();
  int ready[2];
  REQUIRE(::pipe(ready) == 0);
  const pid_t server = ::fork();
  REQUIRE(server >= 0);
  if (server == 0) {
    StateLock lock(dir);
    // A child holding every descriptor of the "server", the lock file's too,
    // as a warm middle does between its fork and its first instructions.
    const pid_t child = ::fork();
    if (child == 0) {
      ::sleep(30);
      ::_exit(0);
    }
    (void)!::write(ready[1], &child, sizeof child);
    ::pause();
    ::_exit(0);
  }
  ::close(ready[1]);
  pid_t child = 0;
  REQUIRE(::read(ready[0], &child, sizeof child) == static_cast<ssize_t>(sizeof child));
  ::close(ready[0]);
  CHECK(in_child([&] { return can_lock(dir); }) == 1);  // the server holds it
  ::kill(server, SIGKILL);
  ::waitpid(server, nullptr, 0);
  CHECK(in_child([&] { return can_lock(dir); }) == 0);
  CHECK(::kill(child, 0) == 0);  // the child that shares the descriptor still lives
  ::kill(child, SIGKILL);
  fs::remove_all(dir);
}
