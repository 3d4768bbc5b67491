// The domain layer of boxd local for boxes: the lifecycle rules of every
// box (create, start, stop, reboot, destroy, suspend, resume, wake, fork,
// resize, timeouts, recovery at start and shutdown), on top of Store (the
// records) and Runtime (the host: processes, disks, freeze/thaw). No gRPC
// type here: callers pass plain values, failures are faults (fault.hpp) that
// the gRPC adapter (service.cpp) turns into statuses.
//
// Rules (docs/wire-contract.md section 7):
//  - every box belongs to one user; another user's box is NOT_FOUND;
//  - the store mutex is held only to read or change records, never while a
//    box boots or stops; a per-box operation lock serialises lifecycle calls
//    on one box, while calls on different boxes run in parallel;
//  - a record is written before a long action with a transient status
//    (starting, stopping, destroying) and after it with the final one, so a
//    crash in between is visible and repaired at the next start (recover()).
// Idempotency: start on a running box and stop on a stopped box succeed
// without doing anything; start on a suspended box resumes it; resume on a
// running box succeeds; suspend and exec need `running`.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "local/runtime.hpp"
#include "local/store.hpp"

namespace boxd::local {

struct BoxesOptions {
  std::filesystem::path state_dir;  // boxes live in <state_dir>/boxes/<id>
  int max_boxes = 50;               // per user
  std::uint64_t box_pids_max = 2048;
};

// What other areas of the server do when a box changes (all optional).
struct BoxHooks {
  std::function<void(const std::string& box_id)> activity;         // restart the idle clock
  std::function<void(const BoxRecord&, const BoxHandle&)> booted;  // mount its disks
  std::function<void(const BoxRecord&)> destroyed;                 // forget its disks
};

// What a create request asks for beyond sizes (checked by draft()).
struct BoxDraft {
  std::string name;            // empty = a generated free name
  std::string image;           // empty or "host"
  std::string restart_policy;  // empty, "always" or "never"
  std::vector<std::pair<std::string, std::string>> env;
  std::vector<std::string> cmd;
};

class Boxes {
 public:
  Boxes(BoxesOptions options, Store& store, Runtime& runtime, BoxHooks hooks = {});
  // A new box's disk size counts against --max-disk-bytes (checked when it
  // is reserved: create, fork, from a snapshot).
  void set_disk_quota(DiskQuota quota) { m_disk_quota = std::move(quota); }

  Runtime& runtime() { return m_runtime; }
  BoxSpec spec_of(const BoxRecord& box) const;
  // The lock that serialises lifecycle calls on one box (or snapshot) id.
  std::shared_ptr<std::mutex> op_lock(const std::string& id);

  // The caller's box (NOT_FOUND otherwise), its status corrected when its
  // init died behind our back.
  BoxRecord require(const std::string& user, const std::string& vm);
  // require() + FAILED_PRECONDITION "VM 'NAME' is STATUS" unless running;
  // counts as activity (exec, files).
  BoxRecord require_running(const std::string& user, const std::string& vm);
  // The user's boxes, oldest first, statuses refreshed.
  std::vector<BoxRecord> list(const std::string& user);

  // A new record owned by `owner` (fresh id, the name or a generated one,
  // the request's image, policy and env checked): INVALID_ARGUMENT.
  BoxRecord draft(const std::string& owner, const BoxDraft& wanted) const;
  // Inserts a drafted record (quota, duplicate name) as "starting", makes
  // its disk (`fill_disk(spec)`, else a new one) and boots it; on failure
  // nothing is left. Returns the boot time in ms. The caller holds the new
  // box's op_lock.
  std::int64_t provision(BoxRecord& box, const std::function<void(const BoxSpec&)>& fill_disk = {});
  // provision() under the new box's lock (CreateVm).
  std::int64_t create(BoxRecord& box);
  // A copy of the caller's box `source_vm` named `name` (empty = "<source>-fork"),
  // `configure` applied to the new record before it is reserved. Returns
  // the boot time in ms; `box` is the new record.
  std::int64_t fork(const std::string& user, const std::string& source_vm, const std::string& name,
                    const std::function<void(BoxRecord&)>& configure, BoxRecord& box);

  void start(const std::string& user, const std::string& vm);
  void stop(const std::string& user, const std::string& vm);
  void reboot(const std::string& user, const std::string& vm);
  void destroy(const std::string& user, const std::string& vm);
  // Return the time the freeze / thaw took, in microseconds.
  std::uint64_t suspend(const std::string& user, const std::string& vm);
  std::uint64_t resume(const std::string& user, const std::string& vm);
  void wake(const std::string& user, const std::string& vm);
  void set_auto_suspend(const std::string& user, const std::string& vm, std::uint32_t secs);
  void set_auto_hibernate(const std::string& user, const std::string& vm, std::uint32_t secs);
  // New limits (0 = unchanged) applied at once to a box with processes,
  // then recorded; returns the record as resized.
  BoxRecord resize(const std::string& user, const std::string& vm, std::uint32_t vcpu,
                   std::uint64_t memory_bytes);

  // Runs fn(box) on the caller's box under the box's operation lock, the
  // record read again once the lock is held.
  void with_locked(const std::string& user, const std::string& vm,
                   const std::function<void(const BoxRecord&)>& fn);
  void set_status(const std::string& id, BoxStatus status);
  // Boots the box and records running + handle. Returns the boot time in ms.
  std::int64_t boot_and_record(const BoxRecord& box);
  void stop_and_record(const BoxRecord& box, BoxStatus final_status);
  // Copies a box's disk into `dst` consistently: a running box is frozen
  // for the copy and thawed after.
  void copy_disk_frozen(const BoxRecord& source, const BoxSpec& dst);

  // At startup: adopts boxes whose init is alive, boots the ones that
  // should run, settles transient statuses.
  void recover();
  // At shutdown: stops every box's processes, keeping their statuses, so
  // that recover() boots them again next time; up to k_shutdown_workers
  // boxes at a time.
  void shutdown();
  static constexpr std::size_t k_shutdown_workers = 8;

 private:
  void refresh_liveness(BoxRecord& box);
  void adopt_limits(const BoxRecord& box);
  void thaw_after_copy(const BoxRecord& box);
  void recover_one(const BoxRecord& box);
  // provision() once a copied disk's dir holds k_disk_copy_marker.
  std::int64_t provision_marked(BoxRecord& box,
                                const std::function<void(const BoxSpec&)>& fill_disk,
                                const std::filesystem::path& copy_marker);
  // Stops the box as its record says once its op_lock is held (listed:
  // the record as shutdown() found it, before taking the lock).
  void stop_for_shutdown(const BoxRecord& listed);
  void erase_record(const std::string& id);
  void activity(const std::string& id) const;

  BoxesOptions m_options;
  Store& m_store;
  Runtime& m_runtime;
  BoxHooks m_hooks;
  DiskQuota m_disk_quota;
  std::mutex m_locks_mutex;
  std::map<std::string, std::shared_ptr<std::mutex>> m_op_locks;
};

// "box-" + 6 random [a-z0-9].
std::string generate_box_name();
// A random (version 4) UUID: a new box's id.
std::string generate_box_id();

}  // namespace boxd::local
