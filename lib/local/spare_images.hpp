// Formatted ext4 images kept ready for new box disks, so that `box create`
// does not wait for mkfs.ext4 (~10 ms of a ~25 ms create).
//
// A thread of its own keeps up to `count` unmounted images of one size (the
// default box disk's) in <dir>/ (made under a temporary name, renamed when
// complete); take() moves one to where a new box's image goes, and the
// thread makes the next. Their root directory belongs to host root until the
// caller gives it to the box (DiskImages::adopt()). Only the default size is
// kept: a box asking for another size gets a fresh mkfs.
//
// What can go wrong: mkfs fails (disk full): the thread logs it once, waits
// and tries again later; take() meanwhile finds nothing and the caller runs
// mkfs itself. What <dir>/ holds at start (a server killed mid-mkfs) is
// removed first.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <thread>
#include <vector>

namespace boxd::local {

class SpareImages {
 public:
  SpareImages(std::filesystem::path dir, std::uint64_t size, std::size_t count);
  ~SpareImages();
  SpareImages(const SpareImages&) = delete;
  SpareImages& operator=(const SpareImages&) = delete;

  std::uint64_t size() const { return m_size; }
  // Renames a ready image to `image` (same file system) and returns true;
  // false when none is ready.
  bool take(const std::filesystem::path& image);

 private:
  void run(const std::stop_token& stop);

  const std::filesystem::path m_dir;
  const std::uint64_t m_size;
  const std::size_t m_count;
  std::mutex m_mutex;
  std::condition_variable_any m_wake;
  std::vector<std::filesystem::path> m_ready;
  std::uint64_t m_made = 0;  // names the next image
  std::jthread m_thread;     // last: stopped and joined first
};

}  // namespace boxd::local
