// Disk images (disk_images.hpp): the sparse copy that fork and snapshots
// use for box disks, and growing a copy. The copy needs no privileges; the
// grow test makes, mounts and unmounts a real ext4 image, so it needs root
// and loop devices (as the server's images do) and says so when it cannot.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "common/files.hpp"
#include "local/disk_images.hpp"
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
  const std::string problem = DiskImages::probe(dir.path());
  if (!problem.empty()) {
    MESSAGE("not run: disk images do not work here (" << problem << ")");
    return;
  }
  const fs::path disk = dir.path() / "disk";
  DiskImages::create(disk, 16 * k_mib, 0, 0);
  std::ofstream(disk / "kept") << "data";
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
