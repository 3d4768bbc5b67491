// Disks: CreateDisk, ListDisks, DestroyDisk, AttachDisk, DetachDisk, and the
// two hooks the lifecycle calls (apply_disks after every boot,
// forget_disks_of after a destroy).
//
// A disk is a directory <state>/disks/<id> owned by boxd (1000:1000) and a
// record in DiskStore. Where loop devices work (disk_images.hpp) the
// directory is the mount point of an ext4 image of exactly the disk's size,
// so the size is enforced; elsewhere it is a plain directory and the size is
// only recorded (the server says so at startup). Attaching records
// (box, mount path, mode) first, under the DiskStore lock, so two concurrent
// attaches of one disk cannot both win; then, when the box runs, the runtime
// bind-mounts the directory inside the box (box_mounts.cpp); a failed mount
// rolls the record back. A stopped box gets its disks at its next boot.
// Lifecycle calls on the box are serialised with attach/detach by the box's
// op lock, so a disk is never mounted into a box that is half booted.
// Detach unmounts first and forgets the record only when that worked.
// Destroying a box forgets its attachments (its mount namespace died with
// it): disks outlive boxes. DestroyDisk is refused while attached.
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "common/files.hpp"
#include "common/jwt.hpp"
#include "common/names.hpp"
#include "common/sizes.hpp"
#include "local/disk_images.hpp"
#include "local/runtime_support.hpp"
#include "local/service.hpp"
#include "local/service_rpc.hpp"

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

// An absolute, normalised mount path; relative = relative to /home/boxd.
std::string mount_path_of(const std::string& raw) {
  if (raw.empty()) {
    fail(Fault::InvalidArgument, "mount_path is required");
  }
  std::string path = raw[0] == '/' ? raw : "/home/boxd/" + raw;
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string::npos) {
      end = path.size();
    }
    std::string part = path.substr(start, end - start);
    if (part == "..") {
      fail(Fault::InvalidArgument, "mount path '" + raw + "' must not contain '..'");
    }
    if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    start = end + 1;
  }
  if (parts.empty()) {
    fail(Fault::InvalidArgument, "cannot mount a disk over '/'");
  }
  std::string out;
  for (const auto& p : parts) {
    out += "/" + p;
  }
  for (const char* reserved : {"/proc", "/sys", "/dev"}) {
    if (out == reserved || out.starts_with(std::string(reserved) + "/")) {
      fail(Fault::InvalidArgument, "cannot mount a disk at '" + out + "'");
    }
  }
  return out;
}

api::DiskInfo to_disk_info(const DiskRecord& d) {
  api::DiskInfo info;
  info.set_disk_id(d.id);
  info.set_name(d.name);
  info.set_size_bytes(d.size_bytes);
  info.set_status(status_text(d.vm_id.empty() ? DiskStatus::Ready : DiskStatus::Attached));
  if (!d.vm_id.empty()) {
    auto* a = info.add_attachments();
    a->set_vm_id(d.vm_id);
    a->set_mount_path(d.mount_path);
    a->set_mount_mode(d.read_only ? "ro" : "rw");
  }
  return info;
}

}  // namespace

grpc::Status BoxdService::CreateDisk(grpc::ServerContext* context,
                                     const api::CreateDiskRequest* request,
                                     api::DiskInfo* response) {
  return run_rpc(*this, context, [&](const AuthResult& auth) {
    const std::string& name = request->name();
    if (!is_valid_name(name)) {
      fail(Fault::InvalidArgument,
           "invalid disk name '" + name +
               "': use lowercase letters, digits and '-' (at most 63, no leading or trailing '-')");
    }
    DiskRecord disk;
    disk.id = new_disk_id();
    disk.name = name;
    disk.owner = auth.user_id;
    disk.size_bytes = request->size_bytes() == 0 ? k_default_disk_bytes : request->size_bytes();
    disk.created_at = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
    check_disk_size(disk.size_bytes, "disk size");
    const auto dir = m_disks.data_dir(disk.id);
    const auto owner = m_runtime.disk_owner();
    m_disks.update([&](std::vector<DiskRecord>& disks) {
      int count = 0;
      std::uint64_t total = 0;
      for (const auto& d : disks) {
        if (d.owner == disk.owner && d.name == name) {
          fail(Fault::AlreadyExists, "disk name '" + name + "' already exists");
        }
        if (d.owner == disk.owner) {
          ++count;
          total += d.size_bytes;
        }
      }
      check_disk_quota(count, total, disk.size_bytes);
      if (m_disk_images) {
        DiskImages::create(dir, disk.size_bytes, owner.value_or(0), owner.value_or(0));
      } else {
        ensure_dir(dir.parent_path(), 0700);
        ensure_dir(dir, 0755);
        if (owner && chown(dir.c_str(), *owner, *owner) < 0) {
          throw_errno("chown " + dir.string());
        }
      }
      disks.push_back(disk);
    });
    log("disk " + name + " (" + disk.id + ") created for " + disk.owner);
    *response = to_disk_info(disk);
  });
}

