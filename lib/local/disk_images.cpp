#include "local/disk_images.hpp"

#include <fcntl.h>
#include <linux/loop.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <tuple>
#include <utility>
#include <vector>

#include "common/error.hpp"
#include "common/files.hpp"
#include "common/unique_fd.hpp"
#include "local/runtime_support.hpp"

namespace boxd::local {

namespace {

namespace fs = std::filesystem;

std::string first_existing(std::initializer_list<const char*> paths) {
  for (const char* p : paths) {
    if (access(p, X_OK) == 0) {
      return p;
    }
  }
  return "";
}

std::string mkfs_path() {
  return first_existing({"/usr/sbin/mkfs.ext4", "/sbin/mkfs.ext4"});
}
std::string mount_path() {
  return first_existing({"/usr/bin/mount", "/bin/mount"});
}

std::string first_line(const std::string& text) {
  const auto end = text.find('\n');
  return end == std::string::npos ? text : text.substr(0, end);
}

void make_sparse(const fs::path& image, std::uint64_t size) {
  const int fd = open(image.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    throw_errno("create " + image.string());
  }
  if (ftruncate(fd, static_cast<off_t>(size)) < 0) {
    const int saved = errno;
    close(fd);
    unlink(image.c_str());
    errno = saved;
    throw_errno("size " + image.string());
  }
  close(fd);
}

void mkfs(const fs::path& image, std::uint64_t size, unsigned uid, unsigned gid) {
  const std::string tool = mkfs_path();
  if (tool.empty()) {
    throw Error(ErrorClass::Internal, "mkfs.ext4 is not installed");
  }
  // No "nodiscard": on a file, mkfs's discard punches the (already empty)
  // file and marks the inode tables zeroed. Without it the kernel's
  // lazyinit thread writes every inode table after the first mount, ~160 MB
  // of zeros per 10 GiB, in each image.
  std::vector<std::string> argv = {tool,
                                   "-q",
                                   "-F",
                                   "-m",
                                   "0",
                                   "-E",
                                   "lazy_itable_init=1,lazy_journal_init=1,root_owner=" +
                                       std::to_string(uid) + ":" + std::to_string(gid)};
  // The journal is written round and round and never given back: mkfs's
  // default for 2-16 GiB is 64 MiB, which every busy box would come to
  // take on the host. 16 MiB is mkfs's own choice for a 1 GiB disk.
  if (size >= (1ULL << 30)) {
    argv.insert(argv.end(), {"-J", "size=16"});
  }
  argv.push_back(image.string());
  const auto result = run_command(argv);
  if (result.status != 0) {
    throw Error(ErrorClass::Internal, "mkfs.ext4 failed: " + first_line(result.error_output));
  }
}

// mount(8): sets up the loop device (reusing one that already has the
// image) and mounts it.
void mount_with_tool(const fs::path& image, const fs::path& dir) {
  const std::string tool = mount_path();
  if (tool.empty()) {
    throw Error(ErrorClass::Internal, "mount is not installed");
  }
  const auto result = run_command(
      {tool, "-t", "ext4", "-o", "loop,nosuid,nodev,discard", image.string(), dir.string()});
  if (result.status != 0) {
    throw Error(ErrorClass::Internal, "cannot loop-mount " + image.filename().string() + ": " +
                                          first_line(result.error_output));
  }
}

// The loop devices that hold an image, by the image's device and inode as
// each loop device records them: filled by one scan of /sys/block at the
// first lookup, then by every attach. A lookup costs one open and one
// ioctl instead of a read of every loop device's backing_file in sysfs
// (~1,000 opens per box start on a host that has had 1,000 boxes; loop
// devices stay listed after they detach). Images are attached only by this
// process, under a root-only state dir, so after the first scan only its
// own attaches add loop devices to an image; an entry whose device no
// longer holds the image (autoclear, then reuse) is dropped at its lookup.
class LoopIndex {
 public:
  // The loop device that holds `image` now, open (so that it cannot detach
  // meanwhile and be given to another image), or "" and no descriptor.
  std::pair<std::string, UniqueFd> find(const struct stat& image) {
    std::lock_guard lock(m_mutex);
    if (!m_scanned) {
      scan();
      m_scanned = true;
    }
    const auto it = m_devices.find({image.st_dev, image.st_ino});
    if (it == m_devices.end()) {
      return {"", UniqueFd()};
    }
    UniqueFd loop(open(it->second.c_str(), O_RDWR | O_CLOEXEC));
    if (!loop.valid() || !holds(loop.get(), image.st_dev, image.st_ino)) {
      m_devices.erase(it);
      return {"", UniqueFd()};
    }
    return {it->second, std::move(loop)};
  }

  void attached(const struct stat& image, const std::string& device) {
    std::lock_guard lock(m_mutex);
    m_devices[{image.st_dev, image.st_ino}] = device;
  }

