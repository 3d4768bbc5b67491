// The box runtimes against the real kernel: the process runtime always; the
// namespace runtime when running as root with the boxd binary available
// (BOXD_BIN, set by ctest) for the box init. When those cases cannot run,
// the test says so in its output rather than pretending they passed.
#include "local/runtime.hpp"
#include "common/error.hpp"
#include "common/files.hpp"
#include "local/runtime_support.hpp"
#include "local/warm_pool.hpp"

#include <doctest/doctest.h>

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>

namespace {

// Box ids name host-wide cgroups (<freezer>/boxd-local/<id>), and booting a
// box kills whatever is left in its cgroup: ids unique to this process keep
// two test runs on one machine (two checkouts' CI) from killing each other's
// boxes.
std::string unique_box_id(const char* tag) {
  static int counter = 0;
  return std::string(tag) + "-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
}

namespace fs = std::filesystem;
using boxd::local::BoxHandle;
using boxd::local::BoxSpec;
using boxd::local::ExecProcess;
using boxd::local::ExecSpec;
using boxd::local::Runtime;

struct TempDir {
  fs::path path;
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "boxd-runtime-test-XXXXXX").string();
    char* made = mkdtemp(pattern.data());
    REQUIRE(made != nullptr);
    path = made;
  }
  ~TempDir() {
    try {
      boxd::local::remove_tree(path);
    } catch (...) {
    }
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

struct Outcome {
  std::string out;
  std::string err;
  int exit_code = -1;
  int signal = -1;
};

// Relays `input` (then EOF unless keep_stdin) and collects both streams
// until the command has exited and its output is drained (20 s at most).
Outcome collect(ExecProcess& process, const std::string& input = {}, bool close_input = true) {
  if (!input.empty()) {
    REQUIRE(write(process.stdin_fd(), input.data(), input.size()) ==
            static_cast<ssize_t>(input.size()));
  }
  if (close_input) {
    process.close_stdin();
  }
  Outcome outcome;
  int fds[2] = {process.stdout_fd(), process.stderr_fd()};
  std::string* sinks[2] = {&outcome.out, &outcome.err};
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (fds[0] >= 0 || fds[1] >= 0) {
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    pollfd pfds[2] = {{fds[0], POLLIN, 0}, {fds[1], POLLIN, 0}};
    poll(pfds, 2, 200);
    for (int i = 0; i < 2; ++i) {
      if (fds[i] < 0) {
        continue;
      }
      char buffer[4096];
      ssize_t n = read(fds[i], buffer, sizeof buffer);
      if (n > 0) {
        sinks[i]->append(buffer, static_cast<std::size_t>(n));
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        fds[i] = -1;  // EOF (or EIO: the PTY slave is closed)
      }
    }
  }
  auto status = process.wait_exit();
  outcome.exit_code = status.exit_code;
  outcome.signal = status.signal;
  return outcome;
}

Outcome run(Runtime& runtime, const BoxSpec& box, const BoxHandle& handle,
            const std::string& command) {
  auto process = runtime.exec(box, handle, ExecSpec{command});
  return collect(*process);
}

// Reads the PTY until `needle` shows up (10 s at most).
std::string read_until(ExecProcess& process, const std::string& needle) {
  std::string seen;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (seen.find(needle) == std::string::npos) {
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    pollfd pfd{process.stdout_fd(), POLLIN, 0};
    poll(&pfd, 1, 200);
    char buffer[4096];
    ssize_t n = read(process.stdout_fd(), buffer, sizeof buffer);
    if (n > 0) {
      seen.append(buffer, static_cast<std::size_t>(n));
    }
  }
  return seen;
}

std::string read_host_file(const fs::path& path) {
  std::ifstream in(path);
  std::string text;
  std::getline(in, text);
  return text;
}

// Polls until `done` holds or `seconds` pass (machines here are shared and
// loaded: a wait is a deadline, never a fixed sleep).
template <typename Predicate>
bool eventually(Predicate done, double seconds = 10) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

// The counter file a suspend test's loop rewrites: true once it has a value
// and then a larger one (the loop is running).
bool counter_moves(const fs::path& counter) {
  std::string first;
  if (!eventually([&] { return !(first = read_host_file(counter)).empty(); })) {
    return false;
  }
  return eventually([&] { return read_host_file(counter) != first; });
}

// After a freeze: the value once two reads 200 ms apart agree (a write may
// still have been in flight when the freeze landed).
std::string settled(const fs::path& counter) {
  std::string last = read_host_file(counter);
  eventually(
      [&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        const std::string now = read_host_file(counter);
        const bool same = now == last;
        last = now;
        return same;
      },
      5);
  return last;
}

}  // namespace

