// Disk images (disk_images.hpp): the sparse copy that fork and snapshots
// use for box disks, growing a copy, and the spare images made ahead
// (spare_images.hpp). The copy needs no privileges; the
// grow test makes, mounts and unmounts a real ext4 image, so it needs root
// and loop devices (as the server's images do) and says so when it cannot.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "common/files.hpp"
#include "local/disk_images.hpp"
#include "local/spare_images.hpp"
#include "local_test_support.hpp"

using namespace boxd::local;
namespace fs = std::filesystem;

namespace {

constexpr off_t k_mib = 1 << 20;

std::string read_all(const fs::path& path) {
  return boxd::read_file(path).value_or("<unreadable>");
}

void write_at(int fd, off_t offset, const std::string& data) {
  REQUIRE(pwrite(fd, data.data(), data.size(), offset) == static_cast<ssize_t>(data.size()));
}

// Whether images can be made and mounted here (root, loop devices,
// mkfs.ext4); says why not when they cannot.
bool disk_images_work(const fs::path& scratch) {
  const std::string problem = DiskImages::probe(scratch);
  if (!problem.empty()) {
    MESSAGE("not run: disk images do not work here (" << problem << ")");
  }
  return problem.empty();
}

// A mounted 16 MiB disk `dir`/disk holding the file "kept".
fs::path kept_disk(const fs::path& dir) {
  const fs::path disk = dir / "disk";
  DiskImages::create(disk, 16 * k_mib, 0, 0);
  std::ofstream(disk / "kept") << "data";
  return disk;
}

}  // namespace

TEST_CASE("disk images: a copy has the same bytes and keeps the holes") {
  test::TempDir dir;
  const fs::path from = dir.path() / "a";
  const fs::path to = dir.path() / "b";
  {
    const int fd = open(DiskImages::image_of(from).c_str(), O_WRONLY | O_CREAT, 0600);
    REQUIRE(fd >= 0);
    REQUIRE(ftruncate(fd, 64 * k_mib) == 0);
    write_at(fd, 0, std::string(k_mib, 'a'));
    write_at(fd, 40 * k_mib + 123, std::string(3 * k_mib, 'b'));
    write_at(fd, 64 * k_mib - 3, "end");
    close(fd);
  }
  CHECK(DiskImages::has_image(from));
  CHECK_FALSE(DiskImages::has_image(to));
  DiskImages::copy(from, to);
  CHECK(DiskImages::has_image(to));
  CHECK(fs::file_size(DiskImages::image_of(to)) == 64 * k_mib);
  CHECK(read_all(DiskImages::image_of(to)) == read_all(DiskImages::image_of(from)));
  // Only the data is written: ~5 MiB of a 64 MiB file.
  CHECK(DiskImages::allocated_bytes(to) <= DiskImages::allocated_bytes(from) + 64 * 1024);
  CHECK(DiskImages::allocated_bytes(to) < 8 * k_mib);
  CHECK_FALSE(fs::exists(DiskImages::image_of(to).string() + ".partial"));
  // Again over an existing copy: replaced whole.
  {
    const int fd = open(DiskImages::image_of(from).c_str(), O_WRONLY);
    write_at(fd, 0, "changed");
    close(fd);
  }
  DiskImages::copy(from, to);
  CHECK(read_all(DiskImages::image_of(to)).starts_with("changed"));
  CHECK(DiskImages::allocated_bytes(dir.path() / "none") == 0);
}