 private:
  static bool holds(int loop, dev_t dev, ino_t inode) {
    loop_info64 info{};
    return ioctl(loop, LOOP_GET_STATUS64, &info) == 0 && info.lo_inode == inode &&
           info.lo_device == dev;
  }

  // Every attached loop device (sysfs has loop/backing_file only while one
  // is), by what the device itself records of its file.
  void scan() {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator("/sys/block", ec)) {
      const std::string name = entry.path().filename().string();
      if (!name.starts_with("loop") || !fs::exists(entry.path() / "loop" / "backing_file", ec)) {
        continue;
      }
      std::string device = "/dev/" + name;
      const UniqueFd loop(open(device.c_str(), O_RDONLY | O_CLOEXEC));
      loop_info64 info{};
      if (loop.valid() && ioctl(loop.get(), LOOP_GET_STATUS64, &info) == 0) {
        m_devices[{static_cast<dev_t>(info.lo_device), static_cast<ino_t>(info.lo_inode)}] =
            std::move(device);
      }
    }
  }

  std::mutex m_mutex;
  bool m_scanned = false;
  std::map<std::pair<dev_t, ino_t>, std::string> m_devices;
};

LoopIndex& loop_index() {
  static LoopIndex index;
  return index;
}

// "loopN" when `dir` is the root of a file system on /dev/loopN, else "".
// /sys/dev/block/MAJ:MIN -> .../block/loopN (there may be no udev for
// /dev/block/).
std::string loop_name_of_mount(const fs::path& dir) {
  struct stat st {};
  if (stat(dir.c_str(), &st) < 0) {
    return "";
  }
  std::error_code ec;
  const fs::path sys = fs::read_symlink(
      "/sys/dev/block/" + std::to_string(major(st.st_dev)) + ":" + std::to_string(minor(st.st_dev)),
      ec);
  std::string name = sys.filename().string();
  return !ec && name.starts_with("loop") ? name : "";
}

// The loop device holding `image` now (see LoopIndex). Two loop devices
// over one image would be two file systems writing one file: an image
// whose file system lives on (a mount left in another mount namespace) is
// mounted again through its own device, as mount(8) does.
std::pair<std::string, UniqueFd> loop_device_of(const struct stat& image) {
  return loop_index().find(image);
}

// A free loop device with `backing` attached; it detaches itself when its
// last user goes (autoclear): this descriptor, then the mount.
std::pair<std::string, UniqueFd> attach_loop(const std::string& backing) {
  const UniqueFd file(open(backing.c_str(), O_RDWR | O_CLOEXEC));
  const UniqueFd control(open("/dev/loop-control", O_RDWR | O_CLOEXEC));
  if (!file.valid() || !control.valid()) {
    throw_errno("open " + std::string(file.valid() ? "/dev/loop-control" : backing));
  }
  for (int attempt = 0; attempt < 16; ++attempt) {
    const int number = ioctl(control.get(), LOOP_CTL_GET_FREE);
    if (number < 0) {
      throw_errno("find a free loop device");
    }
    std::string device = "/dev/loop" + std::to_string(number);
    UniqueFd loop(open(device.c_str(), O_RDWR | O_CLOEXEC));
    if (!loop.valid()) {
      throw_errno("open " + device);
    }
    loop_config config{};
    config.fd = static_cast<std::uint32_t>(file.get());
    // Buffered at first (mkfs's blocks are still in the host's page cache,
    // so the mount and a new box's first writes are quick); direct_io()
    // switches once the box runs.
    config.info.lo_flags = LO_FLAGS_AUTOCLEAR;
    backing.copy(reinterpret_cast<char*>(config.info.lo_file_name), LO_NAME_SIZE - 1);
    if (ioctl(loop.get(), LOOP_CONFIGURE, &config) == 0) {
      return {std::move(device), std::move(loop)};
    }
    if (errno != EBUSY) {
      throw_errno("attach to " + device);
    }
    // Another process took it between GET_FREE and CONFIGURE: next one.
  }
  throw Error(ErrorClass::Internal, "no free loop device");
}

// Attaches and mounts without running mount(8) (~5 ms less per box start);
// mount(8) where the kernel or /dev does not allow it (no LOOP_CONFIGURE
// before Linux 5.8, no /dev/loopN node in some containers).
void mount_image(const fs::path& image, const fs::path& dir) {
  const std::string backing = fs::weakly_canonical(image).string();
  struct stat st {};
  if (stat(backing.c_str(), &st) < 0) {
    throw_errno("stat " + image.filename().string());
  }
  auto [device, attached] = loop_device_of(st);
  if (device.empty()) {
    try {
      std::tie(device, attached) = attach_loop(backing);
      loop_index().attached(st, device);
    } catch (const std::exception&) {
      mount_with_tool(image, dir);
      if (const std::string name = loop_name_of_mount(dir); !name.empty()) {
        loop_index().attached(st, "/dev/" + name);
      }
      return;
    }
  }
  if (mount(device.c_str(), dir.c_str(), "ext4", MS_NOSUID | MS_NODEV, "discard") < 0) {
    throw_errno("mount " + image.filename().string() + " (" + device + ")");
  }
}

// Copies [offset, end) of `in` to the same offsets of `out`.
void copy_range(int in, int out, off_t offset, off_t end) {
  while (offset < end) {
    loff_t from = offset;
    loff_t to = offset;
    const ssize_t n =
        copy_file_range(in, &from, out, &to, static_cast<std::size_t>(end - offset), 0);
    if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP)) {
      char buffer[1 << 16];
      const ssize_t got = pread(in, buffer, std::min<off_t>(sizeof buffer, end - offset), offset);
      if (got <= 0 || pwrite(out, buffer, static_cast<std::size_t>(got), offset) != got) {
        throw_errno("copy a disk image");
      }
      offset += got;
      continue;
    }
    if (n <= 0) {
      throw_errno("copy a disk image");
    }
    offset += n;
  }
}