TEST_CASE("process runtime: exec keeps stdout and stderr apart and returns the exit code") {
  TempDir tmp;
  auto runtime = boxd::local::make_runtime("process");
  CHECK(runtime->kind() == "process");
  BoxSpec box{"id1", "one", tmp.path / "boxes" / "id1", {{"GREETING", "hello"}}};
  runtime->create(box);
  auto handle = runtime->boot(box);
  CHECK(runtime->alive(box, handle));

  auto outcome = run(*runtime, box, handle, "echo out; echo err >&2; exit 3");
  CHECK(outcome.out == "out\n");
  CHECK(outcome.err == "err\n");
  CHECK(outcome.exit_code == 3);
  CHECK(outcome.signal == 0);

  outcome = run(*runtime, box, handle, "echo $GREETING; pwd");
  CHECK(outcome.out == "hello\n" + (box.dir / "home").string() + "\n");

  runtime->stop(box, handle);
  CHECK_FALSE(runtime->alive(box, handle));
  runtime->destroy(box);
  CHECK_FALSE(fs::exists(box.dir));
}

TEST_CASE("process runtime: a signal gives 128+N and the signal number") {
  TempDir tmp;
  auto runtime = boxd::local::make_runtime("process");
  BoxSpec box{"id1", "one", tmp.path / "id1", {}};
  runtime->create(box);
  auto handle = runtime->boot(box);
  auto outcome = run(*runtime, box, handle, "kill -TERM $$");
  CHECK(outcome.exit_code == 143);
  CHECK(outcome.signal == 15);

  // kill_group reaches the whole group, and exit_fd() becomes readable.
  auto process = runtime->exec(box, handle, ExecSpec{"sleep 60 & sleep 60"});
  REQUIRE(process->exit_fd() >= 0);
  pollfd pfd{process->exit_fd(), POLLIN, 0};
  CHECK(poll(&pfd, 1, 100) == 0);
  CHECK_FALSE(process->poll_exit().has_value());
  process->kill_group(SIGKILL);
  CHECK(poll(&pfd, 1, 5000) == 1);
  auto status = process->wait_exit();
  CHECK(status.exit_code == 137);
  CHECK(status.signal == 9);
}

TEST_CASE("process runtime: stdin is relayed and its EOF ends cat") {
  TempDir tmp;
  auto runtime = boxd::local::make_runtime("process");
  BoxSpec box{"id1", "one", tmp.path / "id1", {}};
  runtime->create(box);
  auto handle = runtime->boot(box);
  auto process = runtime->exec(box, handle, ExecSpec{"cat; echo done"});
  auto outcome = collect(*process, "line one\nline two\n");
  CHECK(outcome.out == "line one\nline two\ndone\n");
  CHECK(outcome.exit_code == 0);
}

TEST_CASE("process runtime: a PTY merges stderr, has the requested size and follows resize") {
  TempDir tmp;
  auto runtime = boxd::local::make_runtime("process");
  BoxSpec box{"id1", "one", tmp.path / "id1", {}};
  runtime->create(box);
  auto handle = runtime->boot(box);
  ExecSpec spec{"stty size; echo err >&2; echo $TERM; read line; stty size", true, 100, 30, ""};
  auto process = runtime->exec(box, handle, spec);
  CHECK(process->stderr_fd() == -1);
  CHECK(process->stdin_fd() == process->stdout_fd());
  std::string seen = read_until(*process, "xterm-256color");
  CHECK(seen.find("30 100") != std::string::npos);
  CHECK(seen.find("err") != std::string::npos);
  process->resize(120, 40);
  auto rest = collect(*process, "go\n", false);
  CHECK(rest.out.find("40 120") != std::string::npos);
  CHECK(rest.exit_code == 0);

  // In tty mode close_stdin() sends the terminal's EOF: cat ends.
  auto cat = runtime->exec(box, handle, ExecSpec{"cat", true, 80, 24, ""});
  auto outcome = collect(*cat);
  CHECK(outcome.exit_code == 0);
}