grpc::Status BoxdService::ListDisks(grpc::ServerContext* context, const api::ListDisksRequest*,
                                    api::ListDisksResponse* response) {
  return run_rpc(*this, context, [&](const AuthResult& auth) {
    auto disks = m_disks.all();
    std::sort(disks.begin(), disks.end(), [](const DiskRecord& a, const DiskRecord& b) {
      return a.created_at != b.created_at ? a.created_at < b.created_at : a.name < b.name;
    });
    for (const auto& d : disks) {
      if (d.owner == auth.user_id) {
        *response->add_disks() = to_disk_info(d);
      }
    }
  });
}

grpc::Status BoxdService::DestroyDisk(grpc::ServerContext* context,
                                      const api::DestroyDiskRequest* request,
                                      api::DestroyDiskResponse*) {
  return run_rpc(*this, context, [&](const AuthResult& auth) {
    DiskRecord removed;
    m_disks.update([&](std::vector<DiskRecord>& disks) {
      auto it = std::find_if(disks.begin(), disks.end(), [&](const DiskRecord& d) {
        return d.owner == auth.user_id &&
               (d.name == request->disk_id() || d.id == request->disk_id());
      });
      if (it == disks.end()) {
        disk_not_found(request->disk_id());
      }
      if (!it->vm_id.empty()) {
        const auto box = m_store.find_box(auth.user_id, it->vm_id);
        fail(Fault::FailedPrecondition, "disk '" + it->name + "' is attached to VM '" +
                                            (box ? box->name : it->vm_id) + "': detach it first");
      }
      removed = *it;
      disks.erase(it);
    });
    DiskImages::remove(m_disks.data_dir(removed.id));
    remove_tree(m_disks.data_dir(removed.id));
    log("disk " + removed.name + " (" + removed.id + ") destroyed");
  });
}

grpc::Status BoxdService::AttachDisk(grpc::ServerContext* context,
                                     const api::AttachDiskRequest* request,
                                     api::DiskInfo* response) {
  return run_rpc(*this, context, [&](const AuthResult& auth) {
    const std::string mount_path = mount_path_of(request->mount_path());
    if (!m_disks.find(auth.user_id, request->disk_id())) {
      disk_not_found(request->disk_id());
    }
    const auto id = require_box(auth.user_id, request->vm()).id;
    auto lock = op_lock(id);
    std::lock_guard guard(*lock);
    const BoxRecord box = require_box(auth.user_id, id);
    DiskRecord disk = m_disks.update([&](std::vector<DiskRecord>& disks) {
      DiskRecord* found = nullptr;
      for (auto& d : disks) {
        if (d.owner == auth.user_id &&
            (d.name == request->disk_id() || d.id == request->disk_id())) {
          found = &d;
        }
      }
      if (found == nullptr) {
        disk_not_found(request->disk_id());
      }
      if (!found->vm_id.empty()) {
        const auto other = m_store.find_box(auth.user_id, found->vm_id);
        fail(Fault::FailedPrecondition, "disk '" + found->name + "' is already attached to VM '" +
                                            (other ? other->name : found->vm_id) + "'");
      }
      for (const auto& d : disks) {
        if (d.vm_id == box.id && d.mount_path == mount_path) {
          fail(Fault::FailedPrecondition,
               "VM '" + box.name + "' already has disk '" + d.name + "' at " + mount_path);
        }
      }
      found->vm_id = box.id;
      found->mount_path = mount_path;
      found->read_only = request->read_only();
      return *found;
    });
    const bool alive = (box.status == BoxStatus::Running || box.status == BoxStatus::Suspended) &&
                       m_runtime.alive(spec_of(box), box.handle);
    if (alive) {
      try {
        m_runtime.mount_disk(spec_of(box), box.handle, m_disks.data_dir(disk.id), mount_path,
                             disk.read_only);
      } catch (...) {
        m_disks.update([&](std::vector<DiskRecord>& disks) {
          for (auto& d : disks) {
            if (d.id == disk.id && d.vm_id == box.id) {
              d.vm_id.clear();
              d.mount_path.clear();
              d.read_only = false;
            }
          }
        });
        throw;
      }
    }
    log("disk " + disk.name + " attached to " + box.name + " at " + mount_path +
        (disk.read_only ? " (read-only)" : "") + (alive ? "" : " (at its next boot)"));
    *response = to_disk_info(disk);
  });
}