void unmount_dir(const fs::path& dir) {
  if (umount2(dir.c_str(), 0) < 0 && errno != EINVAL && errno != ENOENT) {
    if (umount2(dir.c_str(), MNT_DETACH) < 0) {
      throw_errno("umount " + dir.string());
    }
  }
}

}  // namespace

std::string DiskImages::probe(const fs::path& scratch_dir) {
  if (geteuid() != 0) {
    return "loop devices need root";
  }
  if (access("/dev/loop-control", R_OK | W_OK) != 0) {
    return "no usable /dev/loop-control";
  }
  if (mkfs_path().empty()) {
    return "mkfs.ext4 is not installed";
  }
  const fs::path dir = scratch_dir / ".disk-probe";
  std::error_code ec;
  unmount(dir);
  fs::remove(image_of(dir), ec);
  fs::remove_all(dir, ec);
  try {
    create(dir, 4ULL << 20, 0, 0);
  } catch (const std::exception& e) {
    fs::remove_all(dir, ec);
    return e.what();
  }
  std::string problem;
  try {
    remove(dir);
  } catch (const std::exception& e) {
    problem = e.what();
  }
  fs::remove_all(dir, ec);
  return problem;
}

fs::path DiskImages::image_of(const fs::path& dir) {
  return dir.parent_path() / (dir.filename().string() + ".img");
}

bool DiskImages::is_mount_point(const fs::path& dir) {
  struct stat here {};
  struct stat parent {};
  if (stat(dir.c_str(), &here) != 0 || stat(dir.parent_path().c_str(), &parent) != 0) {
    return false;
  }
  return here.st_dev != parent.st_dev;
}

void DiskImages::make_image(const fs::path& image, std::uint64_t size, unsigned uid, unsigned gid) {
  make_sparse(image, size);
  try {
    mkfs(image, size, uid, gid);
  } catch (...) {
    unlink(image.c_str());
    throw;
  }
}

void DiskImages::create(const fs::path& dir, std::uint64_t size, unsigned uid, unsigned gid) {
  const fs::path image = image_of(dir);
  ensure_dir(dir.parent_path(), 0700);
  ensure_dir(dir, 0755);
  make_image(image, size, uid, gid);
  try {
    mount_image(image, dir);
  } catch (...) {
    unlink(image.c_str());
    throw;
  }
  // mkfs's lost+found would show up in the box; fsck recreates it if needed.
  rmdir((dir / "lost+found").c_str());
}

void DiskImages::adopt(const fs::path& dir, unsigned uid, unsigned gid) {
  const fs::path image = image_of(dir);
  try {
    ensure_dir(dir, 0755);
    mount_image(image, dir);
    if (chown(dir.c_str(), uid, gid) < 0) {
      const int saved = errno;
      unmount_dir(dir);
      errno = saved;
      throw_errno("chown " + dir.string());
    }
  } catch (...) {
    unlink(image.c_str());
    throw;
  }
  rmdir((dir / "lost+found").c_str());
}

void DiskImages::sync(const fs::path& dir) {
  if (!is_mount_point(dir)) {
    return;
  }
  const UniqueFd fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0 || syncfs(fd.get()) < 0) {
    throw_errno("sync " + dir.string());
  }
}