TEST_CASE("process runtime: suspend stops the box's commands and resume continues them") {
  TempDir tmp;
  auto runtime = boxd::local::make_runtime("process");
  BoxSpec box{"id1", "one", tmp.path / "id1", {}};
  runtime->create(box);
  auto handle = runtime->boot(box);
  auto loop = runtime->exec(
      box, handle,
      // Renamed into place: a freeze mid-write must not leave the file empty.
      ExecSpec{"i=0; while true; do i=$((i+1)); echo $i > .counter; mv -f .counter counter; "
               "sleep 0.02; done"});
  const auto counter = box.dir / "home" / "counter";
  REQUIRE(counter_moves(counter));
  runtime->suspend(box, handle);
  const auto frozen = settled(counter);
  // Nothing may happen while frozen: this wait is the test, not a guess.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK(read_host_file(counter) == frozen);
  runtime->resume(box, handle);
  // Under load the loop may need a while to run again.
  CHECK(eventually([&] { return read_host_file(counter) != frozen; }));
  runtime->stop(box, handle);
  CHECK(loop->wait_exit().signal == SIGKILL);
}

// ---------------------------------------------------------------------------
// Warm middles (runtime_support.hpp): without namespaces or cgroups to join
// they still fork ahead, wait, and start one command as our child.

namespace {

boxd::local::SpawnPlan shell_plan(const std::string& script) {
  boxd::local::SpawnPlan plan;
  plan.path = "/bin/sh";
  plan.argv = {"sh", "-c", script};
  plan.env = {"PATH=/usr/bin:/bin"};
  return plan;
}

bool process_gone(int pid) {
  return kill(pid, 0) < 0 && errno == ESRCH;
}

// A child that waits for a signal; the caller kills and reaps it.
pid_t paused_child() {
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    pause();
    _exit(0);
  }
  return child;
}

}  // namespace

TEST_CASE("process watch: a pidfd after the first check, the exit seen and reaped, pid reuse not") {
  boxd::local::ProcessWatch watch;
  const pid_t child = paused_child();
  auto stat = boxd::local::read_proc_stat(child);
  REQUIRE(stat);
  CHECK_FALSE(watch.alive(0, 0));
  CHECK_FALSE(watch.alive(child, stat->start_time + 1));  // another process with this pid
  CHECK(watch.watched() == 0);
  CHECK(watch.alive(child, stat->start_time));
  CHECK(watch.watched() == 1);  // from now on a poll of its pidfd
  CHECK(watch.alive(child, stat->start_time));
  CHECK_FALSE(watch.alive(child, stat->start_time + 1));  // a different start time: not it
  CHECK(watch.watched() == 0);
  CHECK(watch.alive(child, stat->start_time));
  CHECK(watch.watched() == 1);
  kill(child, SIGKILL);
  bool gone = false;
  for (int i = 0; i < 500 && !gone; ++i) {
    gone = !watch.alive(child, stat->start_time);
    if (!gone) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  CHECK(gone);
  CHECK(watch.watched() == 0);
  errno = 0;
  CHECK(waitpid(child, nullptr, WNOHANG) < 0);  // reaped by the watch
  CHECK(errno == ECHILD);
  CHECK_FALSE(watch.alive(child, stat->start_time));

  // forget() closes the pidfd of a process that still runs.
  const pid_t other = paused_child();
  auto other_stat = boxd::local::read_proc_stat(other);
  REQUIRE(other_stat);
  CHECK(watch.alive(other, other_stat->start_time));
  watch.forget(other);
  CHECK(watch.watched() == 0);
  kill(other, SIGKILL);
  waitpid(other, nullptr, 0);
  CHECK_FALSE(watch.alive(other, other_stat->start_time));
}

TEST_CASE("warm middle: starts one command as spawn_process would") {
  auto warm = boxd::local::fork_warm_middle(boxd::local::SpawnPlan{});
  REQUIRE(warm != nullptr);
  const int middle = warm->pid();
  auto process = boxd::local::spawn_process_warm(
      shell_plan("echo out; echo err >&2; read x; echo got $x; exit 3"), std::move(warm));
  REQUIRE(process != nullptr);
  const Outcome outcome = collect(*process, "abc\n");
  CHECK(outcome.out == "out\ngot abc\n");
  CHECK(outcome.err == "err\n");
  CHECK(outcome.exit_code == 3);
  CHECK(process_gone(middle));  // the middle exited once the command ran, and was reaped
}

TEST_CASE("warm middle: it holds none of the server's other fds while it waits") {
  int pipe_fds[2];
  REQUIRE(pipe2(pipe_fds, O_CLOEXEC | O_NONBLOCK) == 0);
  auto warm = boxd::local::fork_warm_middle(boxd::local::SpawnPlan{});
  close(pipe_fds[1]);
  // EOF only once nobody holds the write end: the middle closed its copy.
  pollfd pfd{pipe_fds[0], POLLIN, 0};
  CHECK(poll(&pfd, 1, 10000) == 1);
  char byte = 0;
  CHECK(read(pipe_fds[0], &byte, 1) == 0);
  close(pipe_fds[0]);
  CHECK(!process_gone(warm->pid()));  // still waiting for its command
}

TEST_CASE("warm middle: unused it is killed and reaped; a command too long for it starts nothing") {
  auto warm = boxd::local::fork_warm_middle(boxd::local::SpawnPlan{});
  const int pid = warm->pid();
  warm.reset();
  CHECK(process_gone(pid));

  warm = boxd::local::fork_warm_middle(boxd::local::SpawnPlan{});
  const int second = warm->pid();
  CHECK(boxd::local::spawn_process_warm(shell_plan(std::string(600 * 1024, 'x')),
                                        std::move(warm)) == nullptr);
  CHECK(process_gone(second));
}

namespace {

// Zombie children of this process (a command that was never reaped).
int zombie_children() {
  int zombies = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::ifstream stat(entry.path() / "stat");
    std::string line;
    if (!std::getline(stat, line) || line.rfind(')') == std::string::npos) {
      continue;
    }
    std::istringstream fields(line.substr(line.rfind(')') + 2));
    char state = 0;
    int parent = 0;
    fields >> state >> parent;
    zombies += (state == 'Z' && parent == getpid()) ? 1 : 0;
  }
  return zombies;
}

}  // namespace

