// Injecting a bind mount into a running box, and opening paths beneath a
// box's root.
//
// A box's mounts live in its own mount namespace, whose root is a tmpfs the
// host cannot name, and the server's state dir (where disks live) is hidden
// inside it. So a disk cannot be mounted by path from inside the box, and a
// multi-threaded server cannot setns(CLONE_NEWNS) itself (the kernel refuses
// a process sharing its fs_struct). The way around both is the new mount
// API: open_tree(OPEN_TREE_CLONE) makes a detached copy of the disk's
// directory mount here, on the host; a forked child (single-threaded, own
// fs_struct) then setns()es into the box's mount namespace, creates the
// mount point and move_mount()s the detached tree onto it. The tree gets
// nosuid, nodev and (for a read-only attach) read-only before it moves, so
// nothing is done by path afterwards. The box made its mounts private at
// boot, so nothing propagates back to the host. Detaching finds the disk's
// mounts in the box by what they are (device and path within it, from the
// box's mountinfo), not by the path it was attached at: the box can rename
// a parent of the mount point, and the mount moves along.
// The child only makes system calls (no allocation after fork) and reports
// a failure as (step, errno) on a pipe.
//
// What can go wrong: the box's init may die and its pid be reused between
// opening /proc/<pid>/ns/mnt and using it: the fd is taken first and the
// pid's start time checked afterwards, so a stale fd is never used. A mount
// point path inside the box may be a symlink the box's user made: it is
// resolved inside the box's namespace, as root there, which the box's user
// (passwordless sudo) could do anyway; it cannot reach the host. The mount
// point must exist: the server creates it first with the file helper, as
// root in the box without capabilities (NamespaceRuntime::mount_disk in
// runtime_namespace.cpp, for disks.cpp), never as host root.
#include "local/box_mounts.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "common/fd.hpp"
#include "common/unique_fd.hpp"
#include "local/fault.hpp"
#include "local/runtime_support.hpp"

#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef OPEN_TREE_CLOEXEC
#define OPEN_TREE_CLOEXEC O_CLOEXEC
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#endif

namespace boxd::local {

namespace {

int sys_open_tree(int dirfd, const char* path, unsigned flags) {
  return static_cast<int>(syscall(SYS_open_tree, dirfd, path, flags));
}

int sys_move_mount(int from_dirfd, const char* from_path, int to_dirfd, const char* to_path,
                   unsigned flags) {
  return static_cast<int>(syscall(SYS_move_mount, from_dirfd, from_path, to_dirfd, to_path, flags));
}

int open_mnt_ns(int init_pid, std::uint64_t start_time) {
  const std::string path = "/proc/" + std::to_string(init_pid) + "/ns/mnt";
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 || !process_matches(init_pid, start_time)) {
    if (fd >= 0) {
      close(fd);
    }
    fail(Fault::FailedPrecondition, "the box is not running");
  }
  return fd;
}

struct ChildFailure {
  int step = 0;
  int error = 0;
};

// Runs `body` in a forked child inside the mount namespace `ns_fd`; the
// child returns (step, errno) on failure. Returns the failure, if any.
template <class Body>
ChildFailure run_in_namespace(int ns_fd, Body&& body) {
  Pipe report;
  pid_t pid = fork();
  if (pid < 0) {
    throw_errno("fork");
  }
  if (pid == 0) {
    ChildFailure failure;
    if (setns(ns_fd, CLONE_NEWNS) < 0) {
      failure = {1, errno};
    } else {
      failure = body();
    }
    if (failure.step != 0) {
      ssize_t ignored = write(report.write_fd(), &failure, sizeof failure);
      (void)ignored;
      _exit(1);
    }
    _exit(0);
  }
  report.write_end().reset();
  ChildFailure failure;
  ssize_t n = 0;
  do {
    n = read(report.read_fd(), &failure, sizeof failure);
  } while (n < 0 && errno == EINTR);
  report.read_end().reset();
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (n != static_cast<ssize_t>(sizeof failure)) {
    failure = {};
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      failure = {99, 0};
    }
  }
  return failure;
}

// What names a disk's directory in a mountinfo line: its file system
// (major:minor) and its path within that file system (the line's "root"
// field). A mount whose root is that path or below it shows the disk.
struct MountIdentity {
  std::string device;  // "major:minor"
  std::string root;    // "/" for the root of a file system of its own
};

