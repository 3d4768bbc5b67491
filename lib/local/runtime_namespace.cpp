// The "namespace" runtime: each box is an init process in its own mount,
// PID, UTS and IPC namespaces with an overlay root (see box_init.cpp for how
// the root is built).
//
// Disk layout of a box (BoxSpec::dir):
//   disk/upper/<path>  overlay upper layers (writes to /etc, /usr, /var...)
//   disk/work/<path>   overlay work dirs (scratch space of overlayfs)
//   disk/home          /home (with boxd/ owned by 1000:1000)
//   disk/root, disk/tmp  /root and /tmp
//   rootfs/            mount point of the box's root (empty on the host)
//   console.log        the init's output, appended at every boot
// create() seeds upper/etc with passwd and group (user boxd, uid 1000),
// hostname, hosts and, when the host has /etc/sudoers.d, a NOPASSWD entry.
//   idmap              the box's host id range (box_idmap.hpp)
//   disk/.idbase       the range the disk's files are owned by
//
// User namespace: each box has an id range of its own (box_idmap.hpp); the
// init builds the root as host root and then joins the box's user namespace
// (box_init.cpp). boot() shifts the disk to the box's range first (a fork,
// a snapshot or an older disk comes with another one). exec() joins the
// box's user namespace last, after the namespaces the host's user namespace
// owns, so a command is box uid 1000 = host uid base+1000 with no
// capabilities outside the box.
//
// The state the server must not expose to boxes: when the box dir is
// <state>/boxes/<id>, the whole <state> is hidden from the box; otherwise the
// box dir's parent (the directory of all boxes) is.
//
// boot(): a raw clone() with the four CLONE_NEW* flags (fork semantics), in
// which the child points fds 0/1/2 at /dev/null and console.log and fd 3 at
// a pipe, and re-executes boxd ($BOXD_SELF_EXE, else
// /proc/self/exe) as `boxd local __box-init`. boot() returns once the init
// writes "ready" (or fails with what the init reported) and the box's
// network is set up (CLONE_NEWNET too when the server has a bridge:
// box_network.hpp; attached from a second thread while the init builds its
// root, detached in stop() and destroy()).
//
// Identity: a BoxHandle is (host pid, start time from /proc/<pid>/stat), so a
// restarted server can adopt a running box and a recycled pid is never
// mistaken for it. exec() setns()es into /proc/<pid>/ns/* (runtime_spawn.cpp).
//
// Cgroups (box_cgroup.hpp): a cgroup per box in every hierarchy used for the
// memory, cpu and pids limits and the freezer. boot() applies box.limits
// before the init starts; apply_limits() changes them on a running box. The
// server moves the init into them while the init builds the box's root
// (before boot() returns, so before anything of the box runs: only the
// init's own set-up runs outside them); every exec'd command joins them
// explicitly (it is the server's child, not the init's). stop() thaws first:
// a frozen process cannot die.
//
// isolation(): every part of the runtime adds its layers (the namespaces
// made at boot, the cgroups); new parts append theirs in isolation().
#include "common/error.hpp"
#include "common/fd.hpp"
#include "common/files.hpp"
#include "common/log.hpp"
#include "local/box_cgroup.hpp"
#include "local/box_file.hpp"
#include "local/box_idmap.hpp"
#include "local/box_mounts.hpp"
#include "local/box_network.hpp"
#include "local/disk_images.hpp"
#include "local/fault.hpp"
#include "local/host_masks.hpp"
#include "local/mask_index.hpp"
#include "local/runtime_support.hpp"
#include "local/spare_images.hpp"
#include "local/warm_pool.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <future>
#include <mutex>
#include <sstream>
#include <thread>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

namespace boxd::local {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr int k_box_uid = 1000;
constexpr int k_box_gid = 1000;
constexpr auto k_boot_timeout = 30s;
constexpr const char* k_box_sudoers =
    "Defaults\tenv_reset\n"
    "Defaults\tmail_badpass\n"
    "Defaults\tsecure_path=\"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\"\n"
    "root\tALL=(ALL:ALL) ALL\n"
    "%sudo\tALL=(ALL:ALL) ALL\n"
    "@includedir /etc/sudoers.d\n";
constexpr const char* k_box_path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

bool env_is(const char* name, const char* value) {
  const char* set = std::getenv(name);
  return set != nullptr && std::string(set) == value;
}

void sleep_for(std::chrono::milliseconds duration) {
  std::this_thread::sleep_for(duration);
}

// ----------------------------------------------------------------------------
std::string box_shell() {
  return access("/bin/bash", X_OK) == 0 ? "/bin/bash" : "/bin/sh";
}

// The host's passwd/group without entries named `name` or with id 1000, plus ours.
std::string with_box_entry(const std::string& host_text, const std::string& entry) {
  std::istringstream in(host_text);
  std::string out;
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> fields;
    std::stringstream split(line);
    std::string field;
    while (std::getline(split, field, ':')) {
      fields.push_back(field);
    }
    if (!fields.empty() &&
        (fields[0] == "boxd" || (fields.size() > 2 && fields[2] == std::to_string(k_box_uid)))) {
      continue;
    }
    out += line + "\n";
  }
  return out + entry + "\n";
}

// One shadow-style line per entry of a passwd/group text: NAME + tail.
std::string shadow_for(const std::string& entries, const std::string& tail) {
  std::istringstream in(entries);
  std::string out;
  std::string line;
  while (std::getline(in, line)) {
    const auto colon = line.find(':');
    if (colon != std::string::npos && colon > 0) {
      out += line.substr(0, colon) + tail + "\n";
    }
  }
  return out;
}