TEST_CASE("warm middle: a command that cannot start is reported by its step and reaped") {
  // The command shares its middle's memory until execve: it reports its
  // failure before the middle reports its pid, and both must be read.
  const int zombies_before = zombie_children();
  auto warm = boxd::local::fork_warm_middle(boxd::local::SpawnPlan{});
  REQUIRE(warm != nullptr);
  const int middle = warm->pid();
  auto plan = shell_plan("true");
  plan.path = "/nonexistent/boxd-no-such-program";
  std::string message;
  try {
    boxd::local::spawn_process_warm(plan, std::move(warm));
  } catch (const boxd::Error& e) {
    message = e.what();
  }
  CHECK(message.find("exec failed while") != std::string::npos);
  CHECK(message.find("No such file or directory") != std::string::npos);
  CHECK(process_gone(middle));
  CHECK(zombie_children() == zombies_before);
}

TEST_CASE("spawning leaves the server non-dumpable, its command dumpable after execve") {
  // A command shares (or copies) the server's memory from its clone until
  // its execve, with the box user's ids for the last steps: a dumpable
  // server would let a box process of that uid ptrace it in the window.
  auto process = boxd::local::spawn_process(shell_plan(
      "exec python3 -c 'import ctypes; exit(0 if ctypes.CDLL(None).prctl(3, 0, 0, 0, 0) == 1 else "
      "1)'"));  // PR_GET_DUMPABLE
  REQUIRE(process != nullptr);
  CHECK(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0);
  CHECK(collect(*process, "").exit_code == 0);
  auto warm = boxd::local::fork_warm_middle(boxd::local::SpawnPlan{});
  CHECK(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0);
}

namespace {

// A /proc/sys value for the scope of a test, the old one restored after.
class SysctlOverride {
 public:
  SysctlOverride(std::string path, const std::string& value) : m_path(std::move(path)) {
    std::ifstream(m_path) >> m_old;
    set(value);
  }
  ~SysctlOverride() { set(m_old); }
  SysctlOverride(const SysctlOverride&) = delete;
  SysctlOverride& operator=(const SysctlOverride&) = delete;
  void set(const std::string& value) {
    std::ofstream out(m_path);
    out << value << "\n";
    out.flush();
    REQUIRE(out.good());
  }

 private:
  std::string m_path;
  std::string m_old;
};

std::string spawn_failure(const boxd::local::SpawnPlan& plan, bool warm) {
  try {
    auto process = warm ? boxd::local::spawn_process_warm(
                              plan, boxd::local::fork_warm_middle(boxd::local::SpawnPlan{}))
                        : boxd::local::spawn_process(plan);
    REQUIRE(process != nullptr);
    const Outcome outcome = collect(*process);
    return outcome.exit_code == 0 ? "" : "exit " + std::to_string(outcome.exit_code);
  } catch (const boxd::Error& e) {
    return e.what();
  }
}

}  // namespace

