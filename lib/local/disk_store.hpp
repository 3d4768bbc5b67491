// The local server's disks: records kept in <state_dir>/disks.json (apart
// from state.json so disks can evolve on their own), data directories in
// <state_dir>/disks/<id>/.
//
// A disk is a directory: where loop devices work, the mount point of an
// ext4 image of exactly its size (disk_images.hpp), so the size is
// enforced; elsewhere a plain directory whose size is only recorded. It is attached to at
// most one box at a time; the attachment (box id, mount path, read-only) is
// recorded here and applied by the runtime as a bind mount inside the box,
// now if the box runs and again at every boot. Same persistence scheme as
// Store: change in memory under the mutex, rewrite the whole document with
// write_file_atomic.
#pragma once

#include <cstdint>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace boxd::local {

struct DiskRecord {
  std::string id;
  std::string name;
  std::string owner;
  std::uint64_t size_bytes = 0;
  std::int64_t created_at = 0;
  std::string vm_id;       // attached box ("" = not attached)
  std::string mount_path;  // absolute path inside the box
  bool read_only = false;
};

std::string disks_to_json(const std::vector<DiskRecord>& disks);
std::vector<DiskRecord> disks_from_json(const std::string& text);

class DiskStore {
 public:
  // Loads <state_dir>/disks.json if it exists.
  explicit DiskStore(std::filesystem::path state_dir);

  std::filesystem::path data_dir(const std::string& id) const { return m_state_dir / "disks" / id; }

  template <class Fn>
  auto update(Fn&& fn) -> decltype(fn(std::declval<std::vector<DiskRecord>&>())) {
    std::lock_guard lock(m_mutex);
    if constexpr (std::is_void_v<decltype(fn(m_disks))>) {
      fn(m_disks);
      save_locked();
    } else {
      auto result = fn(m_disks);
      save_locked();
      return result;
    }
  }

  std::vector<DiskRecord> all() const;
  // The owner's disk by name or id.
  std::optional<DiskRecord> find(const std::string& owner, const std::string& name_or_id) const;
  // Every disk attached to this box.
  std::vector<DiskRecord> attached_to(const std::string& vm_id) const;

 private:
  void save_locked();

  std::filesystem::path m_state_dir;
  mutable std::mutex m_mutex;
  std::vector<DiskRecord> m_disks;
};

}  // namespace boxd::local