// The disk's copy of a host directory, with its mode and its owner as
// seen from the box (shifted to the range at `base`, box_idmap.hpp).
void mirror_host_dir(const fs::path& path, const fs::path& host, std::uint32_t base) {
  ensure_dir(path, 0755);
  struct stat st {};
  if (stat(host.c_str(), &st) == 0) {
    chmod(path.c_str(), st.st_mode & 07777);
    const auto shift = [base](std::uint32_t id) { return id < k_box_id_count ? base + id : id; };
    if (chown(path.c_str(), shift(st.st_uid), shift(st.st_gid)) < 0) {
      throw_errno("chown " + path.string());
    }
  }
}

// Written as box root's: the base of the range the disk's files are owned by.
void add_owned(DurableFiles& files, std::uint32_t base, const fs::path& path,
               const std::string& text, unsigned mode) {
  files.add(path, text, mode, static_cast<int>(base), static_cast<int>(base));
}

fs::path hidden_dir_of(const BoxSpec& box) {
  fs::path dir = fs::weakly_canonical(box.dir);
  fs::path parent = dir.parent_path();
  if (parent.filename() == "boxes" && parent.parent_path() != parent.root_path()) {
    return parent.parent_path();
  }
  return parent;
}

void add_identity(DurableFiles& files, std::uint32_t base, const BoxSpec& box) {
  const fs::path etc = box.dir / "disk" / "upper" / "etc";
  add_owned(files, base, etc / "hostname", box.name + "\n", 0644);
  add_owned(files, base, etc / "hosts",
            "127.0.0.1\tlocalhost\n127.0.1.1\t" + box.name +
                "\n::1\tlocalhost ip6-localhost ip6-loopback\n",
            0644);
}

// The box user's shell, from the box's /etc/passwd as the box sees it. The
// file is the box's: box root may have made it a symlink to a host file, a
// FIFO or /dev/zero, so it is opened beneath the box's root, never
// following a symlink or waiting, and read up to 1 MiB (open_box_file).
std::string login_shell_of_box(const BoxHandle& handle) {
  constexpr std::size_t k_max_passwd = 1 << 20;
  std::istringstream in(
      read_box_file(handle.init_pid, handle.init_start_time, "etc/passwd", k_max_passwd)
          .value_or(""));
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("boxd:")) {
      auto colon = line.rfind(':');
      std::string shell = line.substr(colon + 1);
      if (!shell.empty()) {
        return shell;
      }
    }
  }
  return "/bin/sh";
}

// The namespaces every box gets at boot (CLONE_NEW* in boot()).
std::vector<IsolationLayer> namespace_layers() {
  return {
      {"mount namespace", true,
       "own mount table: overlay root over the host's directories (read-only), the box's disk "
       "for /home, /root and /tmp, the server's state hidden"},
      {"pid namespace", true, "the box sees only its own processes"},
      {"uts namespace", true, "hostname = box name"},
      {"ipc namespace", true, "own System V IPC and POSIX message queues"},
  };
}

constexpr std::uint64_t k_default_box_disk_bytes = 10ULL << 30;
// In a box's dir: its disk is a copy whose identity files (hostname,
// hosts) its next boot writes.
constexpr const char* k_identity_pending = "identity-pending";

class NamespaceRuntime final : public Runtime {
 public:
  explicit NamespaceRuntime(const RuntimeOptions& options)
      : m_network(options.state_dir, options.bridge_subnet),
        m_masks_hidden(fs::weakly_canonical(options.state_dir)) {
    // BOXD_LOCAL_MASK_INDEX=0: every boot walks the host's directories (the
    // benchmarks' baseline for the index).
    if (!env_is("BOXD_LOCAL_MASK_INDEX", "0")) {
      m_masks = std::make_unique<MaskIndex>(m_masks_hidden);
    }
    // A box's disk is an ext4 image of its size where loop devices work
    // (the state dir's file system is everyone's: a box must not fill it).
    // BOXD_LOCAL_BOX_DISK_IMAGES=0: plain directories (the benchmarks'
    // baseline). Unit tests (no state dir) keep directories.
    if (options.state_dir.empty()) {
      m_disk_problem = "no state directory";
    } else if (env_is("BOXD_LOCAL_BOX_DISK_IMAGES", "0")) {
      m_disk_problem = "BOXD_LOCAL_BOX_DISK_IMAGES=0";
    } else {
      m_disk_problem = DiskImages::probe(options.state_dir);
    }
    if (m_disk_problem.empty() && !env_is("BOXD_LOCAL_SPARE_DISKS", "0")) {
      m_spares = std::make_unique<SpareImages>(options.state_dir / "boxes" / ".spare",
                                               k_default_box_disk_bytes, 2);
    }
  }

  std::string kind() const override { return "namespace"; }