// It sets fs.suid_dumpable, which is the whole host's: in the test suite
// "host-global", which ctest runs alone (tests/CMakeLists.txt), since any
// exec running meanwhile (an e2e suite's) would be refused at 1.
TEST_CASE("a command taking another uid leaves the server non-dumpable, or is refused at 1" *
          doctest::test_suite("host-global")) {
  // The id change sets the dumpable flag of the memory the command shares
  // with the server to fs.suid_dumpable. With 1 the box user could read the
  // server's memory until the command's execve: such an exec is refused.
  if (geteuid() != 0) {
    MESSAGE("not root: cannot change fs.suid_dumpable or switch uids; skipped");
    return;
  }
  auto plan = shell_plan("exit 0");
  plan.uid = 65534;
  plan.gid = 65534;
  SysctlOverride sysctl("/proc/sys/fs/suid_dumpable", "2");
  CHECK(spawn_failure(plan, false).empty());
  CHECK(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0);
  CHECK(spawn_failure(plan, true).empty());
  sysctl.set("1");
  CHECK(spawn_failure(plan, false) == std::string(boxd::local::k_suid_dumpable_refusal));
  CHECK(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0);
  CHECK(spawn_failure(plan, true) == std::string(boxd::local::k_suid_dumpable_refusal));
  sysctl.set("0");
  CHECK(spawn_failure(plan, false).empty());
  CHECK(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0);
}

TEST_CASE("warm pool: made in the background, taken once, only for the init it was made for") {
  std::atomic<int> made{0};
  boxd::local::WarmPool pool([&](const BoxSpec&, const BoxHandle&) {
    ++made;
    return boxd::local::fork_warm_middle(boxd::local::SpawnPlan{});
  });
  const BoxSpec box{"warm-box", "warm", "/nonexistent", {}};
  const BoxHandle first{101, 1};
  pool.refill(box, first);
  REQUIRE(eventually([&] { return pool.ready() == 1; }));
  pool.refill(box, first);  // it has one: nothing more is made
  CHECK(pool.take(box.id, first) != nullptr);
  CHECK(pool.take(box.id, first) == nullptr);
  CHECK(made == 1);

  pool.refill(box, first);
  REQUIRE(eventually([&] { return pool.ready() == 1; }));
  CHECK(pool.take(box.id, BoxHandle{102, 1}) == nullptr);  // a rebooted box
  CHECK(pool.ready() == 0);

  pool.refill(box, first);
  REQUIRE(eventually([&] { return pool.ready() == 1; }));
  pool.discard(box.id);
  CHECK(pool.ready() == 0);
  CHECK(made == 3);
}

TEST_CASE("warm pool: made once the box has been quiet; a burst of refills asks for one") {
  std::atomic<int> made{0};
  boxd::local::WarmPool pool(
      [&](const BoxSpec&, const BoxHandle&) {
        ++made;
        return boxd::local::fork_warm_middle(boxd::local::SpawnPlan{});
      },
      64, std::chrono::milliseconds(3000));
  const BoxSpec box{"quiet-box", "quiet", "/nonexistent", {}};
  const BoxHandle handle{301, 1};
  for (int i = 0; i < 50; ++i) {
    pool.refill(box, handle);  // execs back to back: each asks again
  }
  // Time enough to fork a middle many times over, still within the quiet time.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK(made == 0);
  CHECK(pool.take(box.id, handle) == nullptr);
  REQUIRE(eventually([&] { return pool.ready() == 1; }));
  CHECK(made == 1);
  CHECK(pool.take(box.id, handle) != nullptr);
}