grpc::Status BoxdService::DetachDisk(grpc::ServerContext* context,
                                     const api::DetachDiskRequest* request,
                                     api::DiskInfo* response) {
  return run_rpc(*this, context, [&](const AuthResult& auth) {
    auto disk = m_disks.find(auth.user_id, request->disk_id());
    if (!disk) {
      disk_not_found(request->disk_id());
    }
    const auto id = require_box(auth.user_id, request->vm()).id;
    auto lock = op_lock(id);
    std::lock_guard guard(*lock);
    const BoxRecord box = require_box(auth.user_id, id);
    disk = m_disks.find(auth.user_id, request->disk_id());
    if (!disk) {
      disk_not_found(request->disk_id());
    }
    if (disk->vm_id != box.id) {
      fail(Fault::FailedPrecondition,
           "disk '" + disk->name + "' is not attached to VM '" + box.name + "'");
    }
    if (box.status == BoxStatus::Running || box.status == BoxStatus::Suspended) {
      m_runtime.unmount_disk(spec_of(box), box.handle, disk->mount_path);
    }
    DiskRecord result = m_disks.update([&](std::vector<DiskRecord>& disks) {
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
    log("disk " + disk->name + " detached from " + box.name);
    *response = to_disk_info(result);
  });
}

void BoxdService::check_disk_size(std::uint64_t bytes, const std::string& what) const {
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

void BoxdService::check_disk_quota(int count, std::uint64_t total, std::uint64_t adding) const {
  if (count >= m_options.max_disks) {
    fail(Fault::ResourceExhausted,
         "quota exceeded: at most " + std::to_string(m_options.max_disks) + " disks");
  }
  if (total + adding > m_options.max_disk_bytes) {
    fail(Fault::ResourceExhausted,
         "quota exceeded: your disks would total " + format_size(total + adding) + ", at most " +
             format_size(m_options.max_disk_bytes) + " (" + format_size(total) + " in use)");
  }
}

void BoxdService::prepare_disk_images() {
  const std::string problem = DiskImages::probe(m_options.state_dir / "disks");
  m_disk_images = problem.empty();
  if (m_disk_images) {
    log("disks: sizes enforced (ext4 images on loop devices)");
  } else {
    log("disks: sizes NOT enforced, disks are plain directories (" + problem + ")");
  }
  for (const auto& disk : m_disks.all()) {
    try {
      DiskImages::ensure_mounted(m_disks.data_dir(disk.id));
    } catch (const std::exception& e) {
      log("disk " + disk.name + " (" + disk.id + "): " + e.what());
    }
  }
}

void BoxdService::unmount_disk_images() {
  for (const auto& disk : m_disks.all()) {
    try {
      DiskImages::unmount(m_disks.data_dir(disk.id));
    } catch (const std::exception& e) {
      log("disk " + disk.name + " (" + disk.id + "): " + e.what());
    }
  }
}

void BoxdService::apply_disks(const BoxRecord& box, const BoxHandle& handle) {
  for (const auto& disk : m_disks.attached_to(box.id)) {
    try {
      DiskImages::ensure_mounted(m_disks.data_dir(disk.id));
      m_runtime.mount_disk(spec_of(box), handle, m_disks.data_dir(disk.id), disk.mount_path,
                           disk.read_only);
    } catch (const std::exception& e) {
      mount_failed(box, disk, e.what());
    }
  }
}

void BoxdService::mount_failed(const BoxRecord& box, const DiskRecord& disk,
                               const std::string& why) {
  const std::string line =
      "boxd: could not mount disk " + disk.name + " at " + disk.mount_path + ": " + why;
  log(line + " (box " + box.name + ")");
  append_console(spec_of(box).dir, line);
}

void BoxdService::forget_disks_of(const BoxRecord& box) {
  if (m_disks.attached_to(box.id).empty()) {
    return;
  }
  m_disks.update([&](std::vector<DiskRecord>& disks) {
    for (auto& d : disks) {
      if (d.vm_id == box.id) {
        log("disk " + d.name + " detached from destroyed box " + box.name);
        d.vm_id.clear();
        d.mount_path.clear();
        d.read_only = false;
      }
    }
  });
}

}  // namespace boxd::local