  // A new disk is owned by the box's id range from the start (nothing to
  // shift at its first boot), and its files are made durable as one batch:
  // on an image by one syncfs (one journal commit; an fsync each took 4 ms
  // more through the loop device), else by an fsync each.
  void create(const BoxSpec& box) override {
    const fs::path disk = box.dir / "disk";
    ensure_dir(box.dir, 0700);
    DurableFiles host_files;  // the box dir's, on the state dir's file system
    const std::uint32_t base = box_id_base(box.dir, &host_files);
    DurableFiles files;
    if (DiskImages::has_image(disk)) {
      DiskImages::ensure_mounted(disk);
      ensure_disk_ids(disk, base);  // a disk left half-made: what it has joins the range
    } else if (fs::exists(disk)) {
      ensure_disk_ids(disk, base);
    } else if (m_disk_problem.empty()) {
      const std::uint64_t size = box.disk_bytes != 0 ? box.disk_bytes : k_default_box_disk_bytes;
      if (m_spares && size == m_spares->size() && m_spares->take(DiskImages::image_of(disk))) {
        DiskImages::adopt(disk, base, base);
      } else {
        DiskImages::create(disk, size, base, base);
      }
    }
    const auto own = [base](const fs::path& path, std::uint32_t uid, std::uint32_t gid) {
      if (chown(path.c_str(), base + uid, base + gid) < 0) {
        throw_errno("chown " + path.string());
      }
    };
    for (const auto& [part, mode] : {std::pair<const char*, unsigned>{"", 0755},
                                     {"upper", 0755},
                                     {"work", 0700},
                                     {"home", 0755},
                                     {"root", 0700},
                                     {"tmp", 01777}}) {
      ensure_dir(disk / part, mode);
      own(disk / part, 0, 0);
    }
    ensure_dir(disk / "home" / "boxd", 0755);
    own(disk / "home" / "boxd", k_box_uid, k_box_gid);
    const fs::path etc = disk / "upper" / "etc";
    mirror_host_dir(etc, "/etc", base);
    const std::string passwd =
        with_box_entry(read_text("/etc/passwd"), "boxd:x:1000:1000::/home/boxd:" + box_shell());
    const std::string group = with_box_entry(read_text("/etc/group"), "boxd:x:1000:");
    add_owned(files, base, etc / "passwd", passwd, 0644);
    add_owned(files, base, etc / "group", group, 0644);
    add_identity(files, base, box);
    // The host's shadow files are masked in the box (not readable by
    // others); PAM (sudo's account check) needs an entry per user: no
    // password for anyone, nothing expires.
    add_owned(files, base, etc / "shadow", shadow_for(passwd, ":*:20000:0:99999:7:::"), 0640);
    add_owned(files, base, etc / "gshadow", shadow_for(group, ":*::"), 0640);
    if (fs::is_directory("/etc/sudoers.d")) {
      mirror_host_dir(etc / "sudoers.d", "/etc/sudoers.d", base);
      add_owned(files, base, etc / "sudoers.d" / "boxd", "boxd ALL=(ALL) NOPASSWD:ALL\n", 0440);
      // The host's own /etc/sudoers is not readable by others, so the box
      // never sees it (box_init.cpp masks it): the box gets Debian's default.
      add_owned(files, base, etc / "sudoers", k_box_sudoers, 0440);
    }
    if (disk_id_base(disk) != base) {
      files.add(disk / ".idbase", std::to_string(base) + "\n", 0600);
    }
    if (DiskImages::is_mount_point(disk)) {
      files.commit_unsynced();
      DiskImages::sync(disk);
    } else {
      files.commit();
    }
    host_files.commit();
  }

  void copy_disk(const BoxSpec& src, const BoxSpec& dst) override {
    const fs::path from = src.dir / "disk";
    const fs::path to = dst.dir / "disk";
    if (DiskImages::has_image(from)) {
      copy_disk_image(from, to, dst);
      return;
    }
    if (!fs::is_directory(from)) {
      throw Error(ErrorClass::Internal, "box " + src.name + " has no disk to copy");
    }
    ensure_dir(dst.dir, 0700);
    // A box's copy of a disk from before disk images (a plain directory)
    // becomes an image of the box's size where images work: a fork must
    // not keep a disk without a limit. A snapshot's copy (dst.disk_bytes
    // 0) stays as it is; a box made from it gets an image then.
    const bool into_image = m_disk_problem.empty() && dst.disk_bytes != 0 && !fs::exists(to);
    if (into_image) {
      const std::uint32_t base = disk_id_base(from);
      DiskImages::create(to, dst.disk_bytes, base, base);
    }
    try {
      copy_disk_tree(src, from, to, dst);
    } catch (...) {
      if (into_image) {
        DiskImages::remove(to);
      }
      throw;
    }
    if (into_image) {
      DiskImages::unmount(to);
    }
  }

  // copy_disk() of a plain directory into `to` (a directory or a mounted
  // image): cp -a of each part, the source's id base, dst's identity.
  void copy_disk_tree(const BoxSpec& src, const fs::path& from, const fs::path& to,
                      const BoxSpec& dst) {
    ensure_dir(to, 0755);
    for (const char* part : {"upper", "home", "root", "tmp"}) {
      remove_tree(to / part);
      if (!fs::exists(from / part)) {
        continue;
      }
      auto result =
          run_command({"/bin/cp", "-a", "--", (from / part).string(), (to / part).string()});
      if (result.status != 0) {
        throw Error(ErrorClass::Internal,
                    "copying the disk of " + src.name + " failed: " + result.error_output);
      }
    }
    remove_tree(to / "work");
    ensure_dir(to / "work", 0700);
    set_disk_id_base(to, disk_id_base(from));
    if (fs::is_directory(to / "upper" / "etc")) {
      DurableFiles files;
      add_identity(files, disk_id_base(to), dst);
      files.commit();
    }
  }

  BoxHandle boot(const BoxSpec& box) override {
    try {
      BoxHandle handle = boot_with_disk(box);
      // Off the boot's path: the switch waits for the loop device's queue
      // and an fsync of the image (~15 ms). Harmless if the box is gone
      // by then (a no-op, or another image's device switched a bit early).
      std::thread([disk = box.dir / "disk"] { DiskImages::direct_io(disk); }).detach();
      return handle;
    } catch (...) {
      release(box);  // a failed box holds no loop device
      throw;
    }
  }

