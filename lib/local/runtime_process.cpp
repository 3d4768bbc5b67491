// The "process" runtime: no isolation, for machines where namespaces are not
// available (not root). A box is a plain directory; `dir/home` is the
// command's working directory and HOME; commands run as the server's user.
//
// There is no init process: boot() returns init_pid = 0, and the box counts
// as running from boot() until stop() (alive() is true while this runtime
// has it booted; for a box this runtime never saw, e.g. after a server
// restart, alive() is true while its directory exists, so the server can
// adopt it). Suspend/resume send SIGSTOP/SIGCONT to the process groups of the
// box's exec'd commands (tracked in memory); stop kills them.
#include "common/error.hpp"
#include "common/files.hpp"
#include "local/fault.hpp"
#include "local/runtime_support.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <unistd.h>
#include <csignal>
#include <map>
#include <mutex>

namespace boxd::local {
namespace {

std::string current_user_shell(std::string* user_name) {
  struct passwd entry {};
  struct passwd* result = nullptr;
  std::vector<char> buffer(16384);
  std::string shell = "/bin/sh";
  if (getpwuid_r(getuid(), &entry, buffer.data(), buffer.size(), &result) == 0 &&
      result != nullptr) {
    if (result->pw_shell != nullptr && result->pw_shell[0] == '/' &&
        access(result->pw_shell, X_OK) == 0) {
      shell = result->pw_shell;
    }
    if (user_name != nullptr && result->pw_name != nullptr) {
      *user_name = result->pw_name;
    }
  }
  return shell;
}

class ProcessRuntime final : public Runtime {
 public:
  std::string kind() const override { return "process"; }

  void create(const BoxSpec& box) override {
    ensure_dir(box.dir, 0755);
    ensure_dir(box.dir / "home", 0755);
  }

  void copy_disk(const BoxSpec& src, const BoxSpec& dst) override {
    ensure_dir(dst.dir, 0755);
    ensure_dir(dst.dir / "home", 0755);
    auto result = run_command(
        {"/bin/cp", "-a", "--", (src.dir / "home").string() + "/.", (dst.dir / "home").string()});
    if (result.status != 0) {
      throw Error(ErrorClass::Internal, "copying the disk failed: " + result.error_output);
    }
  }

  BoxHandle boot(const BoxSpec& box) override {
    ensure_dir(box.dir / "home", 0755);
    append_console(box.dir, "boxd: booting box " + box.name + " (process runtime, no isolation)");
    append_console(box.dir, "boxd: ready");
    std::lock_guard lock(m_mutex);
    m_booted[box.id] = true;
    return BoxHandle{};
  }

  bool alive(const BoxSpec& box, const BoxHandle& handle) override {
    if (handle.init_pid != 0) {
      return process_matches(handle.init_pid, handle.init_start_time);
    }
    std::lock_guard lock(m_mutex);
    auto it = m_booted.find(box.id);
    if (it != m_booted.end()) {
      return it->second;
    }
    std::error_code ec;
    return std::filesystem::is_directory(box.dir, ec);
  }

  void stop(const BoxSpec& box, const BoxHandle& /*handle*/) override {
    signal_groups(box.id, SIGCONT);
    signal_groups(box.id, SIGKILL);
    std::lock_guard lock(m_mutex);
    m_booted[box.id] = false;
    m_groups.erase(box.id);
    append_console(box.dir, "boxd: box stopped");
  }

  void suspend(const BoxSpec& box, const BoxHandle& /*handle*/) override {
    signal_groups(box.id, SIGSTOP);
  }

  void resume(const BoxSpec& box, const BoxHandle& /*handle*/) override {
    signal_groups(box.id, SIGCONT);
  }

  void destroy(const BoxSpec& box) override {
    signal_groups(box.id, SIGCONT);
    signal_groups(box.id, SIGKILL);
    {
      std::lock_guard lock(m_mutex);
      m_booted.erase(box.id);
      m_groups.erase(box.id);
    }
    remove_tree(box.dir);
  }

