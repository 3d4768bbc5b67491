// The box's init: `boxd local __box-init NAME BOX_DIR HIDDEN_DIR`.
//
// The server clone()s this process into new mount, PID, UTS and IPC
// namespaces and re-executes boxd here, with stdout/stderr appended to
// BOX_DIR/console.log (this is the one place in lib/ that writes to stdout:
// it IS the box's console) and fd 3 the write end of a "ready" pipe.
//
// Building the root. Every mount happens in our private mount namespace
// (MS_REC|MS_PRIVATE on / first, so nothing propagates back to the host).
// A tmpfs at BOX_DIR/rootfs becomes the new root; for each entry of the
// host's / :
//   - symlinks (merged /usr: /bin -> usr/bin, ...) are recreated as is;
//   - proc: a fresh procfs (it shows only this PID namespace);
//     sys: a fresh read-only sysfs; dev: a small tmpfs with bind mounts of
//     null, zero, full, random, urandom and tty, a devpts newinstance (its
//     ptmx at /dev/ptmx) and a tmpfs /dev/shm; run: an empty tmpfs;
//   - home, root, tmp: bind mounts of the box's own disk/home, disk/root and
//     disk/tmp;
//   - the directory holding every box's state (HIDDEN_DIR) becomes an empty
//     directory, and each of its ancestors a plain directory whose children
//     are handled one level down by the same rules: the box never sees the
//     server's state (other boxes, keys), and overlayfs never gets an upper
//     layer inside its own lower layer (which it refuses);
//   - every other directory is an overlay: lowerdir=/<path> (the host's,
//     never written), upperdir=disk/upper/<path>, workdir=disk/work/<path>;
//     so writes to /etc, /usr, /var, ... persist in the box's disk and the
//     host stays untouched. If the kernel refuses an overlay (an exotic file
//     system below), the directory is bind-mounted read-only instead, and
//     the console says so;
//   - regular files are bind-mounted read-only.
// Then pivot_root(".", ".") + a lazy unmount of the old root leaves nothing
// of the host reachable except through those mounts.
//
// After "ready" is written to fd 3, this process is PID 1 of the box: it
// reaps orphans forever. SIGTERM makes it SIGTERM then SIGKILL everything
// else and exit; SIGKILL from the server (stop) makes the kernel kill every
// process of the namespace. A failure while building the root is written
// as "error: ..." to fd 3 and the console, and init exits 1.
#include "local/runtime.hpp"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace boxd::local {
namespace {

namespace fs = std::filesystem;

constexpr int k_ready_fd = 3;

void say(const std::string& line) {
  std::string text = line + "\n";
  ssize_t ignored = write(STDOUT_FILENO, text.data(), text.size());
  (void)ignored;
}

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error(what + ": " + std::strerror(errno));
}

void do_mount(const std::string& source, const fs::path& target, const char* type,
              unsigned long flags, const std::string& data = {}) {
  if (mount(source.empty() ? nullptr : source.c_str(), target.c_str(), type, flags,
            data.empty() ? nullptr : data.c_str()) < 0) {
    fail("mount " + target.string());
  }
}

void make_dir(const fs::path& path, mode_t mode) {
  if (mkdir(path.c_str(), mode) < 0 && errno != EEXIST) {
    fail("mkdir " + path.string());
  }
  chmod(path.c_str(), mode);
}

// A directory mirroring `host`'s mode and owner (the merged view of an
// overlay takes its root's attributes from the upper dir).
void mirror_dir(const fs::path& path, const struct stat& host) {
  if (mkdir(path.c_str(), host.st_mode & 07777) < 0 && errno != EEXIST) {
    fail("mkdir " + path.string());
  }
  struct stat st {};
  if (stat(path.c_str(), &st) == 0 &&
      (st.st_uid != host.st_uid || st.st_gid != host.st_gid)) {
    if (chown(path.c_str(), host.st_uid, host.st_gid) < 0) {
      fail("chown " + path.string());
    }
  }
  chmod(path.c_str(), host.st_mode & 07777);
}

void make_parents(const fs::path& path) {
  std::error_code ec;
  fs::create_directories(path, ec);
}

