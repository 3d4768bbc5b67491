#include "local/disks.hpp"

#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <mutex>
#include <utility>

#include "common/files.hpp"
#include "common/jwt.hpp"
#include "common/log.hpp"
#include "common/sizes.hpp"
#include "local/box_path.hpp"
#include "local/disk_images.hpp"
#include "local/fault.hpp"
#include "local/rpc_helpers.hpp"
#include "local/runtime_support.hpp"

namespace boxd::local {

namespace {

constexpr std::uint64_t k_default_disk_bytes = 10ULL << 30;
constexpr std::uint64_t k_min_image_bytes = 4ULL << 20;

std::string new_disk_id() {
  const std::string hex = random_hex(16);
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
         hex.substr(16, 4) + "-" + hex.substr(20, 12);
}

// Free bytes of the file system holding `dir` (for unprivileged users); 0
// when unknown.
std::uint64_t free_bytes(const std::filesystem::path& dir) {
  struct statvfs st {};
  if (statvfs(dir.c_str(), &st) < 0) {
    return 0;
  }
  return static_cast<std::uint64_t>(st.f_bavail) * st.f_frsize;
}

[[noreturn]] void disk_not_found(const std::string& disk) {
  fail(Fault::NotFound, "disk '" + disk + "' not found");
}

bool is_disk(const DiskRecord& d, const std::string& owner, const std::string& name_or_id) {
  return d.owner == owner && (d.name == name_or_id || d.id == name_or_id);
}

// An absolute, normalised mount path; relative = relative to /home/boxd.
std::string mount_path_of(const std::string& raw) {
  if (raw.empty()) {
    fail(Fault::InvalidArgument, "mount_path is required");
  }
  const auto normal = normalise_path(raw[0] == '/' ? raw : std::string(k_box_home) + "/" + raw);
  if (normal.dotdot) {
    fail(Fault::InvalidArgument, "mount path '" + raw + "' must not contain '..'");
  }
  if (normal.path == "/") {
    fail(Fault::InvalidArgument, "cannot mount a disk over '/'");
  }
  const std::string& out = normal.path;
  for (const char* reserved : {"/proc", "/sys", "/dev"}) {
    if (out == reserved || out.starts_with(std::string(reserved) + "/")) {
      fail(Fault::InvalidArgument, "cannot mount a disk at '" + out + "'");
    }
  }
  return out;
}

}  // namespace

Disks::Disks(DisksOptions options, Store& store, Boxes& boxes)
    : m_options(std::move(options)),
      m_store(store),
      m_boxes(boxes),
      m_runtime(boxes.runtime()),
      m_records(m_options.state_dir) {}

std::string Disks::box_name(const std::string& user, const std::string& id) const {
  const auto box = m_store.find_box(user, id);
  return box ? box->name : id;
}

DiskRecord Disks::create(const std::string& user, const std::string& name,
                         std::uint64_t size_bytes) {
  rpc::check_label("disk", name);
  DiskRecord disk;
  disk.id = new_disk_id();
  disk.name = name;
  disk.owner = user;
  disk.size_bytes = size_bytes == 0 ? k_default_disk_bytes : size_bytes;
  disk.created_at = rpc::now_secs();
  check_size(disk.size_bytes, "disk size");
  const auto quota_lock = DiskQuota::hold_lock(m_quota_lock);
  // Read before the disks' lock: the store's lock is never taken inside it
  // the other way round (Snapshots::save).
  const std::uint64_t stored_bytes =
      m_store.read([&](const StoreData& data) { return disk_bytes_in_store(data, user); });
  m_records.update([&](std::vector<DiskRecord>& disks) {
    int count = 0;
    std::uint64_t total = stored_bytes;
    for (const auto& d : disks) {
      if (d.owner == disk.owner && d.name == name) {
        fail(Fault::AlreadyExists, "disk name '" + name + "' already exists");
      }
      if (d.owner == disk.owner) {
        ++count;
        total += d.size_bytes;
      }
    }
    check_quota(count, total, disk.size_bytes);
    make_data_dir(disk);
    disks.push_back(disk);
  });
  logging::info("disk " + name + " (" + disk.id + ") created for " + disk.owner);
  return disk;
}

// An image of the disk's size where images work, else a plain directory;
// either way its top directory belongs to the runtime's disk owner.
void Disks::make_data_dir(const DiskRecord& disk) {
  const auto dir = data_dir(disk.id);
  const auto owner = m_runtime.disk_owner();
  if (m_images) {
    DiskImages::create(dir, disk.size_bytes, owner.value_or(0), owner.value_or(0));
    return;
  }
  ensure_dir(dir.parent_path(), 0700);
  ensure_dir(dir, 0755);
  if (owner && chown(dir.c_str(), *owner, *owner) < 0) {
    throw_errno("chown " + dir.string());
  }
}

std::vector<DiskRecord> Disks::list(const std::string& user) const {
  auto disks = m_records.all();
  std::sort(disks.begin(), disks.end(), [](const DiskRecord& a, const DiskRecord& b) {
    return a.created_at != b.created_at ? a.created_at < b.created_at : a.name < b.name;
  });
  std::erase_if(disks, [&](const DiskRecord& d) { return d.owner != user; });
  return disks;
}

void Disks::destroy(const std::string& user, const std::string& name_or_id) {
  DiskRecord removed;
  m_records.update([&](std::vector<DiskRecord>& disks) {
    auto it = std::find_if(disks.begin(), disks.end(),
                           [&](const DiskRecord& d) { return is_disk(d, user, name_or_id); });
    if (it == disks.end()) {
      disk_not_found(name_or_id);
    }
    if (!it->vm_id.empty()) {
      fail(Fault::FailedPrecondition, "disk '" + it->name + "' is attached to VM '" +
                                          box_name(user, it->vm_id) + "': detach it first");
    }
    removed = *it;
    disks.erase(it);
  });
  DiskImages::remove(data_dir(removed.id));
  remove_tree(data_dir(removed.id));
  logging::info("disk " + removed.name + " (" + removed.id + ") destroyed");
}

DiskRecord Disks::attach(const std::string& user, const DiskAttachment& wanted) {
  const std::string mount_path = mount_path_of(wanted.mount_path);
  if (!m_records.find(user, wanted.disk)) {
    disk_not_found(wanted.disk);
  }
  const auto id = m_boxes.require(user, wanted.vm).id;
  auto lock = m_boxes.op_lock(id);
  std::lock_guard guard(*lock);
  const BoxRecord box = m_boxes.require(user, id);
  DiskRecord disk = m_records.update([&](std::vector<DiskRecord>& disks) {
    DiskRecord* found = nullptr;
    for (auto& d : disks) {
      if (is_disk(d, user, wanted.disk)) {
        found = &d;
      }
    }
    if (found == nullptr) {
      disk_not_found(wanted.disk);
    }
    if (!found->vm_id.empty()) {
      fail(Fault::FailedPrecondition, "disk '" + found->name + "' is already attached to VM '" +
                                          box_name(user, found->vm_id) + "'");
    }
    for (const auto& d : disks) {
      if (d.vm_id == box.id && d.mount_path == mount_path) {
        fail(Fault::FailedPrecondition,
             "VM '" + box.name + "' already has disk '" + d.name + "' at " + mount_path);
      }
    }
    found->vm_id = box.id;
    found->mount_path = mount_path;
    found->read_only = wanted.read_only;
    return *found;
  });
  const bool alive = has_processes(box.status) && m_runtime.alive(m_boxes.spec_of(box), box.handle);
  if (alive) {
    try {
      m_runtime.mount_disk(m_boxes.spec_of(box), box.handle, data_dir(disk.id), mount_path,
                           disk.read_only);
    } catch (...) {
      clear_attachment(disk.id, box.id);
      throw;
    }
  }
  logging::info("disk " + disk.name + " attached to " + box.name + " at " + mount_path +
                (disk.read_only ? " (read-only)" : "") + (alive ? "" : " (at its next boot)"));
  return disk;
}

void Disks::clear_attachment(const std::string& disk_id, const std::string& box_id) {
  m_records.update([&](std::vector<DiskRecord>& disks) {
    for (auto& d : disks) {
      if (d.id == disk_id && d.vm_id == box_id) {
        d.vm_id.clear();
        d.mount_path.clear();
        d.read_only = false;
      }
    }
  });
}

DiskRecord Disks::detach(const std::string& user, const std::string& name_or_id,
                         const std::string& vm) {
  auto disk = m_records.find(user, name_or_id);
  if (!disk) {
    disk_not_found(name_or_id);
  }
  const auto id = m_boxes.require(user, vm).id;
  auto lock = m_boxes.op_lock(id);
  std::lock_guard guard(*lock);
  const BoxRecord box = m_boxes.require(user, id);
  disk = m_records.find(user, name_or_id);
  if (!disk) {
    disk_not_found(name_or_id);
  }
  if (disk->vm_id != box.id) {
    fail(Fault::FailedPrecondition,
         "disk '" + disk->name + "' is not attached to VM '" + box.name + "'");
  }
  if (has_processes(box.status)) {
    m_runtime.unmount_disk(m_boxes.spec_of(box), box.handle, data_dir(disk->id), disk->mount_path);
  }
  DiskRecord result = m_records.update([&](std::vector<DiskRecord>& disks) {
    DiskRecord out = *disk;
    for (auto& d : disks) {
      if (d.id == disk->id) {
        d.vm_id.clear();
        d.mount_path.clear();
        d.read_only = false;
        out = d;
      }
    }
    return out;
  });
  logging::info("disk " + disk->name + " detached from " + box.name);
  return result;
}

void Disks::check_size(std::uint64_t bytes, const std::string& what) const {
  if (bytes == 0) {
    return;
  }
  if (bytes < k_min_image_bytes) {
    fail(Fault::InvalidArgument, what + " " + format_size(bytes) + " is too small: at least 4 MiB");
  }
  if (bytes > m_options.max_disk_bytes) {
    fail(Fault::ResourceExhausted, "quota exceeded: " + what + " " + format_size(bytes) +
                                       " is more than this server's limit of " +
                                       format_size(m_options.max_disk_bytes) + " per user");
  }
  const std::uint64_t free = free_bytes(m_options.state_dir);
  if (free != 0 && bytes > free) {
    fail(Fault::ResourceExhausted, what + " " + format_size(bytes) +
                                       " is more than the server has free (" + format_size(free) +
                                       ")");
  }
}

void Disks::check_quota(int count, std::uint64_t total, std::uint64_t adding) const {
  if (count >= m_options.max_disks) {
    fail(Fault::ResourceExhausted,
         "quota exceeded: at most " + std::to_string(m_options.max_disks) + " disks");
  }
  check_bytes(total, adding);
}

void Disks::check_bytes(std::uint64_t in_use, std::uint64_t adding) const {
  if (in_use + adding > m_options.max_disk_bytes) {
    fail(Fault::ResourceExhausted,
         "quota exceeded: your disks, boxes' disks and snapshots would total " +
             format_size(in_use + adding) + ", at most " + format_size(m_options.max_disk_bytes) +
             " (" + format_size(in_use) + " in use)");
  }
}

std::uint64_t Disks::bytes_of(const std::string& user) const {
  std::uint64_t total = 0;
  for (const auto& disk : m_records.all()) {
    if (disk.owner == user) {
      total += disk.size_bytes;
    }
  }
  return total;
}

void Disks::prepare_images() {
  const std::string problem = DiskImages::probe(m_options.state_dir / "disks");
  m_images = problem.empty();
  if (m_images) {
    logging::info("disks: sizes enforced (ext4 images on loop devices)");
  } else {
    logging::info("disks: sizes NOT enforced, disks are plain directories (" + problem + ")");
  }
  for (const auto& disk : m_records.all()) {
    try {
      DiskImages::ensure_mounted(data_dir(disk.id));
    } catch (const std::exception& e) {
      logging::info("disk " + disk.name + " (" + disk.id + "): " + e.what());
    }
  }
}

void Disks::unmount_images() {
  for (const auto& disk : m_records.all()) {
    try {
      DiskImages::unmount(data_dir(disk.id));
    } catch (const std::exception& e) {
      logging::info("disk " + disk.name + " (" + disk.id + "): " + e.what());
    }
  }
}

void Disks::apply(const BoxRecord& box, const BoxHandle& handle) {
  for (const auto& disk : m_records.attached_to(box.id)) {
    try {
      DiskImages::ensure_mounted(data_dir(disk.id));
      m_runtime.mount_disk(m_boxes.spec_of(box), handle, data_dir(disk.id), disk.mount_path,
                           disk.read_only);
    } catch (const std::exception& e) {
      mount_failed(box, disk, e.what());
    }
  }
}

void Disks::mount_failed(const BoxRecord& box, const DiskRecord& disk, const std::string& why) {
  const std::string line =
      "boxd: could not mount disk " + disk.name + " at " + disk.mount_path + ": " + why;
  logging::info(line + " (box " + box.name + ")");
  append_console(m_boxes.spec_of(box).dir, line);
}

void Disks::forget(const BoxRecord& box) {
  if (m_records.attached_to(box.id).empty()) {
    return;
  }
  m_records.update([&](std::vector<DiskRecord>& disks) {
    for (auto& d : disks) {
      if (d.vm_id == box.id) {
        logging::info("disk " + d.name + " detached from destroyed box " + box.name);
        d.vm_id.clear();
        d.mount_path.clear();
        d.read_only = false;
      }
    }
  });
}

}  // namespace boxd::local