// The disk directory's identity, from the server's own mount table: the
// mount it lies in (by its mount id; on a kernel without STATX_MNT_ID, the
// longest mount point above it on its device, which btrfs subvolumes, whose
// st_dev is not the file system's, would miss) and its path below that
// mount's root.
std::optional<MountIdentity> mount_identity(const std::filesystem::path& source) {
  std::error_code ec;
  const auto real = std::filesystem::canonical(source, ec);
  struct statx sx {};
  if (ec || statx(AT_FDCWD, real.c_str(), 0, STATX_MNT_ID | STATX_INO, &sx) != 0) {
    return std::nullopt;
  }
  const std::string path = real.string();
  const std::string device =
      std::to_string(sx.stx_dev_major) + ":" + std::to_string(sx.stx_dev_minor);
  const bool by_id = (sx.stx_mask & STATX_MNT_ID) != 0;
  std::optional<MountInfoLine> best;
  for (auto& m : read_mountinfo("/proc/self/mountinfo")) {
    const bool ours = by_id ? m.id == sx.stx_mnt_id : m.device == device;
    if (ours && path_under(path, m.point) && (!best || m.point.size() > best->point.size())) {
      best = std::move(m);
    }
  }
  if (!best) {
    return std::nullopt;
  }
  std::string rest = best->point == "/" ? path : path.substr(best->point.size());
  std::string root = best->root == "/" ? rest : best->root + rest;
  if (root.empty()) {
    root = "/";
  }
  return MountIdentity{best->device, root};
}

// The disk's mounts in the namespace whose mountinfo this is.
std::vector<MountInfoLine> mounts_of(const std::string& mountinfo, const MountIdentity& disk) {
  std::vector<MountInfoLine> mounts = read_mountinfo(mountinfo);
  std::erase_if(mounts, [&](const MountInfoLine& m) {
    return m.device != disk.device || !path_under(m.root, disk.root);
  });
  return mounts;
}

// "self/fd/<fd>" into `out`, without allocating (in a forked child).
void fd_link(int fd, std::array<char, 32>& out) {
  constexpr std::string_view k_prefix = "self/fd/";
  std::copy(k_prefix.begin(), k_prefix.end(), out.begin());
  char* end = std::to_chars(out.data() + k_prefix.size(), out.data() + out.size() - 1, fd).ptr;
  *end = '\0';
}

// A box with a user namespace of its own sees the disk idmapped through it:
// files stored as box ids (boxd = 1000) show as the box's own ids whichever
// box the disk is attached to. Without one, the tree stays as it is.
void idmap_to_box(int tree, int init_pid) {
  const std::string path = "/proc/" + std::to_string(init_pid) + "/ns/user";
  struct stat box_ns {};
  struct stat our_ns {};
  if (stat(path.c_str(), &box_ns) < 0 || stat("/proc/self/ns/user", &our_ns) < 0 ||
      box_ns.st_ino == our_ns.st_ino) {
    return;
  }
  int userns = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (userns < 0) {
    return;
  }
  struct mount_attr attr {};
  attr.attr_set = MOUNT_ATTR_IDMAP;
  attr.userns_fd = static_cast<std::uint64_t>(userns);
  int rc = mount_setattr(tree, "", AT_EMPTY_PATH, &attr, sizeof attr);
  int saved = errno;
  close(userns);
  if (rc < 0) {
    close(tree);
    errno = saved;
    throw_errno("idmapping the disk for the box");
  }
}

}  // namespace

