#include "local/snapshots.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>  // renameat2
#include <cstring>
#include <mutex>
#include <system_error>

#include "common/log.hpp"
#include "local/disk_images.hpp"
#include "local/fault.hpp"
#include "local/rpc_helpers.hpp"
#include "local/runtime_support.hpp"

namespace boxd::local {

namespace {

namespace fs = std::filesystem;

[[noreturn]] void snapshot_not_found(const std::string& key) {
  fail(Fault::NotFound, "snapshot '" + key + "' not found");
}

// Bytes the snapshot uses on disk (allocated blocks, hard links once).
std::uint64_t disk_usage(const fs::path& root) {
  std::uint64_t total = 0;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec),
       end;
       !ec && it != end; it.increment(ec)) {
    struct stat st {};
    if (lstat(it->path().c_str(), &st) == 0 && !S_ISDIR(st.st_mode)) {
      total += static_cast<std::uint64_t>(st.st_blocks) * 512;
    }
  }
  return total;
}

// What a box's disk takes on the host: its image's blocks, or its files'.
std::uint64_t host_bytes_of_disk(const fs::path& disk) {
  return DiskImages::has_image(disk) ? DiskImages::allocated_bytes(disk) : disk_usage(disk);
}

}  // namespace

Snapshots::Snapshots(std::filesystem::path state_dir, Store& store, Boxes& boxes)
    : m_state_dir(std::move(state_dir)), m_store(store), m_boxes(boxes) {}

std::optional<SnapshotRecord> Snapshots::find(const std::string& user,
                                              const std::string& key) const {
  if (key.empty()) {
    return std::nullopt;
  }
  return m_store.read([&](const StoreData& data) -> std::optional<SnapshotRecord> {
    for (const auto& s : data.snapshots) {
      if (s.owner == user && (s.id == key || s.name == key)) {
        return s;
      }
    }
    return std::nullopt;
  });
}

SnapshotRecord Snapshots::get(const std::string& user, const std::string& key) const {
  auto snap = find(user, key);
  if (!snap) {
    snapshot_not_found(key);
  }
  return *snap;
}

std::vector<SnapshotRecord> Snapshots::list(const std::string& user) const {
  auto mine = m_store.read([&](const StoreData& data) {
    std::vector<SnapshotRecord> out;
    for (const auto& s : data.snapshots) {
      if (s.owner == user) {
        out.push_back(s);
      }
    }
    return out;
  });
  std::sort(mine.begin(), mine.end(), [](const SnapshotRecord& a, const SnapshotRecord& b) {
    return a.created_at != b.created_at ? a.created_at < b.created_at : a.name < b.name;
  });
  return mine;
}

void Snapshots::copy_to_temp(const BoxRecord& box, const std::string& id) {
  const fs::path temp_dir = dir(id + ".new");
  remove_tree(temp_dir);
  fs::create_directories(temp_dir.parent_path());
  BoxSpec target;
  target.id = id;
  target.name = box.name;  // the identity files stay the box's
  target.dir = temp_dir;
  try {
    m_boxes.copy_disk_frozen(box, target);
  } catch (...) {
    remove_tree(temp_dir);
    throw;
  }
}

void Snapshots::swap_in(const std::string& id) {
  const fs::path final_dir = dir(id);
  const fs::path new_dir = dir(id + ".new");
  // One atomic exchange when there is an old version: at no time, crash
  // or not, is there no dir(id). The old data ends in dir(id + ".new").
  if (fs::exists(final_dir)) {
    if (renameat2(AT_FDCWD, new_dir.c_str(), AT_FDCWD, final_dir.c_str(), RENAME_EXCHANGE) < 0) {
      fail(Fault::Internal, "cannot put snapshot " + id + " in place: " + std::strerror(errno));
    }
    return;
  }
  fs::rename(new_dir, final_dir);
}

void Snapshots::check_bytes_room(const StoreData& data, const std::string& user,
                                 const std::string& id, std::uint64_t disk_bytes,
                                 std::uint64_t adding) const {
  if (m_quota.check) {
    m_quota.check(disk_bytes + disk_bytes_in_store(data, user, id), adding);
  }
}

void Snapshots::check_snapshot_room(const StoreData& data, const std::string& user) const {
  rpc::check_record_room(
      data.snapshots, [&](const SnapshotRecord& s) { return s.owner == user; },
      m_store.record_limit(), "snapshots");
}

