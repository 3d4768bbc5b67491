// The box's init: `boxd local __box-init NAME BOX_DIR HIDDEN_DIR [ID_BASE]`.
//
// The server clone()s this process into new mount, PID, UTS and IPC
// namespaces and re-executes boxd here, with stdout/stderr appended to
// BOX_DIR/console.log (this is the one place in lib/ that writes to stdout:
// it IS the box's console), fd 3 the write end of a "ready" pipe and fd 4
// the box's user namespace.
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
// User namespace (ID_BASE > 0, see box_idmap.hpp): the init builds the root
// as host root in its own mount namespace, with the box's user namespace the
// server made (fd 4; box ids 0..65535 = host ids ID_BASE..ID_BASE+65535):
//   - the host's directories and files are mounted idmapped through it
//     (open_tree + mount_setattr(MOUNT_ATTR_IDMAP)) before they become the
//     overlays' lower layers, so host root's files are box root's files
//     (setuid-root sudo works, apt can replace them in the upper layer) and
//     nothing is owned by the host's real root inside;
//   - what the host keeps private is masked (host_masks.hpp): every entry
//     below a host directory that "other" may not read is covered by an
//     empty file or an empty opaque directory of the same mode in a mask
//     layer above the host's (/etc/shadow, SSH host keys, 0600 files, 0700
//     directories). The list is the server's (MASK_LIST, kept current by
//     mask_index.hpp and complete up to the boot); a directory it does not
//     list is walked here. Masks are made at boot: a private file created
//     on the host while the box runs is not masked until its next boot;
//   - tmpfs mounts (/, /dev, /run, /dev/shm) belong to box root;
//   - /proc and /sys paths that container runtimes mask are covered (kcore,
//     keys, timer_list, sched_debug, ..., /sys/firmware), and /proc/sys,
//     /proc/sysrq-trigger, /proc/irq, /proc/bus are read-only;
//   - after pivot_root and sethostname the init joins the user namespace
//     and becomes box root (uid 0 inside, ID_BASE on the host). The mount,
//     UTS, IPC, PID and network namespaces stay owned by the host's user
//     namespace: box root can neither undo a mount nor mount anything,
//     change the hostname, or touch the network configuration.
// If the kernel or file system refuses an idmapped mount, the lower layers
// are mounted as they are (host root's files then show as nobody and sudo
// cannot work) and the console says so.
//
// After "ready" is written to fd 3, this process is PID 1 of the box: it
// reaps orphans forever. SIGTERM makes it SIGTERM then SIGKILL everything
// else and exit; SIGKILL from the server (stop) makes the kernel kill every
// process of the namespace. A failure while building the root is written
// as "error: ..." to fd 3 and the console, and init exits 1.
#include "common/fd.hpp"
#include "local/host_masks.hpp"
#include "local/runtime.hpp"

#include <fcntl.h>
#include <grp.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <cerrno>
#include <climits>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>

