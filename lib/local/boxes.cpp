#include "local/boxes.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <system_error>
#include <thread>
#include <vector>

#include "common/error.hpp"
#include "common/files.hpp"
#include "common/jwt.hpp"
#include "common/log.hpp"
#include "common/names.hpp"
#include "local/fault.hpp"
#include "local/rpc_helpers.hpp"
#include "local/runtime_support.hpp"

namespace boxd::local {

namespace fs = std::filesystem;

namespace {

std::int64_t elapsed_ms(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               since)
      .count();
}

void check_name(const std::string& name) {
  if (!is_valid_name(name)) {
    std::string reason = name_problem(name);
    const auto colon = reason.find("': ");
    if (colon != std::string::npos) {
      reason = reason.substr(colon + 3);
    }
    if (reason.empty()) {
      reason = "use lowercase letters, digits and '-' (at most 63, no leading or trailing '-')";
    }
    fail(Fault::InvalidArgument, "invalid VM name '" + name + "': " + reason);
  }
}

logging::Fields box_fields(const BoxRecord& box) {
  return {{"user", box.owner}, {"box", box.name}};
}

}  // namespace

std::string generate_box_id() {
  std::string hex = random_hex(16);
  hex[12] = '4';                                                    // version 4 (random)
  hex[16] = "89ab"[std::stoi(hex.substr(16, 1), nullptr, 16) & 3];  // RFC 4122 variant
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
         hex.substr(16, 4) + "-" + hex.substr(20, 12);
}

std::string generate_box_name() {
  static constexpr char k_alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string name = "box-";
  while (name.size() < 10) {
    unsigned char buf[16];
    if (RAND_bytes(buf, sizeof buf) != 1) {
      throw Error(ErrorClass::Internal, "no randomness available");
    }
    for (unsigned char c : buf) {
      if (c < 252 && name.size() < 10) {  // 252 = 7 * 36: no modulo bias
        name.push_back(k_alphabet[c % 36]);
      }
    }
  }
  return name;
}

Boxes::Boxes(BoxesOptions options, Store& store, Runtime& runtime, BoxHooks hooks)
    : m_options(std::move(options)),
      m_store(store),
      m_runtime(runtime),
      m_hooks(std::move(hooks)) {}

void Boxes::activity(const std::string& id) const {
  if (m_hooks.activity) {
    m_hooks.activity(id);
  }
}

BoxSpec Boxes::spec_of(const BoxRecord& box) const {
  BoxSpec spec;
  spec.id = box.id;
  spec.name = box.name;
  spec.dir = m_options.state_dir / "boxes" / box.id;
  spec.env = box.env;
  spec.networks = box.networks;
  spec.limits.memory_bytes = box.memory_bytes;
  spec.limits.vcpu = box.vcpu;
  spec.limits.pids = m_options.box_pids_max;
  spec.disk_bytes = box.disk_bytes;
  return spec;
}

std::shared_ptr<std::mutex> Boxes::op_lock(const std::string& id) {
  std::lock_guard lock(m_locks_mutex);
  auto& slot = m_op_locks[id];
  if (!slot) {
    slot = std::make_shared<std::mutex>();
  }
  return slot;
}

BoxRecord Boxes::require(const std::string& user, const std::string& vm) {
  if (vm.empty()) {
    fail(Fault::InvalidArgument, "vm_id is required");
  }
  auto box = m_store.find_box(user, vm);
  if (!box) {
    fail_box_not_found(vm);
  }
  refresh_liveness(*box);
  return *box;
}

BoxRecord Boxes::require_running(const std::string& user, const std::string& vm) {
  BoxRecord box = require(user, vm);
  if (box.status != BoxStatus::Running) {
    fail_box_state(box.name, box.status);
  }
  activity(box.id);
  return box;
}

std::vector<BoxRecord> Boxes::list(const std::string& user) {
  auto boxes = m_store.boxes();
  std::erase_if(boxes, [&](const BoxRecord& b) { return b.owner != user; });
  for (auto& b : boxes) {
    refresh_liveness(b);
  }
  std::sort(boxes.begin(), boxes.end(), [](const BoxRecord& a, const BoxRecord& b) {
    return a.created_at != b.created_at ? a.created_at < b.created_at : a.name < b.name;
  });
  return boxes;
}

