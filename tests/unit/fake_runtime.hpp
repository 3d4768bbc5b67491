// An in-memory Runtime for the domain layer's unit tests: no process, no
// namespace, no file but the copy target directory. Boxes are entries in maps; "processes" are
// counters. Tests can kill a box's init behind the domain's back, make the next boot or disk mount
// fail, and read what was done (boots, stops, copies, frozen boxes, mounted disks, the file
// helpers started); a test can mark a box busy (an exec in flight) or script the file helper.
#pragma once

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "local/fault.hpp"
#include "local/runtime.hpp"

namespace boxd::local::test {

// An exec'd command that has already exited with 0 and has no fds.
class FakeExecProcess final : public ExecProcess {
 public:
  int stdin_fd() const override { return -1; }
  int stdout_fd() const override { return -1; }
  int stderr_fd() const override { return -1; }
  void close_stdin() override {}
  void resize(unsigned /*cols*/, unsigned /*rows*/) override {}
  void kill_group(int /*signal*/) override {}
  std::optional<ExitStatus> poll_exit() override { return ExitStatus{}; }
  ExitStatus wait_exit() override { return ExitStatus{}; }
  int exit_fd() const override { return -1; }
};

class FakeRuntime final : public Runtime {
 public:
  std::string kind() const override { return "fake"; }

  void create(const BoxSpec& box) override { disks[box.id] = "fresh disk of " + box.name; }
  // The only file this runtime makes: dst.dir, which callers move into place.
  void copy_disk(const BoxSpec& src, const BoxSpec& dst) override {
    copies_while_frozen.push_back(frozen.count(src.id) != 0);
    if (!dst.dir.empty()) {
      std::filesystem::create_directories(dst.dir);
      if (copy_bytes >
          0) {  // what the copy takes on the host (random: no file system compresses it)
        std::string data(copy_bytes, '\0');
        std::mt19937_64 random(copy_bytes);
        for (char& c : data) {
          c = static_cast<char>(random());
        }
        std::ofstream(dst.dir / "data", std::ios::binary) << data;
      }
    }
    disks[dst.id] = disks[src.id];
  }
  BoxHandle boot(const BoxSpec& box) override {
    if (fail_next_boot) {
      fail_next_boot = false;
      throw std::runtime_error("box " + box.name + " failed to boot: told to");
    }
    ++boots;
    BoxHandle handle{++m_next_pid, 1};
    running[box.id] = handle.init_pid;
    return handle;
  }
  bool alive(const BoxSpec& box, const BoxHandle& handle) override {
    const auto it = running.find(box.id);
    return handle.init_pid != 0 && it != running.end() && it->second == handle.init_pid;
  }
  // Thread-safe, unlike the rest: server shutdown stops boxes in parallel.
  void stop(const BoxSpec& box, const BoxHandle& handle) override {
    if (on_stop) {
      on_stop(box);
    }
    std::lock_guard lock(m_stop_mutex);
    ++stops;
    stopped_inits.push_back(handle.init_pid);
    running.erase(box.id);
    frozen.erase(box.id);
  }
  void suspend(const BoxSpec& box, const BoxHandle& /*handle*/) override { frozen.insert(box.id); }
  void resume(const BoxSpec& box, const BoxHandle& /*handle*/) override { frozen.erase(box.id); }
  void destroy(const BoxSpec& box) override { disks.erase(box.id); }
  std::unique_ptr<ExecProcess> exec(const BoxSpec& box, const BoxHandle& handle,
                                    const ExecSpec& /*spec*/) override {
    if (!alive(box, handle)) {
      fail_box_state(box.name, BoxStatus::Stopped);
    }
    if (frozen.count(box.id) != 0) {
      fail_box_state(box.name, BoxStatus::Suspended);
    }
    return std::make_unique<FakeExecProcess>();
  }
  // The file helper: `self_process` when a test set it (a scripted
  // helper), else an exec'd command that has already exited.
  std::unique_ptr<ExecProcess> run_self(const BoxSpec& box, const BoxHandle& handle,
                                        const std::vector<std::string>& args,
                                        int /*box_uid*/) override {
    auto process = exec(box, handle, {});
    self_runs.push_back(args);
    return self_process ? self_process(args) : std::move(process);
  }
  std::string files_root(const BoxSpec& /*box*/) const override { return "/"; }
  std::string helper_path(const std::string& path_in_box) const override { return path_in_box; }
  void mount_disk(const BoxSpec& box, const BoxHandle& /*handle*/,
                  const std::filesystem::path& source, const std::string& target,
                  bool /*read_only*/) override {
    if (fail_next_mount) {
      fail_next_mount = false;
      fail(Fault::FailedPrecondition, "cannot mount " + target + ": told to");
    }
    mounts[box.id + ":" + target] = source.string();
  }
  void unmount_disk(const BoxSpec& box, const BoxHandle& /*handle*/,
                    const std::filesystem::path& /*source*/, const std::string& target) override {
    mounts.erase(box.id + ":" + target);
  }

  bool exec_in_flight(const BoxSpec& box, const BoxHandle& /*handle*/) const override {
    return busy.count(box.id) != 0;
  }

  // The box's init dies (OOM, kill -9) without the domain knowing.
  void kill_init(const std::string& box_id) { running.erase(box_id); }

  std::map<std::string, std::string> disks;   // box id -> its "disk"
  std::map<std::string, int> running;         // box id -> init pid
  std::set<std::string> frozen;               // box ids
  std::map<std::string, std::string> mounts;  // "box id:target" -> source
  std::size_t copy_bytes = 0;  // copy_disk() writes a file of this many bytes into dst.dir
  std::vector<bool> copies_while_frozen;            // one per copy_disk: was the source frozen?
  std::set<std::string> busy;                       // box ids with an exec in flight
  std::vector<std::vector<std::string>> self_runs;  // the args of every run_self
  std::function<std::unique_ptr<ExecProcess>(const std::vector<std::string>& args)> self_process;
  std::function<void(const BoxSpec&)> on_stop;  // called first by stop, outside its lock
  int boots = 0;
  int stops = 0;
  std::vector<int> stopped_inits;  // the handle's init pid of every stop, in order
  bool fail_next_boot = false;
  bool fail_next_mount = false;

 private:
  int m_next_pid = 100;
  std::mutex m_stop_mutex;
};

}  // namespace boxd::local::test