  void release(const BoxSpec& box) override {
    try {
      DiskImages::unmount(box.dir / "disk");
    } catch (const std::exception& e) {
      logging::warn(std::string("could not unmount the box's disk: ") + e.what(),
                    {{"box", box.name}});
    }
  }

  BoxHandle boot_with_disk(const BoxSpec& box) {
    const BootPaths paths = prepare_boot_dirs(box);
    std::vector<std::string> argv_strings = {"boxd",
                                             "local",
                                             "__box-init",
                                             box.name,
                                             paths.box_dir,
                                             paths.hidden,
                                             std::to_string(paths.id_base)};
    if (m_masks && paths.hidden == m_masks_hidden.native()) {
      const fs::path list = fs::path(paths.box_dir) / "masks";
      write_file_atomic(list, encode_host_masks(m_masks->snapshot()), 0600, Sync::None);
      argv_strings.push_back(list.string());
    }
    std::vector<std::string> env_strings = {std::string("PATH=") + k_box_path, "HOME=/root"};
    auto argv = c_strings(argv_strings);
    auto envp = c_strings(env_strings);
    const char* override_exe = getenv("BOXD_SELF_EXE");
    const std::string exe =
        override_exe != nullptr && override_exe[0] != '\0' ? override_exe : "/proc/self/exe";
    InitFds fds = open_init_fds(box, paths.id_base);
    const InitChildArgs args{
        exe.c_str(),           argv.data(),          envp.data(),      fds.console.get(),
        fds.null.get(),        fds.ready.write_fd(), fds.userns.get(), fds.cgroup.self.data(),
        fds.cgroup.self.size()};
    long pid = syscall(SYS_clone,
                       CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC |
                           m_network.clone_flags() | SIGCHLD,
                       0, 0, 0, 0);
    if (pid == 0) {
      run_init_child(args);
    }
    const int clone_errno = errno;
    fds.ready.write_end().reset();
    if (pid < 0) {
      fds.close();
      m_cgroup.remove(box.id);
      errno = clone_errno;
      throw_errno("creating the namespaces of " + box.name);
    }
    // The network is set up from another thread meanwhile (the init's
    // network namespace exists from clone() on).
    const auto init = static_cast<pid_t>(pid);
    const auto stat = read_proc_stat(init);
    std::future<void> network;
    if (stat) {
      network = std::async(std::launch::async, [this, &box, init, stat] {
        m_network.attach(box, init, stat->start_time);
      });
    }
    const int moved = join_cgroups(fds, init);
    const std::string reply = moved == 0 ? read_ready_line(fds.ready.read_fd()) : "";
    fds.close();
    std::exception_ptr network_error;
    if (network.valid()) {
      try {
        network.get();
      } catch (...) {
        network_error = std::current_exception();
      }
    }
    if (!stat || moved != 0 || network_error || reply != "ready\n") {
      abandon_boot(box, init, stat.has_value());
      throw_boot_failure(box, stat.has_value(), moved, network_error, reply);
    }
    m_network.publish(box);
    const BoxHandle handle{static_cast<int>(pid), stat->start_time};
    m_warm.refill(box, handle);  // the first exec need not join the cgroups
    return handle;
  }

  bool alive(const BoxSpec& /*box*/, const BoxHandle& handle) override {
    // A pidfd per init after the first check: `box list` of 1,000 boxes
    // asks this twice per box (liveness, enforced limits).
    return m_inits.alive(handle.init_pid, handle.init_start_time);
  }

  void stop(const BoxSpec& box, const BoxHandle& handle) override {
    auto stat = read_proc_stat(handle.init_pid);
    bool ours = stat && stat->start_time == handle.init_start_time;
    if (ours) {
      m_cgroup.thaw(box.id, handle.init_pid);
    }
    m_warm.discard(box.id);  // before its cgroups go
    if (ours) {
      kill(handle.init_pid, SIGCONT);
      kill(handle.init_pid, SIGKILL);
      const auto deadline = std::chrono::steady_clock::now() + 10s;
      while (std::chrono::steady_clock::now() < deadline) {
        waitpid(handle.init_pid, nullptr, WNOHANG);
        reap_orphans();
        auto now = read_proc_stat(handle.init_pid);
        if (!now || now->start_time != handle.init_start_time || now->state == 'Z' ||
            now->state == 'X') {
          break;
        }
        sleep_for(5ms);
      }
      waitpid(handle.init_pid, nullptr, WNOHANG);
    }
    m_cgroup.remove(box.id);
    reap_orphans();
    m_network.detach(box, handle.init_pid);
    m_inits.forget(handle.init_pid);
    // A stopped box's disk image is not mounted (boot mounts it again), so
    // the loop devices in use are those of the running boxes.
    release(box);
    if (ours) {
      append_console(box.dir, "boxd: box stopped");
    }
  }

  void suspend(const BoxSpec& box, const BoxHandle& handle) override {
    require_alive(box, handle);
    m_cgroup.freeze(box.id, handle.init_pid);
  }

  void resume(const BoxSpec& box, const BoxHandle& handle) override {
    m_cgroup.thaw(box.id, handle.init_pid);
  }

  void destroy(const BoxSpec& box) override {
    m_warm.discard(box.id);
    m_cgroup.remove(box.id);
    m_network.detach(box, 0);
    release_box_ids(box.dir);
    DiskImages::remove(box.dir / "disk");
    remove_tree(box.dir);
  }