void Boxes::refresh_liveness(BoxRecord& box) {
  if (!has_processes(box.status) || m_runtime.alive(spec_of(box), box.handle)) {
    return;
  }
  // The box's init died behind our back (crash, OOM, kill): say so.
  const BoxStatus expected = box.status;
  m_store.update([&](StoreData& data) {
    for (auto& b : data.boxes) {
      if (b.id == box.id && b.status == expected && b.handle.init_pid == box.handle.init_pid) {
        b.status = BoxStatus::Stopped;
        b.handle = BoxHandle{};
      }
    }
  });
  logging::info("box found dead, marked stopped", box_fields(box));
  box.status = BoxStatus::Stopped;
  box.handle = BoxHandle{};
}

void Boxes::set_status(const std::string& id, BoxStatus status) {
  if (status == BoxStatus::Running) {
    activity(id);
  }
  m_store.update([&](StoreData& data) {
    for (auto& b : data.boxes) {
      if (b.id == id) {
        b.status = status;
      }
    }
  });
}

std::int64_t Boxes::boot_and_record(const BoxRecord& box) {
  if (box.status != BoxStatus::Starting) {  // a new box is recorded as starting already
    set_status(box.id, BoxStatus::Starting);
  }
  const auto started = std::chrono::steady_clock::now();
  BoxHandle handle;
  try {
    if (fs::exists(spec_of(box).dir / k_disk_copy_marker)) {
      fail(Fault::FailedPrecondition,
           "the disk of VM '" + box.name +
               "' is an unfinished copy (the server stopped while it was made): destroy it");
    }
    std::error_code ec;
    fs::remove(spec_of(box).dir / k_frozen_for_copy_marker, ec);  // a new boot is not frozen
    handle = m_runtime.boot(spec_of(box));
  } catch (...) {
    set_status(box.id, BoxStatus::Failed);
    throw;
  }
  const auto ms = elapsed_ms(started);
  // The directory's fsync is left out (one of the two a durable write waits
  // for, on the path of every create and start): after a machine crash the
  // file holds this record or the one before, whole (Sync::Content), and
  // recovery boots a box recorded "starting" exactly as one recorded
  // "running" (recover_one). A server crash keeps the page cache.
  m_store.update(
      [&](StoreData& data) {
        for (auto& b : data.boxes) {
          if (b.id == box.id) {
            b.status = BoxStatus::Running;
            b.handle = handle;
            b.boot_time_ms = ms;
          }
        }
      },
      Sync::Content);
  activity(box.id);
  auto fields = box_fields(box);
  fields.emplace_back("boot_ms", static_cast<std::int64_t>(ms));
  logging::info("box running", fields);
  if (m_hooks.booted) {
    m_hooks.booted(box, handle);
  }
  return ms;
}

void Boxes::stop_and_record(const BoxRecord& box, BoxStatus final_status) {
  set_status(box.id, BoxStatus::Stopping);
  m_runtime.stop(spec_of(box), box.handle);
  m_store.update([&](StoreData& data) {
    for (auto& b : data.boxes) {
      if (b.id == box.id) {
        b.status = final_status;
        b.handle = BoxHandle{};
      }
    }
  });
}

void Boxes::erase_record(const std::string& id) {
  m_store.update([&](StoreData& data) {
    std::erase_if(data.boxes, [&](const BoxRecord& b) { return b.id == id; });
  });
}

