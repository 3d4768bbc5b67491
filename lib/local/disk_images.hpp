// Size-limited disks for boxd local: each disk is a sparse file
// <state>/disks/<id>.img holding an ext4 file system of exactly the disk's
// size, loop-mounted on the disk's directory <state>/disks/<id>/ on the
// host; the box gets a bind mount of that directory as before, so writing
// past the size fails inside the box with ENOSPC, like on a real volume.
//
// How it works: mkfs.ext4 (no reserved blocks, root directory owned by the
// box user, lazy inode tables so a 10 GiB disk is made in well under a
// second and takes a few MB until written) on a file ftruncate()d to the
// size; `mount -o loop` (util-linux sets up the loop device and frees it at
// unmount). A graceful server stop unmounts every image (no loop device is
// left behind) and the next start mounts them again; after a kill -9 the
// mounts stay and are adopted. DestroyDisk unmounts and removes the image.
//
// What can go wrong: loop devices need root and a /dev/loop-control the
// container lets us use, and mkfs.ext4 must be installed. probe() tries the
// whole cycle once at startup on a tiny image; when any step fails the
// server says why and disks are plain directories whose size is recorded
// but not enforced (as before). A disk created in that mode stays a
// directory even if a later start could do images.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace boxd::local {

class DiskImages {
 public:
  // Tries mkfs + loop mount + unmount on a small image in `scratch_dir`.
  // Returns "" when disk images work here, else why not.
  static std::string probe(const std::filesystem::path& scratch_dir);

  // The image file of a disk whose data directory is `dir`.
  static std::filesystem::path image_of(const std::filesystem::path& dir);

  // Creates the image (size bytes, ext4, root owned by uid:gid) and mounts
  // it on `dir` (created if missing). Throws boxd::Error, leaving nothing
  // behind, when any step fails.
  static void create(const std::filesystem::path& dir, std::uint64_t size, unsigned uid,
                     unsigned gid);
  // Mounts the disk's image on `dir` unless it is mounted already. No-op
  // for a directory-only disk (no image).
  static void ensure_mounted(const std::filesystem::path& dir);
  // Unmounts `dir` if it is a mount point (the loop device goes with it).
  static void unmount(const std::filesystem::path& dir);
  // Unmounts `dir` if it is a mount point and removes the image.
  static void remove(const std::filesystem::path& dir);
  static bool is_mount_point(const std::filesystem::path& dir);
};

}  // namespace boxd::local