TEST_CASE("disk images: a copy grows to a larger size and keeps its files") {
  test::TempDir dir;
  if (!disk_images_work(dir.path())) {
    return;
  }
  const fs::path disk = kept_disk(dir.path());
  DiskImages::unmount(disk);
  DiskImages::copy(disk, dir.path() / "copy");
  const fs::path copy = dir.path() / "copy";
  DiskImages::grow(copy, 48 * k_mib);
  DiskImages::grow(copy, 8 * k_mib);  // smaller: left as it is
  CHECK(fs::file_size(DiskImages::image_of(copy)) == 48 * k_mib);
  fs::create_directory(copy);
  DiskImages::ensure_mounted(copy);
  CHECK(DiskImages::is_mount_point(copy));
  struct statvfs st {};
  REQUIRE(statvfs(copy.c_str(), &st) == 0);
  CHECK(st.f_blocks * st.f_frsize > 40 * static_cast<std::uint64_t>(k_mib));
  CHECK(read_all(copy / "kept") == "data");
  DiskImages::remove(copy);
  DiskImages::remove(disk);
  CHECK_FALSE(DiskImages::is_mount_point(copy));
  CHECK_FALSE(fs::exists(DiskImages::image_of(copy)));
}

TEST_CASE("disk images: an image its loop device still holds is mounted again through it") {
  test::TempDir dir;
  if (!disk_images_work(dir.path())) {
    return;
  }
  const fs::path disk = kept_disk(dir.path());
  struct stat mounted {};
  REQUIRE(stat(disk.c_str(), &mounted) == 0);
  // Someone keeps the file system's device open past the unmount, as a
  // mount left in another mount namespace does: the loop device (autoclear)
  // stays attached to the image.
  const fs::path device =
      fs::read_symlink("/sys/dev/block/" + std::to_string(major(mounted.st_dev)) + ":" +
                       std::to_string(minor(mounted.st_dev)))
          .filename();
  const int held = open(("/dev/" + device.string()).c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(held >= 0);
  DiskImages::unmount(disk);
  CHECK_FALSE(DiskImages::is_mount_point(disk));
  CHECK(fs::exists("/sys/block" / device / "loop" / "backing_file"));
  // A second loop device would be a second file system over the same file.
  DiskImages::ensure_mounted(disk);
  struct stat again {};
  REQUIRE(stat(disk.c_str(), &again) == 0);
  CHECK(again.st_dev == mounted.st_dev);
  CHECK(read_all(disk / "kept") == "data");
  DiskImages::unmount(disk);
  CHECK_THROWS_WITH(DiskImages::grow(disk, 32 * k_mib),
                    doctest::Contains("its file system is still in use"));
  close(held);
  // Released: the device detaches, and the image is mounted on a device
  // of its own again (the index drops what no longer holds it).
  for (int i = 0; i < 100 && fs::exists("/sys/block" / device / "loop" / "backing_file"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  DiskImages::grow(disk, 32 * k_mib);
  DiskImages::ensure_mounted(disk);
  CHECK(read_all(disk / "kept") == "data");
  DiskImages::remove(disk);
  CHECK_FALSE(fs::exists(DiskImages::image_of(disk)));
}

TEST_CASE("spare images: one is ready after a while, a take moves it, the thread makes the next") {
  test::TempDir dir;
  if (!fs::exists("/usr/sbin/mkfs.ext4") && !fs::exists("/sbin/mkfs.ext4")) {
    MESSAGE("not run: mkfs.ext4 is not installed");
    return;
  }
  fs::create_directories(dir.path() / "spare");
  std::ofstream(dir.path() / "spare" / "left-from-a-crash") << "x";
  SpareImages spares(dir.path() / "spare", 8 * k_mib, 1);
  CHECK(spares.size() == 8 * k_mib);
  CHECK_FALSE(fs::exists(dir.path() / "spare" / "left-from-a-crash"));
  const auto take_within = [&](const fs::path& image) {
    for (int i = 0; i < 200; ++i) {
      if (spares.take(image)) {
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    return false;
  };
  REQUIRE(take_within(dir.path() / "a.img"));
  CHECK(fs::file_size(dir.path() / "a.img") == 8 * k_mib);
  CHECK_FALSE(spares.take(dir.path() / "b.img"));  // the next one is not made at once
  REQUIRE(take_within(dir.path() / "b.img"));
  // Two file systems, not one file twice (each spare is its own mkfs).
  CHECK(read_all(dir.path() / "a.img") != read_all(dir.path() / "b.img"));
}