BoxRecord Boxes::draft(const std::string& owner, const BoxDraft& wanted) const {
  BoxRecord box;
  box.id = generate_box_id();
  box.owner = owner;
  box.name = wanted.name;
  if (box.name.empty()) {
    do {
      box.name = generate_box_name();
    } while (m_store.find_box(owner, box.name));
  }
  check_name(box.name);
  if (!wanted.image.empty() && wanted.image != "host") {
    fail(Fault::InvalidArgument,
         "unknown image '" + wanted.image + "': boxd local has only the image 'host'");
  }
  const std::string& policy = wanted.restart_policy;
  if (!policy.empty() && policy != "always" && policy != "never") {
    fail(Fault::InvalidArgument,
         "invalid restart policy '" + policy + "': use 'always' or 'never'");
  }
  if (!policy.empty()) {
    box.restart_policy = policy;
  }
  for (const auto& [key, value] : wanted.env) {
    if (!is_valid_env_name(key)) {
      fail(Fault::InvalidArgument, "invalid environment variable name '" + key + "'");
    }
    box.env.emplace_back(key, value);
  }
  box.cmd = wanted.cmd;
  return box;
}

std::int64_t Boxes::provision(BoxRecord& box,
                              const std::function<void(const BoxSpec&)>& fill_disk) {
  // A copied disk: marked unfinished before the record exists, so that no
  // crash leaves a record recovery would boot on an empty disk.
  const fs::path copy_marker = spec_of(box).dir / k_disk_copy_marker;
  if (fill_disk) {
    ensure_dir(copy_marker.parent_path(), 0700);
    write_file_atomic(copy_marker, "", 0600, Sync::Durable);
  }
  try {
    return provision_marked(box, fill_disk, copy_marker);
  } catch (...) {
    if (fill_disk && !m_store.find_box(box.owner, box.id)) {
      remove_tree(copy_marker.parent_path());  // refused before its record: nothing else is there
    }
    throw;
  }
}

std::int64_t Boxes::provision_marked(BoxRecord& box,
                                     const std::function<void(const BoxSpec&)>& fill_disk,
                                     const fs::path& copy_marker) {
  auto quota_lock = m_disk_quota.hold();
  const std::uint64_t disks = m_disk_quota.disk_bytes ? m_disk_quota.disk_bytes(box.owner) : 0;
  m_store.update([&](StoreData& data) {
    int count = 0;
    for (const auto& b : data.boxes) {
      if (b.owner != box.owner) {
        continue;
      }
      ++count;
      if (b.name == box.name) {
        fail(Fault::AlreadyExists, "VM name '" + box.name + "' already exists");
      }
    }
    if (count >= m_options.max_boxes) {
      fail(Fault::ResourceExhausted,
           "quota exceeded: at most " + std::to_string(m_options.max_boxes) + " boxes");
    }
    if (m_disk_quota.check) {
      m_disk_quota.check(disks + disk_bytes_in_store(data, box.owner), box.disk_bytes);
    }
    box.status = BoxStatus::Starting;
    box.created_at = rpc::now_secs();
    data.boxes.push_back(box);
  });
  if (quota_lock.owns_lock()) {
    quota_lock.unlock();  // the record holds its room from here on
  }
  const auto spec = spec_of(box);
  try {
    if (fill_disk) {
      fill_disk(spec);
      remove_file_durably(copy_marker);
    } else {
      m_runtime.create(spec);
    }
    return boot_and_record(box);
  } catch (...) {
    try {
      m_runtime.destroy(spec);
    } catch (...) {
    }
    erase_record(box.id);
    throw;
  }
}

std::int64_t Boxes::create(BoxRecord& box) {
  auto lock = op_lock(box.id);
  std::lock_guard guard(*lock);
  auto fields = box_fields(box);
  fields.emplace_back("id", box.id);
  logging::info("box creating", fields);
  return provision(box);
}

std::int64_t Boxes::fork(const std::string& user, const std::string& source_vm,
                         const std::string& name, const std::function<void(BoxRecord&)>& configure,
                         BoxRecord& box) {
  const auto source = require(user, source_vm);
  box = source;
  box.id = generate_box_id();
  box.name = name.empty() ? source.name + "-fork" : name;
  check_name(box.name);
  box.source = "fork/" + source.name;
  box.forked_from = source.name;
  box.handle = BoxHandle{};
  box.boot_time_ms = 0;
  if (configure) {
    configure(box);
  }
  auto lock = op_lock(box.id);
  std::lock_guard guard(*lock);
  auto source_lock = op_lock(source.id);
  std::lock_guard source_guard(*source_lock);
  if (!m_store.find_box(user, source.id)) {
    fail_box_not_found(source_vm);
  }
  auto fields = box_fields(box);
  fields.emplace_back("from", source.name);
  logging::info("box forking", fields);
  const auto current = require(user, source.id);
  return provision(box, [&](const BoxSpec& dst) { copy_disk_frozen(current, dst); });
}