namespace boxd::local {
namespace {

namespace fs = std::filesystem;

constexpr int k_ready_fd = 3;
constexpr int k_userns_fd = 4;

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

constexpr std::uint32_t k_id_count = 65536;

struct Layout {
  fs::path disk;           // BOX_DIR/disk
  fs::path hidden;         // never shown in the box
  fs::path layers;         // BOX_DIR/layers: idmapped lowers and masks (this mount ns only)
  std::uint32_t base = 0;  // host id of box root; 0 = no user namespace
  int userns = -1;         // the box's user namespace (idmapping), -1 = none
  bool idmap = false;      // idmapped mounts work here
  const HostMaskList* masks = nullptr;  // the server's list; null = walk every directory
};

// The host id that shows as `host_id` inside the box.
std::uint32_t shift(const Layout& layout, std::uint32_t host_id) {
  if (layout.base == 0) {
    return host_id;
  }
  return layout.base + (host_id < k_id_count ? host_id : k_id_count - 2);  // else nobody
}

// Options that make a tmpfs belong to box root.
std::string owned_by_box(const Layout& layout) {
  if (layout.base == 0) {
    return {};
  }
  return ",uid=" + std::to_string(layout.base) + ",gid=" + std::to_string(layout.base);
}

// A directory mirroring `host`'s mode and owner (the merged view of an
// overlay takes its root's attributes from the upper dir), owned by the
// box's view of the host's owner.
void mirror_dir(const fs::path& path, const struct stat& host, const Layout& layout) {
  if (mkdir(path.c_str(), host.st_mode & 07777) < 0 && errno != EEXIST) {
    fail("mkdir " + path.string());
  }
  const uid_t uid = shift(layout, host.st_uid);
  const gid_t gid = shift(layout, host.st_gid);
  struct stat st {};
  if (stat(path.c_str(), &st) == 0 && (st.st_uid != uid || st.st_gid != gid)) {
    if (chown(path.c_str(), uid, gid) < 0) {
      fail("chown " + path.string());
    }
  }
  chmod(path.c_str(), host.st_mode & 07777);
}

void make_parents(const fs::path& path) {
  std::error_code ec;
  fs::create_directories(path, ec);
}

// The box's user namespace, made by the server (fd 4): ids 0..65535 are
// host ids base..base+65535.
int passed_userns() {
  if (ioctl(k_userns_fd, NS_GET_NSTYPE) != CLONE_NEWUSER) {
    fail("the box's user namespace (fd 4) is missing");
  }
  return k_userns_fd;
}

// Mounts a clone of the host's `source` (a directory or a file, without the
// mounts below it) at `target`, idmapped through the box's user namespace.
// False when the kernel or the file system cannot.
bool mount_idmapped(const fs::path& source, const fs::path& target, const Layout& layout,
                    bool read_only) {
  int tree = open_tree(AT_FDCWD, source.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
  if (tree < 0) {
    return false;
  }
  struct mount_attr attr {};
  attr.attr_set = MOUNT_ATTR_IDMAP | (read_only ? MOUNT_ATTR_RDONLY : 0);
  attr.userns_fd = static_cast<std::uint64_t>(layout.userns);
  bool ok = mount_setattr(tree, "", AT_EMPTY_PATH, &attr, sizeof attr) == 0 &&
            move_mount(tree, "", AT_FDCWD, target.c_str(), MOVE_MOUNT_F_EMPTY_PATH) == 0;
  int saved = errno;
  close(tree);
  errno = saved;
  return ok;
}

void bind_file_readonly(const fs::path& host, const fs::path& target, const Layout& layout) {
  int fd = open(target.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    fail("creating " + target.string());
  }
  close(fd);
  if (layout.idmap && mount_idmapped(host, target, layout, true)) {
    return;
  }
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

void build_dev(const fs::path& dev, const Layout& layout) {
  do_mount("boxdev", dev, "tmpfs", MS_NOSUID | MS_NOEXEC,
           "mode=0755,size=1m" + owned_by_box(layout));
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
           "newinstance,ptmxmode=0666,mode=0620,gid=" + std::to_string(shift(layout, 5)));
  if (symlink("pts/ptmx", (dev / "ptmx").c_str()) < 0) {
    fail("symlink /dev/ptmx");
  }
  make_dir(dev / "shm", 01777);
  do_mount("shm", dev / "shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777" + owned_by_box(layout));
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

// ---------------------------------------------------------------------------
// Masks: what "other" may not read on the host is covered in the box.
struct MaskScan {
  const Layout* layout = nullptr;
  fs::path host_dir;
  fs::path mask_dir;
  std::size_t count = 0;
};

// Creates `rel`'s parents in the mask layer with the host's attributes (a
// merged directory takes them from the topmost layer that has it). A parent
// the host path does not show (gone since the list was taken, or under a
// mount on the host: the lower layer shows what the mount covers) gets a
// plain 0755 directory of box root: a mask is never left out for it.
void mask_parents(const MaskScan& scan, const fs::path& rel) {
  fs::path host = scan.host_dir;
  fs::path mask = scan.mask_dir;
  for (const auto& part : rel.parent_path()) {
    host /= part;
    mask /= part;
    struct stat st {};
    if (lstat(host.c_str(), &st) < 0 || !S_ISDIR(st.st_mode)) {
      st = {};
      st.st_mode = S_IFDIR | 0755;
    }
    mirror_dir(mask, st, *scan.layout);
  }
}

void add_mask(MaskScan& scan, const fs::path& rel, const struct stat& st) {
  const fs::path mask = scan.mask_dir / rel;
  if (mask.native().size() >= PATH_MAX - 1) {
    // Too deep to create: hide the deepest directory above it that is not
    // (more than the host keeps private, never less).
    fs::path shorter;
    for (const auto& part : rel) {
      if ((scan.mask_dir / shorter / part).native().size() >= PATH_MAX - 1) {
        break;
      }
      shorter /= part;
    }
    struct stat closed {};
    closed.st_mode = S_IFDIR | 0700;
    if (!shorter.empty() && shorter != rel) {
      add_mask(scan, shorter, closed);
    }
    return;
  }
  mask_parents(scan, rel);
  if (S_ISDIR(st.st_mode)) {
    mirror_dir(mask, st, *scan.layout);
    if (setxattr(mask.c_str(), "trusted.overlay.opaque", "y", 1, 0) < 0) {
      fail("marking " + mask.string() + " opaque");
    }
  } else {
    int fd = open(mask.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, st.st_mode & 0777);
    if (fd < 0 && errno == EISDIR) {
      return;  // a directory of masks is there (a list taken while it changed)
    }
    if (fd < 0) {
      fail("creating " + mask.string());
    }
    if (fchown(fd, shift(*scan.layout, st.st_uid), shift(*scan.layout, st.st_gid)) < 0) {
      close(fd);
      fail("chown " + mask.string());
    }
    close(fd);
  }
  ++scan.count;
}

// Builds the mask layer of one host directory from the server's list
// (mask_index.hpp), or by walking it when the list has no entry for it;
// false when nothing is masked.
bool build_masks(const fs::path& host, const fs::path& mask_dir, const Layout& layout) {
  MaskScan scan;
  scan.layout = &layout;
  scan.host_dir = host;
  scan.mask_dir = mask_dir;
  make_parents(mask_dir);
  auto add = [&](const HostMask& mask) {
    struct stat st {};
    st.st_mode = mask.mode;
    st.st_uid = mask.uid;
    st.st_gid = mask.gid;
    add_mask(scan, fs::path(mask.rel), st);
  };
  // The list, when it has this directory and the directory is still the
  // one it was taken of (not renamed over or mounted on since).
  const HostMaskDir* listed = nullptr;
  if (layout.masks != nullptr) {
    auto it = layout.masks->find(host.native());
    struct stat st {};
    if (it != layout.masks->end() && lstat(host.c_str(), &st) == 0 &&
        it->second.dev == static_cast<std::uint64_t>(st.st_dev) &&
        it->second.ino == static_cast<std::uint64_t>(st.st_ino)) {
      listed = &it->second;
    }
  }
  if (listed != nullptr) {
    for (const auto& mask : listed->masks) {
      add(mask);
    }
  } else {
    scan_host_masks(host, layout.hidden, add);
  }
  return scan.count > 0;
}

// `hide_host`: the host directory is private (or inside a private one):
// the box gets its own, empty, directory there (an overlay over an empty
// lower layer, so what the box writes there persists).
void mount_overlay(const fs::path& host, const fs::path& target, const fs::path& rel,
                   const struct stat& host_stat, const Layout& layout, bool hide_host) {
  fs::path upper = layout.disk / "upper" / rel;
  fs::path work = layout.disk / "work" / rel;
  make_parents(upper.parent_path());
  make_parents(work.parent_path());
  mirror_dir(upper, host_stat, layout);
  make_dir(work, 0700);
  if (hide_host) {
    const fs::path empty = layout.layers / "empty";
    make_dir(empty, 0755);
    const std::string options =
        "lowerdir=" + empty.string() + ",upperdir=" + upper.string() + ",workdir=" + work.string();
    do_mount("overlay", target, "overlay", 0, options);
    return;
  }
  std::string lowers = host.string();
  if (layout.idmap) {
    fs::path clone = layout.layers / "lower" / rel;
    make_parents(clone);
    if (mount_idmapped(host, clone, layout, true)) {
      lowers = clone.string();
    } else {
      say("boxd: warning: no idmapped mount of " + host.string() + " (" + std::strerror(errno) +
          "): its files show as nobody in the box");
    }
  }
  if (layout.base > 0 && build_masks(host, layout.layers / "mask" / rel, layout)) {
    lowers = (layout.layers / "mask" / rel).string() + ":" + lowers;
  }
  std::string options =
      "lowerdir=" + lowers + ",upperdir=" + upper.string() + ",workdir=" + work.string();
  if (mount("overlay", target.c_str(), "overlay", 0, options.c_str()) == 0) {
    return;
  }
  int saved = errno;
  if (layout.base > 0) {
    // Without the overlay the host's own files would show unmasked.
    errno = saved;
    fail("overlay for " + host.string());
  }
  say("boxd: warning: no overlay for " + host.string() + " (" + std::strerror(saved) +
      "), mounting it read-only");
  do_mount(host.string(), target, nullptr, MS_BIND | MS_REC);
  mount(nullptr, target.c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY, nullptr);
}

// Top-level special directories; true when `name` was one.
bool populate_special(const std::string& name, const fs::path& target, const struct stat& st,
                      const Layout& layout) {
  if (name == "proc") {
    make_dir(target, 0555);
    do_mount("proc", target, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC);
    return true;
  }
  if (name == "sys") {
    make_dir(target, 0555);
    if (mount("sysfs", target.c_str(), "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
              nullptr) < 0) {
      do_mount("/sys", target, nullptr, MS_BIND | MS_REC);
      mount(nullptr, target.c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY, nullptr);
    }
    return true;
  }
  if (name == "dev") {
    make_dir(target, 0755);
    build_dev(target, layout);
    return true;
  }
  if (name == "run") {
    make_dir(target, 0755);
    do_mount("run", target, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755" + owned_by_box(layout));
    make_dir(target / "lock", 01777);
    if (layout.base > 0 && chown((target / "lock").c_str(), layout.base, layout.base) < 0) {
      fail("chown /run/lock");
    }
    return true;
  }
  if (name == "home" || name == "root" || name == "tmp") {
    make_dir(target, st.st_mode & 07777);
    do_mount((layout.disk / name).string(), target, nullptr, MS_BIND);
    mount(nullptr, target.c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_NODEV, nullptr);
    return true;
  }
  return false;
}

// `private_above`: an ancestor of host_dir is private on the host (others
// may not enter or list it), so nothing below it is shown either.
void populate(const fs::path& host_dir, const fs::path& root_dir, const fs::path& rel_dir,
              const Layout& layout, bool private_above = false) {
  const bool top = rel_dir.empty();
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(host_dir, ec)) {
    const fs::path& host = entry.path();
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
        if (layout.base > 0 && lchown(target.c_str(), layout.base, layout.base) < 0) {
          fail("chown " + target.string());
        }
      }
      continue;
    }
    const bool hide = layout.base > 0 && (private_above || masked_mode(st.st_mode));
    if (S_ISREG(st.st_mode)) {
      if (!hide) {
        bind_file_readonly(host, target, layout);
      }
      continue;
    }
    if (!S_ISDIR(st.st_mode) || (top && populate_special(name, target, st, layout))) {
      continue;
    }
    if (host == layout.hidden) {
      make_dir(target, 0755);
      continue;
    }
    if (is_strict_ancestor(host, layout.hidden)) {
      mirror_dir(target, st, layout);
      populate(host, target, rel, layout, hide);
      continue;
    }
    mirror_dir(target, st, layout);
    mount_overlay(host, target, rel, st, layout, hide);
  }
  if (ec) {
    errno = ec.value();
    fail("listing " + host_dir.string());
  }
}

// /proc and /sys paths container runtimes hide or make read-only.
void mask_kernel_files(const fs::path& root) {
  for (const char* file : {"proc/kcore", "proc/keys", "proc/timer_list", "proc/sched_debug",
                           "proc/latency_stats", "proc/timer_stats", "proc/kallsyms"}) {
    struct stat st {};
    if (lstat((root / file).c_str(), &st) == 0 && !S_ISDIR(st.st_mode)) {
      do_mount("/dev/null", root / file, nullptr, MS_BIND);
    }
  }
  for (const char* dir :
       {"proc/acpi", "proc/scsi", "proc/asound", "sys/firmware", "sys/devices/virtual/powercap",
        "sys/kernel/debug", "sys/kernel/security"}) {
    if (fs::is_directory(root / dir)) {
      mount("boxmask", (root / dir).c_str(), "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
            "mode=0555,size=4k");
    }
  }
  for (const char* path : {"proc/bus", "proc/fs", "proc/irq", "proc/sys", "proc/sysrq-trigger"}) {
    const fs::path target = root / path;
    if (!fs::exists(target)) {
      continue;
    }
    do_mount(target.string(), target, nullptr, MS_BIND | MS_REC);
    do_mount({}, target, nullptr,
             MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC);
  }
}

// Joins the box's user namespace as its root: from here on this process
// is host uid `base`, with capabilities only over the box's own objects.
void become_box_root(int userns) {
  if (setns(userns, CLONE_NEWUSER) < 0) {
    fail("joining the box's user namespace");
  }
  close(userns);
  if (setgroups(0, nullptr) < 0 || setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0) {
    fail("becoming the box's root");
  }
  // The id change set this process's dumpable flag to fs.suid_dumpable; with
  // 1 box root could ptrace the init, whose memory the box does not own.
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

void build_root(const std::string& name, const fs::path& box_dir, const fs::path& hidden,
                std::uint32_t base, const HostMaskList* masks) {
  Layout layout{box_dir / "disk", hidden, box_dir / "layers", base, -1, false, masks};
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) < 0) {
    fail("making mounts private");
  }
  if (base > 0) {
    layout.userns = passed_userns();
    make_dir(layout.layers, 0700);
    do_mount("boxlayers", layout.layers, "tmpfs", 0, "mode=0700");
    make_dir(layout.layers / "lower", 0700);
    layout.idmap = true;
  }
  const fs::path root = box_dir / "rootfs";
  make_dir(root, 0755);
  do_mount("boxroot", root, "tmpfs", 0, "mode=0755" + owned_by_box(layout));
  populate("/", root, {}, layout);
  for (const char* dir : {"proc", "sys", "dev", "tmp", "home", "root", "run"}) {
    if (!fs::exists(root / dir)) {
      throw std::runtime_error(std::string("the host has no /") + dir);
    }
  }
  mask_kernel_files(root);
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
  if (layout.userns >= 0) {
    become_box_root(layout.userns);
    say("boxd: user namespace: box root is host uid " + std::to_string(base));
  }
}

// The server's mask list (host_masks.hpp), in the box's directory.
std::string read_mask_list(const char* path) {
  std::string text;
  int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    fail(std::string("opening ") + path);
  }
  char buffer[64 * 1024];
  ssize_t n = 0;
  while ((n = read(fd, buffer, sizeof buffer)) > 0) {
    text.append(buffer, static_cast<std::size_t>(n));
  }
  int saved = errno;
  close(fd);
  if (n < 0) {
    errno = saved;
    fail(std::string("reading ") + path);
  }
  return text;
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
  // argv: boxd local __box-init NAME BOX_DIR HIDDEN_DIR [ID_BASE [MASK_LIST]]
  if (argc < 6) {
    std::fprintf(stderr,
                 "usage: boxd local __box-init NAME BOX_DIR HIDDEN_DIR [ID_BASE [MASK_LIST]]\n");
    return 2;
  }
  const std::string name = argv[3];
  const fs::path box_dir = argv[4];
  const fs::path hidden = argv[5];
  std::uint32_t base = 0;
  if (argc > 6) {
    base = static_cast<std::uint32_t>(std::strtoul(argv[6], nullptr, 10));
  }
  say("boxd: booting box " + name);
  try {
    std::optional<HostMaskList> masks;
    if (argc > 7) {
      masks = decode_host_masks(read_mask_list(argv[7]));
      if (!masks) {
        throw std::runtime_error(std::string("damaged mask list ") + argv[7]);
      }
    }
    build_root(name, box_dir, hidden, base, masks ? &*masks : nullptr);
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
