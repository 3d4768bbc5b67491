// Snapshots of boxd local: a snapshot is a real copy of a box's disk (the
// overlay upper layers and /home, /root, /tmp; not attached disks, which
// live on their own), kept in <state_dir>/snapshots/<id>/ and recorded in
// state.json, so it survives restarts. CreateVmFromSnapshot copies it into
// a new box, which then boots with that data.
//
// Consistency: a running box is frozen (the same freeze as SuspendVm) for
// the length of the copy and thawed after, so no process writes while the
// files are read; a suspended or stopped box is copied as it is. Upstream
// requires a running box; boxd local also accepts the other two, since the
// copy is just as consistent. The box's operation lock is held throughout,
// so a snapshot never races a stop, a destroy or another snapshot.
//
// Names: a snapshot name is unique per user; saving the same name again
// replaces the data and bumps `version` (the id stays). The copy goes to a
// temporary directory first and replaces the old data only once complete,
// so a failed copy leaves the previous version intact. An empty name means
// the box's name. Every snapshot RPC takes a snapshot name or id.
//
// What can go wrong: the copy of a big disk takes as long as `cp -a`; the
// box stays frozen that long (its clients see a pause, not an error). A
// snapshot being deleted while a box is created from it waits for the other
// call (a per-snapshot operation lock).
#include <algorithm>
#include <filesystem>
#include <system_error>

#include <sys/stat.h>

#include "local/rpc_helpers.hpp"
#include "local/runtime_support.hpp"
#include "local/service.hpp"