void Boxes::with_locked(const std::string& user, const std::string& vm,
                        const std::function<void(const BoxRecord&)>& fn) {
  const auto id = require(user, vm).id;
  auto lock = op_lock(id);
  std::lock_guard guard(*lock);
  fn(require(user, id));
}

void Boxes::start(const std::string& user, const std::string& vm) {
  with_locked(user, vm, [&](const BoxRecord& box) {
    const bool alive = m_runtime.alive(spec_of(box), box.handle);
    if (box.status == BoxStatus::Running && alive) {
      return;
    }
    if (box.status == BoxStatus::Suspended && alive) {
      m_runtime.resume(spec_of(box), box.handle);
      set_status(box.id, BoxStatus::Running);
      return;
    }
    if (alive) {
      m_runtime.stop(spec_of(box), box.handle);
    }
    boot_and_record(box);
  });
}

void Boxes::stop(const std::string& user, const std::string& vm) {
  with_locked(user, vm, [&](const BoxRecord& box) {
    if (box.status == BoxStatus::Stopped) {
      return;
    }
    stop_and_record(box, BoxStatus::Stopped);
    logging::info("box stopped", box_fields(box));
  });
}

void Boxes::reboot(const std::string& user, const std::string& vm) {
  with_locked(user, vm, [&](const BoxRecord& box) {
    logging::info("box rebooting", box_fields(box));
    if (box.status != BoxStatus::Stopped || m_runtime.alive(spec_of(box), box.handle)) {
      stop_and_record(box, BoxStatus::Stopped);
    }
    boot_and_record(box);
  });
}

void Boxes::destroy(const std::string& user, const std::string& vm) {
  with_locked(user, vm, [&](const BoxRecord& box) {
    set_status(box.id, BoxStatus::Destroying);
    m_runtime.stop(spec_of(box), box.handle);
    m_runtime.destroy(spec_of(box));
    erase_record(box.id);
    if (m_hooks.destroyed) {
      m_hooks.destroyed(box);
    }
    logging::info("box destroyed", box_fields(box));
  });
}

std::uint64_t Boxes::suspend(const std::string& user, const std::string& vm) {
  std::uint64_t micros = 0;
  with_locked(user, vm, [&](const BoxRecord& box) {
    if (box.status != BoxStatus::Running) {
      fail_box_state(box.name, box.status);
    }
    const auto started = std::chrono::steady_clock::now();
    m_runtime.suspend(spec_of(box), box.handle);
    set_status(box.id, BoxStatus::Suspended);
    micros = rpc::micros_since(started);
    logging::info("box suspended", box_fields(box));
  });
  return micros;
}

std::uint64_t Boxes::resume(const std::string& user, const std::string& vm) {
  std::uint64_t micros = 0;
  with_locked(user, vm, [&](const BoxRecord& box) {
    if (box.status == BoxStatus::Running) {
      return;
    }
    if (box.status != BoxStatus::Suspended) {
      fail_box_state(box.name, box.status);
    }
    const auto started = std::chrono::steady_clock::now();
    m_runtime.resume(spec_of(box), box.handle);
    set_status(box.id, BoxStatus::Running);
    micros = rpc::micros_since(started);
    logging::info("box resumed", box_fields(box));
  });
  return micros;
}

void Boxes::wake(const std::string& user, const std::string& vm) {
  start(user, vm);  // running: nothing; suspended: resumed; else booted
}

void Boxes::set_auto_suspend(const std::string& user, const std::string& vm, std::uint32_t secs) {
  require(user, vm);
  m_store.update([&](StoreData& data) {
    if (auto* b = find_box_in(data, user, vm)) {
      b->auto_suspend_timeout_secs = secs;
      activity(b->id);
    }
  });
}

