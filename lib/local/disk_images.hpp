// Size-limited disks for boxd local: each disk is a sparse file
// <state>/disks/<id>.img holding an ext4 file system of exactly the disk's
// size, loop-mounted on the disk's directory <state>/disks/<id>/ on the
// host; the box gets a bind mount of that directory as before, so writing
// past the size fails inside the box with ENOSPC, like on a real volume.
// A box's own disk is such an image too (<state>/boxes/<id>/disk.img on
// <state>/boxes/<id>/disk, runtime_namespace.cpp), mounted while the box
// runs; fork and snapshots copy the image (copy()).
//
// How it works: mkfs.ext4 (no reserved blocks, root directory owned by the
// box user, lazy inode tables so a 10 GiB disk is made in well under a
// second and takes a few MB until written, a journal of at most 16 MiB) on a
// file ftruncate()d to the size; the image is attached to a free loop device
// (LOOP_CONFIGURE, autoclear: the device goes with the last unmount) and
// mounted nosuid,nodev,discard (discard: a file deleted in the disk gives
// its blocks back to the host, so the image takes what the disk holds now,
// not the most it ever held). An image already on a loop device (its file
// system alive in some mount namespace) is mounted through that device,
// never a second one (found through an index of the loop devices this
// process attached, seeded by one scan of /sys/block); mount(8) does it all
// where the ioctls are refused. A
// graceful server stop unmounts every image (no loop device is left
// behind) and the next start mounts them again; after a kill -9 the mounts
// stay and are adopted. DestroyDisk unmounts and removes the image.
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
  // Makes an unmounted image file (size bytes, ext4, root owned by
  // uid:gid) at `image`; nothing is left behind when it fails.
  static void make_image(const std::filesystem::path& image, std::uint64_t size, unsigned uid,
                         unsigned gid);
  // create() for an image made by make_image() and already moved to
  // image_of(dir): mounts it on `dir` and gives its root to uid:gid. The
  // image is removed when that fails.
  static void adopt(const std::filesystem::path& dir, unsigned uid, unsigned gid);
  // Mounts the disk's image on `dir` unless it is mounted already. No-op
  // for a directory-only disk (no image).
  static void ensure_mounted(const std::filesystem::path& dir);
  // Writes what the file system mounted on `dir` holds in memory to its
  // image (syncfs); no-op when `dir` is not a mount point.
  static void sync(const std::filesystem::path& dir);
  // Copies the image of the disk at `from` to that of `to` (a new file;
  // holes stay holes). The source must not change meanwhile: unmounted, or
  // synced with no writer (a frozen box). The copy is what a crash at that
  // moment would leave: mounting it replays the journal.
  static void copy(const std::filesystem::path& from, const std::filesystem::path& to);
  // Grows the unmounted image of the disk at `dir` and its file system to
  // `size` bytes (no-op when it is that large already).
  static void grow(const std::filesystem::path& dir, std::uint64_t size);
  // The bytes the image of the disk at `dir` takes on the host (0: none).
  static std::uint64_t allocated_bytes(const std::filesystem::path& dir);
  // Switches the loop device of the image mounted on `dir` to direct I/O:
  // its pages are then cached once, by the file system in it, not a second
  // time as the image file's on the host. Buffered, a 1 GiB upload replaced
  // five times took 0.4, 0.8, 3.6, 2.5, 5.5 s (the dirty pages twice over
  // throttle the writer); direct, 0.4-0.8 s each. Not at the mount: mkfs's
  // blocks are still in the host's page cache, and a new box's mount and
  // first writes are ~5 ms quicker through it. No-op where refused.
  static void direct_io(const std::filesystem::path& dir);
  // Whether the disk at `dir` is an image (a regular file beside it).
  static bool has_image(const std::filesystem::path& dir);
  // Unmounts `dir` if it is a mount point (the loop device goes with it).
  static void unmount(const std::filesystem::path& dir);
  // Unmounts `dir` if it is a mount point and removes the image.
  static void remove(const std::filesystem::path& dir);
  static bool is_mount_point(const std::filesystem::path& dir);
};

}  // namespace boxd::local
