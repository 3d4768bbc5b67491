// The domain layer of boxd local for disks: create, list, destroy, attach,
// detach, the size and quota rules every disk size obeys, and the two hooks
// the box lifecycle calls (apply() after every boot, forget() after a
// destroy: BoxHooks in boxes.hpp). No gRPC type here (the adapter is
// service_disks.cpp).
//
// A disk is a directory <state>/disks/<id> owned by the box user and a
// record in DiskStore (disk_store.hpp). Where loop devices work
// (disk_images.hpp) the directory is the mount point of an ext4 image of
// exactly the disk's size, so the size is enforced; elsewhere it is a plain
// directory and the size is only recorded (the server says so at startup:
// prepare_images()). Attaching records (box, mount path, mode) first, under
// the DiskStore lock, so two concurrent attaches of one disk cannot both
// win; then, when the box runs, the runtime bind-mounts the directory inside
// the box (Runtime::mount_disk); a failed mount rolls the record back. A
// stopped box gets its disks at its next boot. Attach and detach hold the
// box's operation lock (Boxes::op_lock), so a disk is never mounted into a
// box that is half booted. Detach unmounts first and forgets the record only
// when that worked. Destroying a box forgets its attachments (its mount
// namespace died with it): disks outlive boxes. Destroying a disk is refused
// while it is attached.
//
// Faults: another user's disk or box is NOT_FOUND; a disk attached already
// (or a mount path taken) is FAILED_PRECONDITION; sizes below 4 MiB and bad
// names or mount paths are INVALID_ARGUMENT; --max-disks, --max-disk-bytes
// and the free space of the state dir are RESOURCE_EXHAUSTED.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "local/boxes.hpp"
#include "local/disk_store.hpp"
#include "local/store.hpp"

namespace boxd::local {

struct DisksOptions {
  std::filesystem::path state_dir;              // disks live in <state_dir>/disks/<id>
  int max_disks = 20;                           // per user
  std::uint64_t max_disk_bytes = 500ULL << 30;  // per user: disks, box disks, snapshots
};

// What an attach asks for.
struct DiskAttachment {
  std::string disk;        // name or id
  std::string vm;          // name or id of the caller's box
  std::string mount_path;  // as given: relative = relative to /home/boxd
  bool read_only = false;
};

class Disks {
 public:
  // Loads the records (<state_dir>/disks.json); the runtime is the boxes'.
  Disks(DisksOptions options, Store& store, Boxes& boxes);

  // A new disk `name` of `size_bytes` (0 = 10 GiB) for `user`.
  DiskRecord create(const std::string& user, const std::string& name, std::uint64_t size_bytes);
  // The user's disks, oldest first.
  std::vector<DiskRecord> list(const std::string& user) const;
  // Removes a disk that is not attached, with its data.
  void destroy(const std::string& user, const std::string& disk);
  // Records the attachment and, when the box runs, mounts the disk now.
  // Returns the record as attached.
  DiskRecord attach(const std::string& user, const DiskAttachment& wanted);
  // Unmounts (when the box runs) and forgets the attachment; returns the
  // record as detached.
  DiskRecord detach(const std::string& user, const std::string& disk, const std::string& vm);

  // Every size a request gives for a disk (CreateDisk, a box's or a
  // template's disk_bytes; 0 = the default, not checked): at least 4 MiB,
  // at most --max-disk-bytes and the free space of the state dir's file
  // system. `what` names it in the message.
  void check_size(std::uint64_t bytes, const std::string& what) const;
  // A user with `count` disks of `total` bytes adds one of `adding` bytes
  // (--max-disks, --max-disk-bytes).
  void check_quota(int count, std::uint64_t total, std::uint64_t adding) const;
  // --max-disk-bytes alone: `in_use` bytes (disk sizes and snapshot bytes)
  // plus `adding`.
  void check_bytes(std::uint64_t in_use, std::uint64_t adding) const;
  // The sizes of the user's disks together.
  std::uint64_t bytes_of(const std::string& user) const;
  // The lock boxes and snapshots take for --max-disk-bytes (DiskQuota);
  // create() takes it too.
  void set_quota_lock(std::shared_ptr<std::mutex> lock) { m_quota_lock = std::move(lock); }

  // At startup: decides whether disks are size-limited images (says so in
  // the log) and mounts the images of existing disks.
  void prepare_images();
  // At shutdown, once the boxes are stopped: unmounts the disk images, so
  // a stopped server leaves no loop device behind (the next start mounts
  // them again).
  void unmount_images();
  // BoxHooks::booted: mounts the box's attached disks (failures are logged
  // to the server log and the box's console, the boot goes on).
  void apply(const BoxRecord& box, const BoxHandle& handle);
  // BoxHooks::destroyed: forgets a destroyed box's attachments.
  void forget(const BoxRecord& box);

  // The host directory holding a disk's data.
  std::filesystem::path data_dir(const std::string& id) const { return m_records.data_dir(id); }

 private:
  void make_data_dir(const DiskRecord& disk);
  void mount_failed(const BoxRecord& box, const DiskRecord& disk, const std::string& why);
  // The name of the caller's box `id` for messages (the id when it is gone).
  std::string box_name(const std::string& user, const std::string& id) const;
  void clear_attachment(const std::string& disk_id, const std::string& box_id);

  DisksOptions m_options;
  Store& m_store;
  Boxes& m_boxes;
  Runtime& m_runtime;
  DiskStore m_records;
  bool m_images = false;  // set by prepare_images()
  std::shared_ptr<std::mutex> m_quota_lock;
};

}  // namespace boxd::local