  std::unique_ptr<ExecProcess> exec(const BoxSpec& box, const BoxHandle& handle,
                                    const ExecSpec& spec) override {
    SpawnPlan plan;
    const std::string shell = login_shell_of_box(handle);
    if (spec.command.empty()) {
      plan.path = shell;
      plan.argv = {shell, "-l"};
    } else {
      plan.path = "/bin/sh";
      plan.argv = {"sh", "-c", spec.command};
    }
    plan.env = {"HOME=/home/boxd", "USER=boxd", "LOGNAME=boxd", "SHELL=" + shell,
                std::string("PATH=") + k_box_path};
    if (spec.tty) {
      plan.env.push_back("TERM=" + (spec.term.empty() ? std::string("xterm-256color") : spec.term));
    }
    for (const auto& [key, value] : box.env) {
      plan.env.push_back(key + "=" + value);
    }
    plan.cwd = "/home/boxd";
    plan.tty = spec.tty;
    plan.cols = spec.cols;
    plan.rows = spec.rows;
    plan.uid = k_box_uid;
    plan.gid = k_box_gid;
    return spawn_in_box(box, handle, plan);
  }

  std::unique_ptr<ExecProcess> run_self(const BoxSpec& box, const BoxHandle& handle,
                                        const std::vector<std::string>& args,
                                        int box_uid) override {
    SpawnPlan plan;
    plan.path = "boxd";
    plan.argv = {"boxd"};
    plan.argv.insert(plan.argv.end(), args.begin(), args.end());
    plan.env = {std::string("PATH=") + k_box_path, "LC_ALL=C"};
    plan.cwd = "/";
    plan.uid = box_uid;
    plan.gid = box_uid;
    plan.drop_capabilities = true;
    plan.exec_fd = open_self_exe();
    try {
      auto process = spawn_in_box(box, handle, plan);
      close(plan.exec_fd);
      return process;
    } catch (...) {
      close(plan.exec_fd);
      throw;
    }
  }

  std::string files_root(const BoxSpec& /*box*/) const override { return "/"; }
  std::string helper_path(const std::string& path_in_box) const override { return path_in_box; }
  std::optional<int> disk_owner() const override { return k_box_uid; }

  void apply_limits(const BoxSpec& box, const BoxHandle& handle) override {
    require_alive(box, handle);
    m_cgroup.apply(box.id, box.limits);
  }

  EnforcedLimits enforced_limits(const BoxSpec& box, const BoxHandle& handle) override {
    return alive(box, handle) ? m_cgroup.enforced(box.id) : EnforcedLimits{};
  }

  std::vector<IsolationLayer> isolation() const override {
    std::vector<IsolationLayer> layers = namespace_layers();
    layers.push_back({"user namespace", true,
                      "box root and boxd map to a host id range of the box's own (2^30 and up)"});
    layers.push_back({"root file system", true,
                      "overlay per box, host directories idmapped read-only below it; host files "
                      "not readable by others masked; /home, /root, /tmp, the server's state not "
                      "shown"});
    layers.push_back(mask_layer());
    layers.push_back(
        {"disk size", m_disk_problem.empty(),
         m_disk_problem.empty()
             ? "each box's disk is an ext4 image of its size (disk_bytes) on a loop device: "
               "writing past it fails in the box (ENOSPC), the host's file system stays free"
             : "box disks are plain directories on the state dir's file system, their sizes "
               "not enforced (" +
                   m_disk_problem + ")"});
    const int dumpable = suid_dumpable();
    layers.push_back(
        {"undumpable server", dumpable != 1,
         dumpable == 1 ? k_suid_dumpable_refusal
                       : "a command takes the box user's ids while it shares the server's memory "
                         "(until its execve); that memory stays undumpable (fs.suid_dumpable is " +
                             std::to_string(dumpable) + ")"});
    for (auto& layer : m_network.isolation()) {
      layers.push_back(std::move(layer));
    }
    for (auto& layer : m_cgroup.layers()) {
      layers.push_back(std::move(layer));
    }
    return layers;
  }

  void mount_disk(const BoxSpec& box, const BoxHandle& handle, const fs::path& source,
                  const std::string& target, bool read_only) override {
    require_alive(box, handle);
    make_dir_in_box(*this, box, handle, target);
    inject_bind_mount(handle.init_pid, handle.init_start_time, source, target, read_only);
  }

  void unmount_disk(const BoxSpec& box, const BoxHandle& handle, const fs::path& source,
                    const std::string& target) override {
    if (alive(box, handle)) {
      remove_injected_mount(handle.init_pid, handle.init_start_time, source, target);
    }
  }

  std::string address(const BoxSpec& box, const BoxHandle& /*handle*/) override {
    // Never 127.0.0.1 for a box of the bridge whose address is unknown: that
    // would be the host's own port. "" makes the proxy answer 502.
    return m_network.enabled() ? m_network.address(box.id) : "127.0.0.1";
  }

  std::string bridge_subnet() const override { return m_network.subnet(); }

