#include "local/disk_images.hpp"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/error.hpp"
#include "common/files.hpp"
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

void mkfs(const fs::path& image, unsigned uid, unsigned gid) {
  const std::string tool = mkfs_path();
  if (tool.empty()) {
    throw Error(ErrorClass::Internal, "mkfs.ext4 is not installed");
  }
  const auto result = run_command({tool, "-q", "-F", "-m", "0", "-E",
                                   "lazy_itable_init=1,lazy_journal_init=1,nodiscard,root_owner=" +
                                       std::to_string(uid) + ":" + std::to_string(gid),
                                   image.string()});
  if (result.status != 0) {
    throw Error(ErrorClass::Internal, "mkfs.ext4 failed: " + first_line(result.error_output));
  }
}

void mount_image(const fs::path& image, const fs::path& dir) {
  const std::string tool = mount_path();
  if (tool.empty()) {
    throw Error(ErrorClass::Internal, "mount is not installed");
  }
  const auto result =
      run_command({tool, "-t", "ext4", "-o", "loop,nosuid,nodev", image.string(), dir.string()});
  if (result.status != 0) {
    throw Error(ErrorClass::Internal, "cannot loop-mount " + image.filename().string() + ": " +
                                          first_line(result.error_output));
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

void DiskImages::create(const fs::path& dir, std::uint64_t size, unsigned uid, unsigned gid) {
  const fs::path image = image_of(dir);
  ensure_dir(dir.parent_path(), 0700);
  ensure_dir(dir, 0755);
  make_sparse(image, size);
  try {
    mkfs(image, uid, gid);
    mount_image(image, dir);
  } catch (...) {
    unlink(image.c_str());
    throw;
  }
  // mkfs's lost+found would show up in the box; fsck recreates it if needed.
  rmdir((dir / "lost+found").c_str());
}

void DiskImages::ensure_mounted(const fs::path& dir) {
  const fs::path image = image_of(dir);
  if (!fs::exists(image) || is_mount_point(dir)) {
    return;
  }
  ensure_dir(dir, 0755);
  mount_image(image, dir);
}

void DiskImages::unmount(const fs::path& dir) {
  if (is_mount_point(dir)) {
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