void DiskImages::copy(const fs::path& from, const fs::path& to) {
  const fs::path source = image_of(from);
  const fs::path target = image_of(to);
  const fs::path partial = target.string() + ".partial";
  unlink(partial.c_str());
  const UniqueFd in(open(source.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat st {};
  if (in.get() < 0 || fstat(in.get(), &st) < 0) {
    throw_errno("open " + source.string());
  }
  const UniqueFd out(open(partial.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (out.get() < 0) {
    throw_errno("create " + partial.string());
  }
  try {
    if (ftruncate(out.get(), st.st_size) < 0) {
      throw_errno("size " + partial.string());
    }
    // Only the data: a hole stays a hole, so a copy takes what the disk
    // holds, not its size.
    off_t offset = 0;
    while (offset < st.st_size) {
      const off_t data = lseek(in.get(), offset, SEEK_DATA);
      if (data < 0) {
        if (errno == ENXIO) {
          break;  // only a hole is left
        }
        throw_errno("read " + source.string());
      }
      off_t hole = lseek(in.get(), data, SEEK_HOLE);
      if (hole < 0) {
        hole = st.st_size;
      }
      copy_range(in.get(), out.get(), data, hole);
      offset = hole;
    }
    if (fsync(out.get()) < 0 || rename(partial.c_str(), target.c_str()) < 0) {
      throw_errno("write " + target.string());
    }
  } catch (...) {
    unlink(partial.c_str());
    throw;
  }
}

void DiskImages::grow(const fs::path& dir, std::uint64_t size) {
  const fs::path image = image_of(dir);
  struct stat st {};
  if (stat(image.c_str(), &st) < 0) {
    throw_errno("stat " + image.string());
  }
  if (size <= static_cast<std::uint64_t>(st.st_size)) {
    return;
  }
  const std::string tool = first_existing({"/usr/sbin/resize2fs", "/sbin/resize2fs"});
  if (tool.empty()) {
    throw Error(ErrorClass::Internal, "resize2fs is not installed");
  }
  // Only an image no file system uses: resize2fs under a live one (its
  // loop device still attached, e.g. pinned by a mount in another
  // namespace) corrupts it.
  if (!loop_device_of(st).first.empty()) {
    throw Error(ErrorClass::Internal,
                "cannot grow " + image.filename().string() + ": its file system is still in use");
  }
  // A copy of a mounted image has a journal to replay: e2fsck replays it
  // (and checks the rest) before resize2fs, which would otherwise change
  // the file system under that journal.
  const std::string fsck = first_existing({"/usr/sbin/e2fsck", "/sbin/e2fsck"});
  if (fsck.empty()) {
    throw Error(ErrorClass::Internal, "e2fsck is not installed");
  }
  const auto checked = run_command({fsck, "-f", "-y", image.string()});
  if (checked.status >= 4) {
    throw Error(ErrorClass::Internal, "e2fsck of " + image.filename().string() +
                                          " failed: " + first_line(checked.error_output));
  }
  if (truncate(image.c_str(), static_cast<off_t>(size)) < 0) {
    throw_errno("size " + image.string());
  }
  const auto result = run_command({tool, "-f", image.string()});
  if (result.status != 0) {
    truncate(image.c_str(), st.st_size);
    throw Error(ErrorClass::Internal, "resize2fs failed: " + first_line(result.error_output));
  }
}

std::uint64_t DiskImages::allocated_bytes(const fs::path& dir) {
  struct stat st {};
  if (stat(image_of(dir).c_str(), &st) < 0) {
    return 0;
  }
  return static_cast<std::uint64_t>(st.st_blocks) * 512;
}

void DiskImages::direct_io(const fs::path& dir) {
  const std::string name = is_mount_point(dir) ? loop_name_of_mount(dir) : "";
  if (name.empty()) {
    return;
  }
  const UniqueFd loop(open(("/dev/" + name).c_str(), O_RDONLY | O_CLOEXEC));
  if (loop.valid()) {
    // Refused (EINVAL) where the host's file system cannot do direct I/O:
    // it stays buffered then.
    ioctl(loop.get(), LOOP_SET_DIRECT_IO, 1UL);
  }
}

bool DiskImages::has_image(const fs::path& dir) {
  struct stat st {};
  return lstat(image_of(dir).c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

void DiskImages::ensure_mounted(const fs::path& dir) {
  if (!has_image(dir) || is_mount_point(dir)) {
    return;
  }
  ensure_dir(dir, 0755);
  mount_image(image_of(dir), dir);
}

void DiskImages::unmount(const fs::path& dir) {
  if (is_mount_point(dir)) {
    // Written out first: if a copy of this mount lives on in another mount
    // namespace (any local user can make one with unshare), the unmount
    // below does not write the file system back, and the image must be
    // complete for a copy or a later mount through the same device.
    try {
      sync(dir);
    } catch (const std::exception&) {
    }
    unmount_dir(dir);
  }
}

void DiskImages::remove(const fs::path& dir) {
  unmount(dir);
  const fs::path image = image_of(dir);
  if (unlink(image.c_str()) < 0 && errno != ENOENT) {
    throw_errno("remove " + image.string());
  }
}

}  // namespace boxd::local