 private:
  // copy_disk() of a disk image: the image is copied (the source is
  // stopped, or frozen and synced first) and grown to dst's size when that
  // is larger (the server refuses a smaller one). The copy is never mounted
  // here: a mount in the host's namespace can be pinned by any local user
  // (unshare copies the mount table), which would leave a live file system
  // under the resize or under the next copy. dst's identity (hostname,
  // hosts) is written at its first boot instead (k_identity_pending).
  void copy_disk_image(const fs::path& from, const fs::path& to, const BoxSpec& dst) {
    DiskImages::sync(from);
    ensure_dir(dst.dir, 0700);
    DiskImages::unmount(to);
    remove_tree(to);
    DiskImages::copy(from, to);
    ensure_dir(to, 0755);
    if (dst.disk_bytes != 0) {
      DiskImages::grow(to, dst.disk_bytes);
    }
    write_file_atomic(dst.dir / k_identity_pending, "", 0600, Sync::Durable);
  }

  // A copied disk's identity files, at the boot after the copy.
  void write_pending_identity(const BoxSpec& box, const fs::path& disk) {
    const fs::path pending = box.dir / k_identity_pending;
    if (!fs::exists(pending)) {
      return;
    }
    if (fs::is_directory(disk / "upper" / "etc")) {
      DurableFiles files;
      add_identity(files, disk_id_base(disk), box);
      if (DiskImages::is_mount_point(disk)) {
        files.commit_unsynced();
        DiskImages::sync(disk);
      } else {
        files.commit();
      }
    }
    fs::remove(pending);
  }

  // What boot() hands the box's init (as arguments).
  struct BootPaths {
    std::string box_dir;  // canonical
    std::string hidden;
    std::uint32_t id_base = 0;
  };

  // The disk's directories (made when missing) and the id base its files
  // are shifted to; refuses a state dir the overlay options cannot carry.
  BootPaths prepare_boot_dirs(const BoxSpec& box) {
    DiskImages::ensure_mounted(box.dir / "disk");
    write_pending_identity(box, box.dir / "disk");
    if (!fs::is_directory(box.dir / "disk" / "upper") ||
        !fs::is_directory(box.dir / "disk" / "home")) {
      create(box);
    }
    ensure_dir(box.dir / "disk" / "work", 0700);
    ensure_dir(box.dir / "rootfs", 0755);
    BootPaths paths;
    paths.id_base = box_id_base(box.dir);
    ensure_disk_ids(box.dir / "disk", paths.id_base);
    paths.box_dir = fs::weakly_canonical(box.dir).string();
    paths.hidden = hidden_dir_of(box).string();
    for (const auto& path : {paths.box_dir, paths.hidden}) {
      if (path.find_first_of(",:") != std::string::npos) {
        throw Error(ErrorClass::Internal,
                    "the state directory path must not contain ',' or ':' (" + path + ")");
      }
    }
    return paths;
  }

  // The fds the init starts with: those it joins its cgroups by, the
  // console log (stdout, stderr), /dev/null (stdin) and the "ready" pipe
  // (fd 3).
  struct InitFds {
    BoxCgroup::InitJoin cgroup;
    UniqueFd console;
    UniqueFd null;
    UniqueFd userns;  // the box's user namespace (box_idmap.hpp)
    Pipe ready;
    InitFds() = default;
    InitFds(const InitFds&) = delete;
    InitFds& operator=(const InitFds&) = delete;
    InitFds(InitFds&&) = default;
    InitFds& operator=(InitFds&&) = delete;
    ~InitFds() { close(); }
    void close() {
      for (auto* fds : {&cgroup.self, &cgroup.by_pid}) {
        for (int fd : *fds) {
          ::close(fd);
        }
        fds->clear();
      }
      console.reset();
      null.reset();
      userns.reset();
      ready.read_end().reset();
      ready.write_end().reset();
    }
  };

  // The box's cgroups made and the init's fds open; on failure nothing is
  // left. The box's user namespace is made here, not by the init: on a v2
  // host a fork there would wait for the cgroup moves boot() makes
  // meanwhile (they hold the lock every fork takes for an RCU grace
  // period).
  InitFds open_init_fds(const BoxSpec& box, std::uint32_t id_base) {
    InitFds fds;
    try {
      fds.cgroup = m_cgroup.prepare(box.id, box.limits);
    } catch (const Error& e) {
      m_cgroup.remove(box.id);
      throw Error(ErrorClass::Internal, "box " + box.name + " failed to boot: " + e.what());
    }
    fds.console.reset(
        open((box.dir / "console.log").c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644));
    fds.null.reset(open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (!fds.console.valid() || !fds.null.valid()) {
      const int saved = errno;
      fds.close();
      m_cgroup.remove(box.id);
      errno = saved;
      throw_errno("preparing the boot of " + box.name);
    }
    try {
      fds.userns = make_box_userns(id_base);
    } catch (...) {
      fds.close();
      m_cgroup.remove(box.id);
      throw;
    }
    return fds;
  }

  // What the cloned init reads: plain values prepared before clone().
  struct InitChildArgs {
    const char* exe;
    char* const* argv;
    char* const* envp;
    int console;
    int null_fd;
    int ready_write;
    int userns;
    const int* cgroup_self;  // written "0" to (box_cgroup.hpp)
    std::size_t cgroup_self_count;
  };

  // The cloned child, async-signal-safe calls only: joins the box's v1
  // cgroups (boot() moves it into v2 ones), sets fds 0-4 (4: the box's user
  // namespace) and executes `boxd local __box-init`.
  [[noreturn]] static void run_init_child(const InitChildArgs& a) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    for (std::size_t i = 0; i < a.cgroup_self_count; ++i) {
      if (write(a.cgroup_self[i], "0", 1) < 0) {
        // The first line on the ready pipe is the boot's error.
        char message[] = "could not join the box's cgroups (errno 000)\n";
        const int err = errno;
        char* digits = message + sizeof message - 6;  // the "000"
        digits[0] = static_cast<char>('0' + err / 100 % 10);
        digits[1] = static_cast<char>('0' + err / 10 % 10);
        digits[2] = static_cast<char>('0' + err % 10);
        ssize_t ignored = write(a.ready_write, message, sizeof message - 1);
        (void)ignored;
        _exit(126);
      }
    }
    int high_null = fcntl(a.null_fd, F_DUPFD_CLOEXEC, 10);
    int high_console = fcntl(a.console, F_DUPFD_CLOEXEC, 10);
    int high_ready = fcntl(a.ready_write, F_DUPFD_CLOEXEC, 10);
    int high_userns = fcntl(a.userns, F_DUPFD_CLOEXEC, 10);
    dup2(high_null, 0);
    dup2(high_console, 1);
    dup2(high_console, 2);
    dup2(high_ready, 3);
    dup2(high_userns, 4);
    syscall(SYS_close_range, 5U, ~0U, CLOSE_RANGE_CLOEXEC);
    execve(a.exe, a.argv, a.envp);
    const char message[] = "boxd: could not execute boxd for the box init\n";
    ssize_t ignored = write(2, message, sizeof message - 1);
    (void)ignored;
    _exit(127);
  }