  std::unique_ptr<ExecProcess> exec(const BoxSpec& box, const BoxHandle& /*handle*/,
                                    const ExecSpec& spec) override {
    std::string user = "user";
    std::string shell = current_user_shell(&user);
    auto home = (box.dir / "home").string();
    SpawnPlan plan;
    if (spec.command.empty()) {
      plan.path = shell;
      plan.argv = {shell, "-l"};
    } else {
      plan.path = "/bin/sh";
      plan.argv = {"sh", "-c", spec.command};
    }
    const char* path = getenv("PATH");
    plan.env = {
        "PATH=" +
            std::string(path != nullptr && path[0] != '\0' ? path : "/usr/local/bin:/usr/bin:/bin"),
        "HOME=" + home, "USER=" + user, "LOGNAME=" + user, "SHELL=" + shell};
    for (const char* name : {"LANG", "LC_ALL"}) {
      if (const char* value = getenv(name)) {
        plan.env.push_back(std::string(name) + "=" + value);
      }
    }
    if (spec.tty) {
      plan.env.push_back("TERM=" + (spec.term.empty() ? std::string("xterm-256color") : spec.term));
    }
    for (const auto& [key, value] : box.env) {
      plan.env.push_back(key + "=" + value);
    }
    plan.cwd = home;
    plan.tty = spec.tty;
    plan.cols = spec.cols;
    plan.rows = spec.rows;
    auto process = spawn_process(plan);
    std::lock_guard lock(m_mutex);
    m_groups[box.id].push_back(spawned_pgid(*process));
    return process;
  }

  // Files: the box's root is its home tree, so "/" is <dir>/home; the
  // helper runs as the server's own user (there is no other here).
  std::unique_ptr<ExecProcess> run_self(const BoxSpec& /*box*/, const BoxHandle& /*handle*/,
                                        const std::vector<std::string>& args,
                                        int /*box_uid*/) override {
    SpawnPlan plan;
    plan.path = "boxd";
    plan.argv = {"boxd"};
    plan.argv.insert(plan.argv.end(), args.begin(), args.end());
    plan.env = {"PATH=/usr/bin:/bin", "LC_ALL=C"};
    plan.cwd = "/";
    plan.exec_fd = open_self_exe();
    try {
      auto process = spawn_process(plan);
      close(plan.exec_fd);
      return process;
    } catch (...) {
      close(plan.exec_fd);
      throw;
    }
  }

  std::string files_root(const BoxSpec& box) const override { return (box.dir / "home").string(); }
  std::string helper_path(const std::string& path_in_box) const override {
    // The box's root IS its home tree.
    if (path_in_box == "/home/boxd") {
      return "/";
    }
    if (path_in_box.starts_with("/home/boxd/")) {
      return path_in_box.substr(10);
    }
    return path_in_box;
  }
  std::string startup_warning() const override {
    return "runtime 'process': boxes are plain directories and processes, NOT isolated from "
           "this machine or from each other";
  }

  void mount_disk(const BoxSpec& /*box*/, const BoxHandle& /*handle*/,
                  const std::filesystem::path& /*source*/, const std::string& /*target*/,
                  bool /*read_only*/) override {
    fail(Fault::FailedPrecondition,
         "disks need the namespace runtime (this server runs the 'process' runtime)");
  }

  void unmount_disk(const BoxSpec& /*box*/, const BoxHandle& /*handle*/,
                    const std::filesystem::path& /*source*/,
                    const std::string& /*target*/) override {}

  // Nothing is isolated: every layer is off, with why.
  std::vector<IsolationLayer> isolation() const override {
    std::string why;
    namespace_runtime_supported(&why);
    const std::string because =
        "runtime 'process': boxes are plain processes of the server's user" +
        (why.empty() ? std::string(" (chosen with --runtime process)")
                     : " (the namespace runtime cannot work here: " + why + ")");
    std::vector<IsolationLayer> layers;
    for (const char* name :
         {"mount namespace", "pid namespace", "uts namespace", "ipc namespace", "network namespace",
          "user namespace", "memory limit", "cpu limit", "pids limit"}) {
      layers.push_back({name, false, because});
    }
    layers.push_back({"freezer", false, because + "; suspend sends SIGSTOP to their commands"});
    return layers;
  }

 private:
  void signal_groups(const std::string& id, int sig) {
    std::lock_guard lock(m_mutex);
    auto it = m_groups.find(id);
    if (it == m_groups.end()) {
      return;
    }
    std::erase_if(it->second, [sig](int pgid) {
      return pgid <= 0 || (kill(-pgid, sig) < 0 && errno == ESRCH);
    });
  }

  std::mutex m_mutex;
  std::map<std::string, bool> m_booted;
  std::map<std::string, std::vector<int>> m_groups;
};

}  // namespace

std::unique_ptr<Runtime> make_process_runtime() {
  return std::make_unique<ProcessRuntime>();
}

}  // namespace boxd::local