SnapshotRecord Snapshots::save(const std::string& user, const std::string& vm,
                               const std::string& name) {
  SnapshotRecord snap;
  m_boxes.with_locked(user, vm, [&](const BoxRecord& box) {
    const std::string wanted = name.empty() ? box.name : name;
    rpc::check_label("snapshot", wanted);
    if (box.status != BoxStatus::Running && box.status != BoxStatus::Suspended &&
        box.status != BoxStatus::Stopped) {
      fail_box_state(box.name, box.status);
    }
    const auto existing = m_store.read([&](const StoreData& data) -> std::optional<SnapshotRecord> {
      for (const auto& s : data.snapshots) {
        if (s.owner == user && s.name == wanted) {
          return s;
        }
      }
      return std::nullopt;
    });
    snap = existing.value_or(SnapshotRecord{});
    if (!existing) {
      m_store.read([&](const StoreData& data) { check_snapshot_room(data, user); });
      snap.id = rpc::new_id("snap");
      snap.name = wanted;
      snap.owner = user;
      snap.version = 0;
      snap.created_at = rpc::now_secs();
    }
    // The copy takes about what the box's disk takes now; the quota is
    // checked against that first and against the copy's real size after.
    {
      const auto quota_lock = m_quota.hold();
      const std::uint64_t disk_bytes = m_quota.disk_bytes ? m_quota.disk_bytes(user) : 0;
      m_store.read([&](const StoreData& data) {
        check_bytes_room(data, user, snap.id, disk_bytes,
                         host_bytes_of_disk(m_boxes.spec_of(box).dir / "disk"));
      });
    }
    auto lock = m_boxes.op_lock(snap.id);
    std::lock_guard guard(*lock);
    copy_to_temp(box, snap.id);
    snap.version += 1;
    snap.status = SnapshotStatus::Ready;
    snap.size_bytes = disk_usage(dir(snap.id + ".new"));
    snap.vcpu = box.vcpu;
    snap.memory_bytes = box.memory_bytes;
    snap.disk_bytes = box.disk_bytes;
    snap.source_vm = box.name;
    snap.updated_at = rpc::now_secs();
    record_copy(user, snap, !existing);
    logging::info("snapshot " + snap.name + " v" + std::to_string(snap.version) + " (" + snap.id +
                  ") of box " + box.name + " saved for " + user + ", " +
                  std::to_string(snap.size_bytes) + " bytes");
  });
  return snap;
}

// The copy in dir(id + ".new") becomes snapshot `snap`'s data and record,
// once its real size fits the quota (in place of the old data's); refused,
// the copy goes and an old version stays as it was.
void Snapshots::record_copy(const std::string& user, const SnapshotRecord& snap, bool is_new) {
  remove_tree(dir(snap.id + ".old"));  // left by an older server: not under the locks (GiBs)
  try {
    const auto quota_lock = m_quota.hold();
    const std::uint64_t disk_bytes = m_quota.disk_bytes ? m_quota.disk_bytes(user) : 0;
    m_store.update([&](StoreData& data) {
      // Deleted since save() looked (it held no lock then): a new record.
      is_new = is_new || std::none_of(data.snapshots.begin(), data.snapshots.end(),
                                      [&](const SnapshotRecord& s) { return s.id == snap.id; });
      if (is_new) {
        // Again, now under the store's lock: saves of several boxes at
        // once passed the check above together (and could take one name
        // twice).
        if (std::any_of(data.snapshots.begin(), data.snapshots.end(), [&](const SnapshotRecord& s) {
              return s.owner == user && s.name == snap.name;
            })) {
          fail(Fault::AlreadyExists, "snapshot name '" + snap.name + "' already exists");
        }
        check_snapshot_room(data, user);
      }
      // The copy's real size, in place of the old data's when it replaces
      // a version (the box may have written more since the estimate).
      check_bytes_room(data, user, snap.id, disk_bytes, snap.size_bytes);
      swap_in(snap.id);
      std::erase_if(data.snapshots, [&](const SnapshotRecord& s) { return s.id == snap.id; });
      data.snapshots.push_back(snap);
    });
  } catch (...) {
    remove_tree(dir(snap.id + ".new"));  // the copy no record names; an old version stays
    if (is_new) {
      remove_tree(dir(snap.id));
    }
    throw;
  }
  remove_tree(dir(snap.id + ".new"));  // the old version's data, swapped out
}

void Snapshots::remove(const std::string& user, const std::string& key) {
  const auto id = get(user, key).id;
  auto lock = m_boxes.op_lock(id);
  std::lock_guard guard(*lock);
  m_store.update([&](StoreData& data) {
    std::erase_if(data.snapshots, [&](const SnapshotRecord& s) { return s.id == id; });
  });
  remove_tree(dir(id));
  logging::info("snapshot " + key + " (" + id + ") deleted by " + user);
}

std::int64_t Snapshots::create_box(const std::string& user, const std::string& key,
                                   const std::string& name,
                                   const std::function<void(BoxRecord&)>& configure,
                                   BoxRecord& box) {
  auto snap = get(user, key);
  box = m_boxes.draft(user, BoxDraft{name, {}, {}, {}, {}});
  if (snap.vcpu != 0) {
    box.vcpu = snap.vcpu;
  }
  if (snap.memory_bytes != 0) {
    box.memory_bytes = snap.memory_bytes;
  }
  if (snap.disk_bytes != 0) {
    box.disk_bytes = snap.disk_bytes;
  }
  if (configure) {
    configure(box);
  }
  box.source = "snapshot/" + snap.name;

  auto box_lock = m_boxes.op_lock(box.id);
  std::lock_guard box_guard(*box_lock);
  auto snap_lock = m_boxes.op_lock(snap.id);
  std::lock_guard snap_guard(*snap_lock);
  snap = get(user, key);  // deleted while we waited?
  logging::info("creating box " + box.name + " from snapshot " + snap.name + " v" +
                std::to_string(snap.version) + " for " + box.owner);
  BoxSpec source;
  source.id = snap.id;
  source.name = snap.source_vm;
  source.dir = dir(snap.id);
  const auto ms =
      m_boxes.provision(box, [&](const BoxSpec& dst) { m_boxes.runtime().copy_disk(source, dst); });
  m_store.update([&](StoreData& data) {
    for (auto& s : data.snapshots) {
      if (s.id == snap.id) {
        s.use_count += 1;
      }
    }
  });
  return ms;
}

}  // namespace boxd::local