void bind_file_readonly(const fs::path& host, const fs::path& target) {
  int fd = open(target.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    fail("creating " + target.string());
  }
  close(fd);
  do_mount(host.string(), target, nullptr, MS_BIND);
  mount(nullptr, target.c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY, nullptr);
}

bool is_strict_ancestor(const fs::path& ancestor, const fs::path& path) {
  auto a = ancestor.lexically_normal().string();
  auto p = path.lexically_normal().string();
  if (a.size() >= p.size()) {
    return false;
  }
  if (a == "/") {
    return true;
  }
  return p.compare(0, a.size(), a) == 0 && p[a.size()] == '/';
}

struct Layout {
  fs::path disk;    // BOX_DIR/disk
  fs::path hidden;  // never shown in the box
};

void build_dev(const fs::path& dev) {
  do_mount("boxdev", dev, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=1m");
  for (const char* name : {"null", "zero", "full", "random", "urandom", "tty"}) {
    fs::path host = fs::path("/dev") / name;
    fs::path target = dev / name;
    int fd = open(target.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) {
      fail("creating " + target.string());
    }
    close(fd);
    do_mount(host.string(), target, nullptr, MS_BIND);
  }
  make_dir(dev / "pts", 0755);
  do_mount("devpts", dev / "pts", "devpts", MS_NOSUID | MS_NOEXEC,
           "newinstance,ptmxmode=0666,mode=0620,gid=5");
  if (symlink("pts/ptmx", (dev / "ptmx").c_str()) < 0) {
    fail("symlink /dev/ptmx");
  }
  make_dir(dev / "shm", 01777);
  do_mount("shm", dev / "shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
  const std::pair<const char*, const char*> links[] = {
      {"fd", "/proc/self/fd"},
      {"stdin", "/proc/self/fd/0"},
      {"stdout", "/proc/self/fd/1"},
      {"stderr", "/proc/self/fd/2"},
  };
  for (const auto& [name, target] : links) {
    if (symlink(target, (dev / name).c_str()) < 0) {
      fail(std::string("symlink /dev/") + name);
    }
  }
}

void mount_overlay(const fs::path& host, const fs::path& target, const fs::path& rel,
                   const struct stat& host_stat, const Layout& layout) {
  fs::path upper = layout.disk / "upper" / rel;
  fs::path work = layout.disk / "work" / rel;
  make_parents(upper.parent_path());
  make_parents(work.parent_path());
  mirror_dir(upper, host_stat);
  make_dir(work, 0700);
  std::string options = "lowerdir=" + host.string() + ",upperdir=" + upper.string() +
                        ",workdir=" + work.string();
  if (mount("overlay", target.c_str(), "overlay", 0, options.c_str()) == 0) {
    return;
  }
  int saved = errno;
  say("boxd: warning: no overlay for " + host.string() + " (" + std::strerror(saved) +
      "), mounting it read-only");
  do_mount(host.string(), target, nullptr, MS_BIND | MS_REC);
  mount(nullptr, target.c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY, nullptr);
}

void populate(const fs::path& host_dir, const fs::path& root_dir, const fs::path& rel_dir,
              const Layout& layout) {
  const bool top = rel_dir.empty();
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(host_dir, ec)) {
    const fs::path host = entry.path();
    const std::string name = host.filename().string();
    const fs::path target = root_dir / name;
    const fs::path rel = rel_dir / name;
    struct stat st {};
    if (lstat(host.c_str(), &st) < 0) {
      continue;
    }
    if (S_ISLNK(st.st_mode)) {
      char link[4096];
      ssize_t n = readlink(host.c_str(), link, sizeof link - 1);
      if (n > 0) {
        link[n] = '\0';
        if (symlink(link, target.c_str()) < 0) {
          fail("symlink " + target.string());
        }
      }
      continue;
    }
    if (S_ISREG(st.st_mode)) {
      bind_file_readonly(host, target);
      continue;
    }
    if (!S_ISDIR(st.st_mode)) {
      continue;
    }
    if (top) {
      if (name == "proc") {
        make_dir(target, 0555);
        do_mount("proc", target, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC);
        continue;
      }
      if (name == "sys") {
        make_dir(target, 0555);
        if (mount("sysfs", target.c_str(), "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                  nullptr) < 0) {
          do_mount("/sys", target, nullptr, MS_BIND | MS_REC);
          mount(nullptr, target.c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY, nullptr);
        }
        continue;
      }
      if (name == "dev") {
        make_dir(target, 0755);
        build_dev(target);
        continue;
      }
      if (name == "run") {
        make_dir(target, 0755);
        do_mount("run", target, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755");
        make_dir(target / "lock", 01777);
        continue;
      }
      if (name == "home" || name == "root" || name == "tmp") {
        make_dir(target, st.st_mode & 07777);
        do_mount((layout.disk / name).string(), target, nullptr, MS_BIND);
        continue;
      }
    }
    if (host == layout.hidden) {
      make_dir(target, 0755);
      continue;
    }
    if (is_strict_ancestor(host, layout.hidden)) {
      mirror_dir(target, st);
      populate(host, target, rel, layout);
      continue;
    }
    mirror_dir(target, st);
    mount_overlay(host, target, rel, st, layout);
  }
  if (ec) {
    errno = ec.value();
    fail("listing " + host_dir.string());
  }
}

void build_root(const std::string& name, const fs::path& box_dir, const fs::path& hidden) {
  Layout layout{box_dir / "disk", hidden};
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) < 0) {
    fail("making mounts private");
  }
  const fs::path root = box_dir / "rootfs";
  make_dir(root, 0755);
  do_mount("boxroot", root, "tmpfs", 0, "mode=0755");
  populate("/", root, {}, layout);
  for (const char* dir : {"proc", "sys", "dev", "tmp", "home", "root", "run"}) {
    if (!fs::exists(root / dir)) {
      throw std::runtime_error(std::string("the host has no /") + dir);
    }
  }
  say("boxd: root ready");
  if (chdir(root.c_str()) < 0) {
    fail("chdir to the new root");
  }
  if (syscall(SYS_pivot_root, ".", ".") < 0) {
    fail("pivot_root");
  }
  if (umount2(".", MNT_DETACH) < 0) {
    fail("detaching the host root");
  }
  if (chdir("/") < 0) {
    fail("chdir /");
  }
  if (sethostname(name.data(), name.size()) < 0) {
    fail("sethostname");
  }
  say("boxd: hostname " + name);
}

void on_signal(int /*sig*/) {}

void reap_all() {
  while (waitpid(-1, nullptr, WNOHANG) > 0) {
  }
}

int run_init() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGCHLD, SIGTERM, SIGINT, SIGHUP}) {
    sigaddset(&set, sig);
    signal(sig, on_signal);  // a PID-namespace init ignores signals it has no handler for
  }
  sigprocmask(SIG_BLOCK, &set, nullptr);
  reap_all();
  while (true) {
    siginfo_t info{};
    int sig = sigwaitinfo(&set, &info);
    if (sig == SIGCHLD) {
      reap_all();
    } else if (sig == SIGTERM || sig == SIGINT) {
      say("boxd: shutting down");
      kill(-1, SIGTERM);
      for (int i = 0; i < 20; ++i) {
        reap_all();
        if (kill(-1, 0) < 0 && errno == ESRCH) {
          break;
        }
        usleep(100000);
      }
      kill(-1, SIGKILL);
      reap_all();
      say("boxd: halted");
      return 0;
    }
  }
}

}  // namespace

int box_init_main(int argc, char** argv) {
  // argv: boxd local __box-init NAME BOX_DIR HIDDEN_DIR
  if (argc < 6) {
    std::fprintf(stderr, "usage: boxd local __box-init NAME BOX_DIR HIDDEN_DIR\n");
    return 2;
  }
  const std::string name = argv[3];
  const fs::path box_dir = argv[4];
  const fs::path hidden = argv[5];
  say("boxd: booting box " + name);
  try {
    build_root(name, box_dir, hidden);
  } catch (const std::exception& e) {
    std::string message = std::string("error: ") + e.what() + "\n";
    say(std::string("boxd: ") + message.substr(0, message.size() - 1));
    ssize_t ignored = write(k_ready_fd, message.data(), message.size());
    (void)ignored;
    return 1;
  }
  say("boxd: ready");
  const char ready[] = "ready\n";
  ssize_t ignored = write(k_ready_fd, ready, sizeof ready - 1);
  (void)ignored;
  close(k_ready_fd);
  return run_init();
}

}  // namespace boxd::local