  // The init's first line on the ready pipe ("ready\n", or why it failed),
  // "" when it exits or stays silent for k_boot_timeout.
  static std::string read_ready_line(int fd) {
    std::string reply;
    const auto deadline = std::chrono::steady_clock::now() + k_boot_timeout;
    while (reply.find('\n') == std::string::npos) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        break;
      }
      struct pollfd pfd {
        fd, POLLIN, 0
      };
      int rc = poll(&pfd, 1, static_cast<int>(left.count()));
      if (rc < 0 && errno == EINTR) {
        continue;
      }
      if (rc <= 0) {
        break;
      }
      char buffer[512];
      ssize_t n = read(fd, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        break;
      }
      reply.append(buffer, static_cast<std::size_t>(n));
    }
    return reply;
  }

  // The one way anything runs inside a running box (exec and the file
  // helper): joins these namespaces and the box's cgroup, then the plan's
  // uid/gid. Refuses a frozen box (the process would freeze mid-start).
  std::unique_ptr<ExecProcess> spawn_in_box(const BoxSpec& box, const BoxHandle& handle,
                                            SpawnPlan& plan) {
    require_alive(box, handle);
    if (m_cgroup.frozen(box.id, handle.init_pid)) {
      fail_box_state(box.name, BoxStatus::Suspended);
    }
    if (auto warm = m_warm.take(box.id, handle)) {
      if (ns_link(handle.init_pid, "user") != ns_link(getpid(), "user")) {
        plan.pty_uid = static_cast<int>(box_id_base(box.dir)) + plan.uid;
      }
      if (auto process = spawn_process_warm(plan, std::move(warm))) {
        m_warm.refill(box, handle);
        return process;
      }
    }
    open_box_fds(box, handle, plan);
    try {
      auto process = spawn_process(plan);
      close_box_fds(plan);
      m_warm.refill(box, handle);
      return process;
    } catch (...) {
      close_box_fds(plan);
      throw;
    }
  }

  // The fds a spawn into the box needs, in the plan: its namespaces (the
  // user namespace last and also in userns_fd, when it has its own) and the
  // files that join its cgroups. Throws (box stopped) with none left open.
  void open_box_fds(const BoxSpec& box, const BoxHandle& handle, SpawnPlan& plan) {
    for (const char* ns : {"ipc", "uts", "net", "pid", "mnt"}) {
      std::string path = "/proc/" + std::to_string(handle.init_pid) + "/ns/" + ns;
      int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        close_box_fds(plan);
        fail_box_state(box.name, BoxStatus::Stopped);
      }
      plan.ns_fds.push_back(fd);
    }
    // The box's user namespace is joined last (runtime_spawn.cpp): the
    // others belong to the host's user namespace and need host root.
    std::string user_ns = "/proc/" + std::to_string(handle.init_pid) + "/ns/user";
    int user_fd = ns_link(handle.init_pid, "user") != ns_link(getpid(), "user")
                      ? open(user_ns.c_str(), O_RDONLY | O_CLOEXEC)
                      : -1;
    if (user_fd >= 0) {
      plan.ns_fds.push_back(user_fd);
      plan.userns_fd = user_fd;
      plan.pty_uid = static_cast<int>(box_id_base(box.dir)) + plan.uid;
    }
    // The fds are of the right process only if it is still the same one.
    if (!process_matches(handle.init_pid, handle.init_start_time)) {
      close_box_fds(plan);
      fail_box_state(box.name, BoxStatus::Stopped);
    }
    plan.cgroup_procs_fds = m_cgroup.open_procs(box.id);
  }

  static void close_box_fds(SpawnPlan& plan) {
    for (int fd : plan.ns_fds) {
      close(fd);
    }
    for (int fd : plan.cgroup_procs_fds) {
      close(fd);
    }
    plan.ns_fds.clear();
    plan.cgroup_procs_fds.clear();
    plan.userns_fd = -1;
  }

  // WarmPool's maker: a middle for the next exec into this box.
  std::unique_ptr<WarmMiddle> make_warm(const BoxSpec& box, const BoxHandle& handle) {
    if (!alive(box, handle)) {
      return nullptr;
    }
    SpawnPlan plan;
    open_box_fds(box, handle, plan);
    try {
      auto middle = fork_warm_middle(plan);
      close_box_fds(plan);
      return middle;
    } catch (...) {
      close_box_fds(plan);
      throw;
    }
  }

  // The box's network (box_network.cpp) before boot() returns; a box whose
  // network cannot be set up does not boot.
  // Writes the init's pid into the box's v2 cgroups (boot() does this
  // while the init builds its root: such a move waits for an RCU grace
  // period, 10-15 ms, which the init does not wait for before its exec;
  // nothing of the box runs before boot() returns, and by then the move is
  // done). 0, or the errno of the write that failed.
  static int join_cgroups(const InitFds& fds, pid_t init) {
    const std::string pid_text = std::to_string(init);
    for (int fd : fds.cgroup.by_pid) {
      if (write(fd, pid_text.data(), pid_text.size()) < 0) {
        return errno;
      }
    }
    return 0;
  }

  // Why a boot failed, most telling first: the init gone at once, its
  // cgroups, its network (the error's class kept: "no free address" is a
  // quota), else what the init said.
  [[noreturn]] static void throw_boot_failure(const BoxSpec& box, bool started, int moved,
                                              const std::exception_ptr& network,
                                              const std::string& reply) {
    if (!started) {
      throw Error(ErrorClass::Internal, "box " + box.name + " init vanished at boot");
    }
    if (moved != 0) {
      errno = moved;
      throw_errno("moving the init of " + box.name + " into its cgroups");
    }
    if (network) {
      try {
        std::rethrow_exception(network);
      } catch (const std::exception& e) {
        // (a thread that cannot start is std::system_error, not an Error)
        const auto* error = dynamic_cast<const Error*>(&e);
        throw Error(error != nullptr ? error->error_class() : ErrorClass::Internal,
                    "box " + box.name + " failed to boot: network: " + e.what());
      }
    }
    const std::string why = reply.empty() ? "the init exited or timed out (see console.log)"
                                          : reply.substr(0, reply.find('\n'));
    throw Error(ErrorClass::Internal, "box " + box.name + " failed to boot: " + why);
  }

  // A boot that failed: the init killed, its cgroups and (when it was set
  // up) its network removed.
  void abandon_boot(const BoxSpec& box, pid_t init, bool network) {
    const int saved = errno;
    kill(init, SIGKILL);
    waitpid(init, nullptr, 0);
    m_cgroup.remove(box.id);
    if (network) {
      try {
        m_network.detach(box, init);
      } catch (const std::exception& e) {
        logging::warn(std::string("could not remove the network of a failed boot: ") + e.what(),
                      {{"box", box.name}});
      }
    }
    errno = saved;
  }

  void require_alive(const BoxSpec& box, const BoxHandle& handle) {
    if (!alive(box, handle)) {
      fail_box_state(box.name, BoxStatus::Stopped);
    }
  }

  // The "host masks" line of isolation(): where a boot's masks come from.
  IsolationLayer mask_layer() const {
    if (!m_masks) {
      return {"host masks", true, "walked at every boot (BOXD_LOCAL_MASK_INDEX=0)"};
    }
    const auto stats = m_masks->stats();
    if (!stats.watching) {
      return {"host masks", true, "walked at every boot (" + stats.why_not + ")"};
    }
    std::string detail = "kept current by fanotify: " + std::to_string(stats.masks) +
                         " masks over " + std::to_string(stats.watched) + " host directories";
    if (stats.watched < stats.roots) {
      detail += ", " + std::to_string(stats.roots - stats.watched) + " walked at every boot";
    }
    return {"host masks", true, detail};
  }

  BoxCgroup m_cgroup;
  BoxNetwork m_network;
  const fs::path m_masks_hidden;
  std::unique_ptr<MaskIndex> m_masks;  // null: every boot walks the host's directories
  std::string m_disk_problem;          // why new box disks are not images ("" = they are)
  // Box disks of the default size made ahead (null: no images, or
  // BOXD_LOCAL_SPARE_DISKS=0, the benchmarks' baseline).
  std::unique_ptr<SpareImages> m_spares;
  ProcessWatch m_inits;  // alive(): a pidfd per box init
  // After the cgroups and the network: destroyed (its middles killed) first.
  // BOXD_LOCAL_WARM_EXEC=0 turns warm middles off (every exec starts cold):
  // the benchmarks' baseline for them.
  WarmPool m_warm{
      [this](const BoxSpec& box, const BoxHandle& handle) { return make_warm(box, handle); },
      env_is("BOXD_LOCAL_WARM_EXEC", "0") ? 0U : 64U};
};

}  // namespace

bool namespace_runtime_supported(std::string* why) {
  static std::once_flag once;
  static bool supported = false;
  static std::string reason;
  std::call_once(once, [] {
    if (geteuid() != 0) {
      reason = "it needs root";
      return;
    }
    if (read_text("/proc/filesystems").find("overlay") == std::string::npos) {
      reason = "the kernel has no overlayfs";
      return;
    }
    long pid =
        syscall(SYS_clone,
                CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | SIGCHLD,
                0, 0, 0, 0);
    if (pid == 0) {
      _exit(0);
    }
    if (pid < 0) {
      reason = std::string("cannot create namespaces: ") + std::strerror(errno);
      return;
    }
    int status = 0;
    waitpid(static_cast<pid_t>(pid), &status, 0);
    supported = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (!supported) {
      reason = "the namespace probe failed";
    }
  });
  if (why != nullptr) {
    *why = reason;
  }
  return supported;
}

std::unique_ptr<Runtime> make_namespace_runtime(const RuntimeOptions& options) {
  return std::make_unique<NamespaceRuntime>(options);
}

}  // namespace boxd::local
