// The domain layer of boxd local for snapshots: a snapshot is a real copy
// of a box's disk (the overlay upper layers and /home, /root, /tmp; not
// attached disks, which live on their own), kept in
// <state_dir>/snapshots/<id>/ and recorded in state.json, so it survives
// restarts. A box made from it gets a copy and boots with that data. No
// gRPC type here (the adapter is service_snapshots.cpp).
//
// Consistency: a running box is frozen (the same freeze as SuspendVm) for
// the length of the copy and thawed after (Boxes::copy_disk_frozen), so no
// process writes while the files are read; a suspended or stopped box is
// copied as it is. Upstream requires a running box; boxd local also accepts
// the other two, since the copy is just as consistent. The box's operation
// lock is held throughout, so a snapshot never races a stop, a destroy or
// another snapshot.
//
// Names: a snapshot name is unique per user; saving the same name again
// replaces the data and bumps `version` (the id stays). The copy goes to a
// temporary directory first and replaces the old data only once complete,
// so a failed copy leaves the previous version intact. An empty name means
// the box's name. Every call takes a snapshot name or id.
//
// What can go wrong: the copy of a big disk takes as long as `cp -a`; the
// box stays frozen that long (its clients see a pause, not an error). A
// snapshot being deleted while a box is created from it waits for the other
// call (a per-snapshot operation lock).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "local/boxes.hpp"
#include "local/store.hpp"

namespace boxd::local {

class Snapshots {
 public:
  Snapshots(std::filesystem::path state_dir, Store& store, Boxes& boxes);
  void set_quota(DiskQuota quota) { m_quota = std::move(quota); }

  // Saves the caller's box `vm` as snapshot `name` ("" = the box's name).
  SnapshotRecord save(const std::string& user, const std::string& vm, const std::string& name);
  // NOT_FOUND "snapshot 'KEY' not found" unless the caller has it.
  SnapshotRecord get(const std::string& user, const std::string& key) const;
  // The caller's snapshots, oldest first.
  std::vector<SnapshotRecord> list(const std::string& user) const;
  void remove(const std::string& user, const std::string& key);
  // A new box `name` ("" = generated) with the snapshot's data and sizes,
  // `configure` applied to the record before it is reserved; returns the
  // boot time in ms, `box` is the new record.
  std::int64_t create_box(const std::string& user, const std::string& key, const std::string& name,
                          const std::function<void(BoxRecord&)>& configure, BoxRecord& box);

  // The directory holding a snapshot's disk.
  std::filesystem::path dir(const std::string& id) const { return m_state_dir / "snapshots" / id; }

 private:
  std::optional<SnapshotRecord> find(const std::string& user, const std::string& key) const;
  // Copies the box's disk into the snapshot's temp directory (dir(id +
  // ".new")); the old data stays until swap_in().
  void copy_to_temp(const BoxRecord& box, const std::string& id);
  // The copy made by copy_to_temp() becomes the snapshot's data, in one
  // exchange; the old data is left in dir(id + ".new") for the caller to
  // remove (outside any lock: it may be GiBs).
  void swap_in(const std::string& id);
  void record_copy(const std::string& user, const SnapshotRecord& snap, bool is_new);
  // Room for one more of the user's snapshots (--max-records).
  void check_snapshot_room(const StoreData& data, const std::string& user) const;
  // Room for `adding` bytes of snapshot `id` (replacing its old data) next to
  // the user's disks (`disk_bytes`) and other snapshots (--max-disk-bytes).
  void check_bytes_room(const StoreData& data, const std::string& user, const std::string& id,
                        std::uint64_t disk_bytes, std::uint64_t adding) const;

  std::filesystem::path m_state_dir;
  Store& m_store;
  Boxes& m_boxes;
  DiskQuota m_quota;
};

}  // namespace boxd::local