namespace boxd::local {

namespace {

namespace fs = std::filesystem;

[[noreturn]] void snapshot_not_found(const std::string& key) {
  fail(Fault::NotFound, "snapshot '" + key + "' not found");
}

const SnapshotRecord* find_snapshot(const StoreData& data, const std::string& owner,
                                    const std::string& key) {
  for (const auto& s : data.snapshots) {
    if (s.owner == owner && (s.id == key || s.name == key)) {
      return &s;
    }
  }
  return nullptr;
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

void to_info(const SnapshotRecord& s, api::SnapshotInfo& info) {
  info.set_snapshot_id(s.id);
  info.set_name(s.name);
  info.set_version(s.version);
  info.set_status(status_text(s.status));
  info.set_size_bytes(s.size_bytes);
  info.set_updated_at(s.updated_at);
  info.set_vcpu(s.vcpu);
  info.set_memory_bytes(s.memory_bytes);
  info.set_use_count(s.use_count);
  info.set_created_at(s.created_at);
  info.set_source_vm(s.source_vm);
}

}  // namespace

grpc::Status BoxdService::CreateSnapshot(grpc::ServerContext* context,
                                         const api::CreateSnapshotRequest* request,
                                         api::CreateSnapshotResponse* response) {
  return handle_rpc(context, [&](const AuthResult& auth) {
    with_locked_box(auth.user_id, request->vm(), [&](const BoxRecord& box) {
      const std::string name = request->name().empty() ? box.name : request->name();
      rpc::check_label("snapshot", name);
      if (box.status != BoxStatus::Running && box.status != BoxStatus::Suspended && box.status != BoxStatus::Stopped) {
        fail_box_state(box.name, box.status);
      }
      const auto existing = m_store.read([&](const StoreData& data) -> std::optional<SnapshotRecord> {
        for (const auto& s : data.snapshots) {
          if (s.owner == auth.user_id && s.name == name) {
            return s;
          }
        }
        return std::nullopt;
      });
      SnapshotRecord snap = existing.value_or(SnapshotRecord{});
      if (!existing) {
        snap.id = rpc::new_id("snap");
        snap.name = name;
        snap.owner = auth.user_id;
        snap.version = 0;
        snap.created_at = rpc::now_secs();
      }
      auto lock = op_lock(snap.id);
      std::lock_guard guard(*lock);

      const fs::path final_dir = snapshot_dir(snap.id);
      const fs::path temp_dir = snapshot_dir(snap.id + ".new");
      remove_tree(temp_dir);
      fs::create_directories(temp_dir.parent_path());
      BoxSpec target;
      target.id = snap.id;
      target.name = box.name;  // the identity files stay the box's
      target.dir = temp_dir;
      try {
        copy_disk_frozen(box, target);
      } catch (...) {
        remove_tree(temp_dir);
        throw;
      }
      const fs::path old_dir = snapshot_dir(snap.id + ".old");
      remove_tree(old_dir);
      std::error_code ec;
      if (fs::exists(final_dir)) {
        fs::rename(final_dir, old_dir, ec);
      }
      fs::rename(temp_dir, final_dir);
      remove_tree(old_dir);

      snap.version += 1;
      snap.status = SnapshotStatus::Ready;
      snap.size_bytes = disk_usage(final_dir);
      snap.vcpu = box.vcpu;
      snap.memory_bytes = box.memory_bytes;
      snap.disk_bytes = box.disk_bytes;
      snap.source_vm = box.name;
      snap.updated_at = rpc::now_secs();
      m_store.update([&](StoreData& data) {
        std::erase_if(data.snapshots, [&](const SnapshotRecord& s) { return s.id == snap.id; });
        data.snapshots.push_back(snap);
      });
      response->set_snapshot_id(snap.id);
      response->set_name(snap.name);
      response->set_version(snap.version);
      response->set_status(status_text(snap.status));
      log("snapshot " + snap.name + " v" + std::to_string(snap.version) + " (" + snap.id +
          ") of box " + box.name + " saved for " + auth.user_id + ", " +
          std::to_string(snap.size_bytes) + " bytes");
    });
  });
}

grpc::Status BoxdService::GetSnapshot(grpc::ServerContext* context,
                                      const api::GetSnapshotRequest* request,
                                      api::GetSnapshotResponse* response) {
  return handle_rpc(context, [&](const AuthResult& auth) {
    const bool found = m_store.read([&](const StoreData& data) {
      if (const auto* s = find_snapshot(data, auth.user_id, request->name())) {
        to_info(*s, *response->mutable_snapshot());
        return true;
      }
      return false;
    });
    if (!found || request->name().empty()) {
      snapshot_not_found(request->name());
    }
  });
}

grpc::Status BoxdService::ListSnapshots(grpc::ServerContext* context,
                                        const api::ListSnapshotsRequest*,
                                        api::ListSnapshotsResponse* response) {
  return handle_rpc(context, [&](const AuthResult& auth) {
    auto mine = m_store.read([&](const StoreData& data) {
      std::vector<SnapshotRecord> out;
      for (const auto& s : data.snapshots) {
        if (s.owner == auth.user_id) {
          out.push_back(s);
        }
      }
      return out;
    });
    std::sort(mine.begin(), mine.end(), [](const SnapshotRecord& a, const SnapshotRecord& b) {
      return a.created_at != b.created_at ? a.created_at < b.created_at : a.name < b.name;
    });
    for (const auto& s : mine) {
      to_info(s, *response->add_snapshots());
    }
  });
}

grpc::Status BoxdService::DeleteSnapshot(grpc::ServerContext* context,
                                         const api::DeleteSnapshotRequest* request,
                                         api::DeleteSnapshotResponse*) {
  return handle_rpc(context, [&](const AuthResult& auth) {
    const auto id = m_store.read([&](const StoreData& data) -> std::string {
      const auto* s = find_snapshot(data, auth.user_id, request->name());
      return s != nullptr ? s->id : "";
    });
    if (id.empty() || request->name().empty()) {
      snapshot_not_found(request->name());
    }
    auto lock = op_lock(id);
    std::lock_guard guard(*lock);
    m_store.update([&](StoreData& data) {
      std::erase_if(data.snapshots, [&](const SnapshotRecord& s) { return s.id == id; });
    });
    remove_tree(snapshot_dir(id));
    log("snapshot " + request->name() + " (" + id + ") deleted by " + auth.user_id);
  });
}

grpc::Status BoxdService::CreateVmFromSnapshot(grpc::ServerContext* context,
                                               const api::CreateVmFromSnapshotRequest* request,
                                               api::CreateVmResponse* response) {
  return handle_rpc(context, [&](const AuthResult& auth) {
    const auto lookup = [&]() {
      return m_store.read([&](const StoreData& data) -> std::optional<SnapshotRecord> {
        if (const auto* s = find_snapshot(data, auth.user_id, request->snapshot())) {
          return *s;
        }
        return std::nullopt;
      });
    };
    auto snap = lookup();
    if (!snap || request->snapshot().empty()) {
      snapshot_not_found(request->snapshot());
    }
    BoxRecord box = new_box(auth.user_id, request->name());
    if (snap->vcpu != 0) {
      box.vcpu = snap->vcpu;
    }
    if (snap->memory_bytes != 0) {
      box.memory_bytes = snap->memory_bytes;
    }
    if (snap->disk_bytes != 0) {
      box.disk_bytes = snap->disk_bytes;
    }
    check_disk_size(request->config().disk_bytes(), "disk size");
    apply_vm_config(box, request->config());
    box.source = "snapshot/" + snap->name;

    auto box_lock = op_lock(box.id);
    std::lock_guard box_guard(*box_lock);
    auto snap_lock = op_lock(snap->id);
    std::lock_guard snap_guard(*snap_lock);
    snap = lookup();  // deleted while we waited?
    if (!snap) {
      snapshot_not_found(request->snapshot());
    }
    log("creating box " + box.name + " from snapshot " + snap->name + " v" +
        std::to_string(snap->version) + " for " + box.owner);
    BoxSpec source;
    source.id = snap->id;
    source.name = snap->source_vm;
    source.dir = snapshot_dir(snap->id);
    const auto ms =
        m_boxes.provision(box, [&](const BoxSpec& dst) { m_runtime.copy_disk(source, dst); });
    m_store.update([&](StoreData& data) {
      for (auto& s : data.snapshots) {
        if (s.id == snap->id) {
          s.use_count += 1;
        }
      }
    });
    fill_created(*response, box, url_of(box), ms);
  });
}

}  // namespace boxd::local