void inject_bind_mount(int init_pid, std::uint64_t start_time, const std::filesystem::path& source,
                       const std::string& target, bool read_only) {
  if (target.empty() || target[0] != '/') {
    throw Error(ErrorClass::InvalidArgument, "mount path '" + target + "' is not absolute");
  }
  int tree = sys_open_tree(AT_FDCWD, source.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
  if (tree < 0) {
    throw_errno("preparing the disk for mounting");
  }
  idmap_to_box(tree, init_pid);
  // nosuid, nodev and (if asked) read-only on the detached tree itself, so
  // the mount arrives in the box with them: no later step by path that a
  // symlink swapped in meanwhile could send elsewhere.
  struct mount_attr attr {};
  attr.attr_set = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | (read_only ? MOUNT_ATTR_RDONLY : 0);
  if (mount_setattr(tree, "", AT_EMPTY_PATH, &attr, sizeof attr) < 0) {
    const int saved = errno;
    close(tree);
    errno = saved;
    throw_errno("setting the disk's mount options");
  }
  int ns = -1;
  try {
    ns = open_mnt_ns(init_pid, start_time);
  } catch (...) {
    close(tree);
    throw;
  }
  const char* target_c = target.c_str();
  ChildFailure failure = run_in_namespace(ns, [&]() -> ChildFailure {
    if (sys_move_mount(tree, "", AT_FDCWD, target_c, MOVE_MOUNT_F_EMPTY_PATH) < 0) {
      return {3, errno};
    }
    return {};
  });
  close(ns);
  close(tree);
  if (failure.step != 0) {
    static const char* const k_steps[] = {"", "entering the box", "creating the mount point",
                                          "mounting"};
    const char* step = failure.step < 4 ? k_steps[failure.step] : "the mount helper";
    throw Error(ErrorClass::Internal,
                std::string(step) + " " + target + " failed" +
                    (failure.error != 0 ? std::string(": ") + std::strerror(failure.error) : ""));
  }
}

void remove_injected_mount(int init_pid, std::uint64_t start_time,
                           const std::filesystem::path& source, const std::string& target) {
  const auto identity = mount_identity(source);
  if (!identity) {
    return;  // the disk's directory is gone: nothing of it can be mounted
  }
  const std::string mountinfo = "/proc/" + std::to_string(init_pid) + "/mountinfo";
  // The host's /proc, for the child: inside the box's namespace its own
  // /proc is the box's, where the child (a host process) has no entry.
  const UniqueFd host_proc(open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!host_proc.valid()) {
    throw_errno("opening /proc");
  }
  // A round: the box's mounts of the disk, deepest first. Each is opened
  // by the path the kernel shows for it now, with no symlink allowed on
  // the way (the box could put one in a parent, to aim the unmount at
  // another mount, such as the masks over its /proc), checked to be that
  // very mount (its id), and unmounted through the descriptor. A box
  // renaming a parent meanwhile makes the path miss: the next round finds
  // the mount where it went.
  constexpr int k_rounds = 20;
  for (int round = 0; round < k_rounds; ++round) {
    std::vector<MountInfoLine> mounts = mounts_of(mountinfo, *identity);
    if (mounts.empty()) {
      return;
    }
    if (round == k_rounds - 1) {
      fail(Fault::FailedPrecondition, "the disk is still mounted in the box at " +
                                          mounts.front().point + " (it was attached at " + target +
                                          "); try again");
    }
    std::sort(mounts.begin(), mounts.end(), [](const MountInfoLine& a, const MountInfoLine& b) {
      return a.point.size() > b.point.size();
    });
    const int ns = open_mnt_ns(init_pid, start_time);
    const int proc_fd = host_proc.get();
    ChildFailure failure = run_in_namespace(ns, [&]() -> ChildFailure {
      for (const auto& mount : mounts) {
        struct open_how how {};
        how.flags = O_PATH | O_NOFOLLOW | O_CLOEXEC;
        how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
        const int fd =
            static_cast<int>(syscall(SYS_openat2, AT_FDCWD, mount.point.c_str(), &how, sizeof how));
        if (fd < 0) {
          continue;  // moved, or a symlink on the way: the next round
        }
        struct statx sx {};
        if (statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &sx) == 0 &&
            (sx.stx_mask & STATX_MNT_ID) != 0 && sx.stx_mnt_id == mount.id) {
          std::array<char, 32> link{};
          fd_link(fd, link);
          // "self/fd/N" in the host's /proc: the mount's root, whatever
          // happens to its path now. A failure shows in the next round.
          if (fchdir(proc_fd) == 0) {
            umount2(link.data(), MNT_DETACH);
          }
        }
        close(fd);
      }
      return {};
    });
    close(ns);
    if (failure.step != 0) {
      throw Error(ErrorClass::Internal,
                  "unmounting " + target + " failed" +
                      (failure.error != 0 ? std::string(": ") + std::strerror(failure.error) : ""));
    }
  }
}

int open_beneath(int root_fd, const std::string& path, int flags, unsigned mode) {
  struct open_how how {};
  how.flags = static_cast<std::uint64_t>(flags | O_CLOEXEC);
  how.mode = (flags & O_CREAT) != 0 ? mode : 0;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  const std::string relative = path.empty() ? "." : path;
  long fd = 0;
  do {
    fd = syscall(SYS_openat2, root_fd, relative.c_str(), &how, sizeof how);
  } while (fd < 0 && errno == EAGAIN);
  return static_cast<int>(fd);
}

}  // namespace boxd::local