void Boxes::set_auto_hibernate(const std::string& user, const std::string& vm, std::uint32_t secs) {
  require(user, vm);
  m_store.update([&](StoreData& data) {
    if (auto* b = find_box_in(data, user, vm)) {
      b->auto_hibernate_timeout_secs = secs;
      activity(b->id);
    }
  });
}

// The new size is applied to a running (or suspended) box at once through
// its cgroups, then recorded; a limit the kernel refuses (under cgroup v1,
// memory below what the box uses now) fails the call and records nothing.
// A stopped box gets it at its next boot.
BoxRecord Boxes::resize(const std::string& user, const std::string& vm, std::uint32_t vcpu,
                        std::uint64_t memory_bytes) {
  rpc::check_vm_size(vcpu, memory_bytes);
  if (vcpu == 0 && memory_bytes == 0) {
    fail(Fault::InvalidArgument, "nothing to resize: give vcpu and/or memory_bytes");
  }
  BoxRecord resized;
  with_locked(user, vm, [&](const BoxRecord& box) {
    resized = box;
    if (vcpu != 0) {
      resized.vcpu = vcpu;
    }
    if (memory_bytes != 0) {
      resized.memory_bytes = memory_bytes;
    }
    if (has_processes(box.status) && m_runtime.alive(spec_of(box), box.handle)) {
      m_runtime.apply_limits(spec_of(resized), box.handle);
    }
    m_store.update([&](StoreData& data) {
      if (auto* b = find_box_in(data, user, box.id)) {
        b->vcpu = resized.vcpu;
        b->memory_bytes = resized.memory_bytes;
      }
    });
    auto fields = box_fields(box);
    fields.emplace_back("vcpu", static_cast<std::int64_t>(resized.vcpu));
    fields.emplace_back("memory_bytes", static_cast<std::int64_t>(resized.memory_bytes));
    logging::info("box resized", fields);
  });
  return resized;
}

void Boxes::copy_disk_frozen(const BoxRecord& source, const BoxSpec& dst) {
  const auto spec = spec_of(source);
  const bool freeze = source.status == BoxStatus::Running && m_runtime.alive(spec, source.handle);
  // Only a crash needs it (a machine crash ends the box as well): no fsync.
  const fs::path frozen = spec.dir / k_frozen_for_copy_marker;
  if (freeze) {
    try {
      write_file_atomic(frozen, "", 0600, Sync::None);
    } catch (const std::exception& e) {  // the copy goes on; a crash would leave it frozen
      logging::warn(std::string("cannot mark the box frozen for the copy: ") + e.what(),
                    box_fields(source));
    }
    m_runtime.suspend(spec, source.handle);
  }
  const auto thaw = [&] {
    if (freeze) {
      m_runtime.resume(spec, source.handle);
      std::error_code ec;
      fs::remove(frozen, ec);
    }
  };
  try {
    m_runtime.copy_disk(spec, dst);
  } catch (...) {
    thaw();
    throw;
  }
  thaw();
}

// A running box the last server froze for a fork or snapshot copy and
// never thawed (it stopped in the middle) is thawed, or every exec in it
// would be refused as suspended. Only such a box: a thaw of every box
// would also continue the jobs its user stopped.
void Boxes::thaw_after_copy(const BoxRecord& box) {
  const auto spec = spec_of(box);
  const fs::path frozen = spec.dir / k_frozen_for_copy_marker;
  if (!fs::exists(frozen)) {
    return;
  }
  try {
    m_runtime.resume(spec, box.handle);
    fs::remove(frozen);
    logging::info("box thawed (frozen for a copy when the last server stopped)", box_fields(box));
  } catch (const std::exception& e) {
    logging::warn(std::string("could not thaw the box: ") + e.what(), box_fields(box));
  }
}

// An adopted box keeps the cgroups it had; this server's settings (e.g.
// --box-pids-max) apply to it from now on.
void Boxes::adopt_limits(const BoxRecord& box) {
  try {
    m_runtime.apply_limits(spec_of(box), box.handle);
  } catch (const std::exception& e) {
    logging::warn(std::string("could not apply the box's limits: ") + e.what(), box_fields(box));
  }
}