TEST_CASE("warm pool: a fork in progress blocks neither take nor refill; a burst asks for one") {
  // The maker blocks until the test opens the gate: while it does, take()
  // and refill() for the box (and another) must return, and discard() must
  // wait for it.
  std::mutex gate_mutex;
  std::condition_variable gate_cv;
  bool open = false;
  std::atomic<int> made{0};
  std::atomic<bool> in_maker{false};
  boxd::local::WarmPool pool([&](const BoxSpec&, const BoxHandle&) {
    ++made;
    in_maker = true;
    std::unique_lock lock(gate_mutex);
    gate_cv.wait(lock, [&] { return open; });
    return boxd::local::fork_warm_middle(boxd::local::SpawnPlan{});
  });
  auto open_gate = [&] {
    {
      std::lock_guard lock(gate_mutex);
      open = true;
    }
    gate_cv.notify_all();
  };
  // Opens the gate before the pool and the futures go, also when a REQUIRE
  // below fails (a future's destructor waits for its thread).
  std::future<bool> calls;
  std::future<void> discarded;
  const std::shared_ptr<void> opener(nullptr, [&](void*) { open_gate(); });
  const BoxSpec box{"burst-box", "burst", "/nonexistent", {}};
  const BoxHandle handle{201, 1};
  pool.refill(box, handle);
  REQUIRE(eventually([&] { return in_maker.load(); }));

  calls = std::async(std::launch::async, [&] {
    for (int i = 0; i < 100; ++i) {
      pool.refill(box, handle);  // a burst of execs into the box
      if (pool.take(box.id, handle) != nullptr) {
        return false;
      }
    }
    return true;
  });
  REQUIRE(calls.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
  CHECK(calls.get());

  discarded = std::async(std::launch::async, [&] { pool.discard(box.id); });
  CHECK(discarded.wait_for(std::chrono::milliseconds(200)) == std::future_status::timeout);
  open_gate();
  REQUIRE(discarded.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
  CHECK(pool.ready() == 0);  // made for before the discard: dropped
  CHECK(made == 1);          // the burst asked for no second one

  pool.refill(box, handle);  // after the discard, asking again works
  REQUIRE(eventually([&] { return pool.ready() == 1; }));
  CHECK(made == 2);
}

// ---------------------------------------------------------------------------
// Namespace runtime.

namespace {

// Why the namespace cases cannot run here, or "" when they can.
std::string namespace_unavailable() {
  if (geteuid() != 0) {
    return "not running as root";
  }
  const char* bin = std::getenv("BOXD_BIN");
  if (bin == nullptr || access(bin, X_OK) != 0) {
    return "BOXD_BIN does not name the boxd binary (ctest sets it)";
  }
  std::string why;
  if (!boxd::local::namespace_runtime_supported(&why)) {
    return why;
  }
  setenv("BOXD_SELF_EXE", bin, 1);
  return {};
}

// Stops every box it was told about when the test case ends, even when a
// REQUIRE failed half-way (no box init outlives the test).
struct BoxReaper {
  std::vector<std::pair<BoxSpec, const BoxHandle*>> boxes;
  Runtime* runtime = nullptr;
  ~BoxReaper() {
    for (const auto& [spec, handle] : boxes) {
      try {
        runtime->stop(spec, *handle);
      } catch (...) {
      }
    }
  }
};

bool namespace_cases_run() {
  static const std::string why = namespace_unavailable();
  if (!why.empty()) {
    MESSAGE("NOT RUN: namespace runtime cases skipped: " << why);
  }
  return why.empty();
}

}  // namespace

TEST_CASE("namespace runtime: boxes are isolated from each other and from the host") {
  if (!namespace_cases_run()) {
    return;
  }
  TempDir state;
  auto runtime = boxd::local::make_runtime("namespace");
  CHECK(runtime->kind() == "namespace");
  const std::string id_a = unique_box_id("ida");
  const std::string id_b = unique_box_id("idb");
  BoxSpec a{id_a, "alpha", state.path / "boxes" / id_a, {{"GREETING", "hello"}}};
  BoxSpec b{id_b, "beta", state.path / "boxes" / id_b, {}};
  runtime->create(a);
  runtime->create(b);
  auto ha = runtime->boot(a);
  auto hb = runtime->boot(b);
  BoxReaper reaper{{{a, &ha}, {b, &hb}}, runtime.get()};
  REQUIRE(runtime->alive(a, ha));
  REQUIRE(runtime->alive(b, hb));

  CHECK(run(*runtime, a, ha, "hostname").out == "alpha\n");
  CHECK(run(*runtime, b, hb, "hostname").out == "beta\n");
  CHECK(run(*runtime, a, ha, "id -u; id -un; pwd; echo $HOME $GREETING").out ==
        "1000\nboxd\n/home/boxd\n/home/boxd hello\n");

  const std::string marker = "boxd-marker-" + std::to_string(getpid());
  CHECK(run(*runtime, a, ha, "echo a > /tmp/" + marker + " && echo a > ~/" + marker).exit_code ==
        0);
  CHECK(run(*runtime, a, ha, "cat /tmp/" + marker + " ~/" + marker).out == "a\na\n");
  CHECK(run(*runtime, b, hb, "ls /tmp/" + marker + " ~/" + marker).exit_code != 0);
  CHECK_FALSE(fs::exists(fs::path("/tmp") / marker));
  CHECK_FALSE(fs::exists(fs::path("/home/boxd") / marker));
  CHECK(fs::exists(a.dir / "disk" / "tmp" / marker));

  // The server's state (every box's disk) is not visible inside a box.
  CHECK(run(*runtime, b, hb, "ls " + state.path.string() + "/boxes").out.empty());

  // B's process table shows none of A's processes.
  auto sleeper = runtime->exec(a, ha, ExecSpec{"exec sleep 4321"});
  CHECK(eventually(
      [&] { return run(*runtime, a, ha, "ps ax").out.find("sleep 4321") != std::string::npos; }));
  auto ps_b = run(*runtime, b, hb, "ps ax; ls /proc");
  CHECK(ps_b.out.find("sleep 4321") == std::string::npos);
  CHECK(ps_b.out.find("alpha") == std::string::npos);
  CHECK(run(*runtime, b, hb, "cat /proc/1/cmdline | tr '\\0' ' '").out.find("beta") !=
        std::string::npos);

  // Exit status and stderr inside a box.
  auto outcome = run(*runtime, a, ha, "echo out; echo err >&2; exit 7");
  CHECK(outcome.out == "out\n");
  CHECK(outcome.err == "err\n");
  CHECK(outcome.exit_code == 7);
  outcome = run(*runtime, a, ha, "kill -TERM $$");
  CHECK(outcome.exit_code == 143);
  CHECK(outcome.signal == 15);

  // A PTY inside the box.
  auto tty = runtime->exec(
      a, ha, ExecSpec{"stty size; echo err >&2; tty; stat -c %U $(tty)", true, 90, 33, ""});
  auto tty_out = collect(*tty);
  CHECK(tty_out.out.find("33 90") != std::string::npos);
  CHECK(tty_out.out.find("err") != std::string::npos);
  CHECK(tty_out.out.find("/dev/pts/0") != std::string::npos);  // the box's own devpts
  CHECK(tty_out.out.find("boxd") != std::string::npos);
  CHECK(tty_out.exit_code == 0);

  runtime->stop(a, ha);
  runtime->stop(b, hb);
  CHECK_FALSE(runtime->alive(a, ha));
  CHECK(sleeper->wait_exit().signal == SIGKILL);
  CHECK_THROWS(runtime->exec(a, ha, ExecSpec{"true"}));
  runtime->destroy(a);
  runtime->destroy(b);
  CHECK_FALSE(fs::exists(a.dir));
}

TEST_CASE("namespace runtime: suspend freezes, resume thaws, stop and boot keep the disk") {
  if (!namespace_cases_run()) {
    return;
  }
  TempDir state;
  auto runtime = boxd::local::make_runtime("namespace");
  const std::string id_c = unique_box_id("idc");
  BoxSpec box{id_c, "gamma", state.path / "boxes" / id_c, {}};
  runtime->create(box);
  auto handle = runtime->boot(box);
  BoxHandle again;
  BoxHandle copy_handle;
  const std::string id_d = unique_box_id("idd");
  BoxSpec copy{id_d, "delta", state.path / "boxes" / id_d, {}};
  BoxReaper reaper{{{box, &handle}, {box, &again}, {copy, &copy_handle}}, runtime.get()};

  auto loop = runtime->exec(box, handle,
                            // Renamed into place: a freeze mid-write must not leave the file empty.
                            ExecSpec{"i=0; while true; do i=$((i+1)); echo $i > /tmp/.counter; "
                                     "mv -f /tmp/.counter /tmp/counter; sleep 0.02; done"});
  const auto counter = box.dir / "disk" / "tmp" / "counter";
  REQUIRE(counter_moves(counter));
  runtime->suspend(box, handle);
  const auto frozen = settled(counter);
  // Nothing may happen while frozen: this wait is the test, not a guess.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK(read_host_file(counter) == frozen);
  CHECK_FALSE(loop->poll_exit().has_value());
  runtime->resume(box, handle);
  // Under load the loop may need a while to run again.
  CHECK(eventually([&] { return read_host_file(counter) != frozen; }));

  CHECK(run(*runtime, box, handle, "echo kept > ~/notes.txt").exit_code == 0);
  runtime->stop(box, handle);
  CHECK(loop->wait_exit().signal == SIGKILL);
  CHECK_FALSE(runtime->alive(box, handle));

  again = runtime->boot(box);
  CHECK(again.init_pid != handle.init_pid);
  CHECK(run(*runtime, box, again, "cat ~/notes.txt").out == "kept\n");

  // A fresh runtime (a restarted server) adopts the running box.
  auto adopted = boxd::local::make_runtime("namespace");
  CHECK(adopted->alive(box, again));
  CHECK(run(*adopted, box, again, "hostname").out == "gamma\n");

  // Fork: the copy has the files, and its own hostname.
  runtime->copy_disk(box, copy);
  copy_handle = runtime->boot(copy);
  CHECK(run(*runtime, copy, copy_handle, "cat ~/notes.txt; hostname; cat /etc/hostname").out ==
        "kept\ndelta\ndelta\n");
  CHECK(run(*runtime, copy, copy_handle, "echo changed > ~/notes.txt").exit_code == 0);
  CHECK(run(*runtime, box, again, "cat ~/notes.txt").out == "kept\n");

  auto log = boxd::read_file(box.dir / "console.log");
  REQUIRE(log.has_value());
  CHECK(log->find("boxd: booting box gamma") != std::string::npos);

  adopted->stop(box, again);
  runtime->stop(copy, copy_handle);
  runtime->destroy(box);
  runtime->destroy(copy);
  CHECK_FALSE(fs::exists(box.dir));
}

namespace {

// The box's cgroup directories on this host (every hierarchy with a
// boxd-local parent).
std::vector<fs::path> cgroup_dirs_of(const std::string& id) {
  std::vector<fs::path> dirs;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/sys/fs/cgroup", ec)) {
    if (fs::exists(entry.path() / "boxd-local" / id)) {
      dirs.push_back(entry.path() / "boxd-local" / id);
    }
  }
  return dirs;
}

}  // namespace

TEST_CASE("namespace runtime: limits are enforced, changed at once, gone with the box") {
  if (!namespace_cases_run()) {
    return;
  }
  TempDir state;
  auto runtime = boxd::local::make_runtime("namespace");
  const std::string id = unique_box_id("idl");
  BoxSpec box{id, "limited", state.path / "boxes" / id, {}};
  // The box's init is this build's boxd: under ASan it alone needs about
  // 500 MiB (shadow memory, redzones), so tests/sanitizers/run adds what the
  // instrumented init costs on top of each limit.
  const std::uint64_t extra = std::strtoull(std::getenv("BOXD_TEST_BOX_MEMORY_EXTRA_MB")
                                                ? std::getenv("BOXD_TEST_BOX_MEMORY_EXTRA_MB")
                                                : "0",
                                            nullptr, 10)
                              << 20;
  const std::uint64_t first_limit = (128ULL << 20) + extra;
  const std::uint64_t second_limit = (256ULL << 20) + extra;
  box.limits = {first_limit, 1, 64};
  runtime->create(box);
  auto handle = runtime->boot(box);
  BoxReaper reaper{{{box, &handle}}, runtime.get()};

  bool memory_on = false;
  bool pids_on = false;
  bool cpu_on = false;
  for (const auto& layer : runtime->isolation()) {
    memory_on = memory_on || (layer.name == "memory limit" && layer.enforced);
    pids_on = pids_on || (layer.name == "pids limit" && layer.enforced);
    cpu_on = cpu_on || (layer.name == "cpu limit" && layer.enforced);
  }
  if (!memory_on || !pids_on) {
    MESSAGE("NOT RUN: this host has no memory or pids cgroup controller");
    return;
  }
  auto enforced = runtime->enforced_limits(box, handle);
  CHECK(enforced.memory_bytes == first_limit);
  CHECK(enforced.pids == 64);
  CHECK(enforced.vcpu == doctest::Approx(cpu_on ? 1.0 : 0.0));
  CHECK_FALSE(cgroup_dirs_of(id).empty());

  // Past the memory limit the kernel kills the process, the box lives on.
  auto hog = run(
      *runtime, box, handle,
      "head -c " + std::to_string((first_limit >> 20) + 272) + "M /dev/zero | tail > /dev/null");
  CHECK(hog.exit_code == 137);
  CHECK(run(*runtime, box, handle, "echo alive").out == "alive\n");
  // At most 64 processes: the 100th sleep cannot start.
  auto forks =
      run(*runtime, box, handle,
          "n=0; for i in $(seq 100); do sleep 20 >/dev/null 2>&1 & n=$((n+1)); done 2>/dev/null; "
          "echo started $n; kill $(jobs -p) 2>/dev/null; true");
  CHECK(forks.out.find("started 100") == std::string::npos);

  box.limits = {second_limit, 2, 128};
  runtime->apply_limits(box, handle);
  enforced = runtime->enforced_limits(box, handle);
  CHECK(enforced.memory_bytes == second_limit);
  CHECK(enforced.pids == 128);
  CHECK(enforced.vcpu == doctest::Approx(cpu_on ? 2.0 : 0.0));

  runtime->stop(box, handle);
  CHECK(runtime->enforced_limits(box, handle).memory_bytes == 0);
  CHECK(cgroup_dirs_of(id).empty());
  runtime->destroy(box);
}