void Boxes::recover_one(const BoxRecord& box) {
  const auto spec = spec_of(box);
  const bool alive = m_runtime.alive(spec, box.handle);
  switch (box.status) {
    case BoxStatus::Running:
    case BoxStatus::Starting:
      if (alive && box.status == BoxStatus::Running) {
        auto fields = box_fields(box);
        fields.emplace_back("init_pid", static_cast<std::int64_t>(box.handle.init_pid));
        logging::info("box adopted", fields);
        thaw_after_copy(box);
        adopt_limits(box);
        return;
      }
      if (alive) {
        m_runtime.stop(spec, box.handle);
      }
      boot_and_record(box);
      return;
    case BoxStatus::Suspended:
      if (alive) {
        logging::info("box adopted (suspended)", box_fields(box));
        adopt_limits(box);
        return;
      }
      boot_and_record(box);
      if (const auto booted = m_store.find_box(box.owner, box.id)) {
        m_runtime.suspend(spec, booted->handle);
        set_status(box.id, BoxStatus::Suspended);
      }
      return;
    case BoxStatus::Hibernated:
      if (alive) {
        m_runtime.stop(spec, box.handle);
      }
      return;
    case BoxStatus::Stopping:
    case BoxStatus::Destroying:
    case BoxStatus::Stopped:
    case BoxStatus::Failed:
      if (alive) {
        m_runtime.stop(spec, box.handle);
      }
      if (box.status == BoxStatus::Destroying) {
        m_runtime.destroy(spec);
        erase_record(box.id);
      } else if (box.status != BoxStatus::Failed) {
        stop_and_record(box, BoxStatus::Stopped);
      }
      return;
  }
}

void Boxes::recover() {
  for (const auto& box : m_store.boxes()) {
    try {
      recover_one(box);
    } catch (const std::exception& e) {
      logging::warn(std::string("could not recover the box: ") + e.what(), box_fields(box));
      set_status(box.id, BoxStatus::Failed);
    }
  }
}

void Boxes::shutdown() {
  std::vector<BoxRecord> running;
  for (auto& box : m_store.boxes()) {
    if (box.status != BoxStatus::Stopped && box.status != BoxStatus::Failed) {
      running.push_back(std::move(box));
    } else {
      m_runtime.release(spec_of(box));  // a disk a fork or snapshot left mounted, say
    }
  }
  // Several at a time: each stop mostly waits (for the init to exit, the
  // cgroup to empty), and one at a time took minutes for a thousand boxes.
  // Stops of different boxes are independent, as concurrent destroys are.
  std::atomic<std::size_t> next{0};
  auto work = [&] {
    for (std::size_t i = next++; i < running.size(); i = next++) {
      stop_for_shutdown(running[i]);
    }
  };
  const std::size_t workers = std::min<std::size_t>(running.size(), k_shutdown_workers);
  {
    std::vector<std::jthread> threads;  // joined when this scope ends
    for (std::size_t w = 1; w < workers; ++w) {
      try {
        threads.emplace_back(work);
      } catch (const std::system_error&) {
        break;  // no more threads: the ones there (and this one) do the rest
      }
    }
    work();
  }
}

void Boxes::stop_for_shutdown(const BoxRecord& listed) {
  auto lock = op_lock(listed.id);
  std::lock_guard guard(*lock);
  // The record again, now that no other operation on the box runs: a stop,
  // reboot or destroy that held the lock meanwhile changed its handle.
  const auto box = m_store.find_box(listed.owner, listed.id);
  if (!box || box->status == BoxStatus::Stopped || box->status == BoxStatus::Failed) {
    return;
  }
  try {
    m_runtime.stop(spec_of(*box), box->handle);
    logging::info("box stopped (server shutdown)", box_fields(*box));
  } catch (const std::exception& e) {
    logging::warn(std::string("could not stop the box: ") + e.what(), box_fields(*box));
  }
}

}  // namespace boxd::local
