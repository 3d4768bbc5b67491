// The snapshot RPCs: request -> Snapshots (snapshots.hpp, the domain
// layer, where the rules are) -> response.
#include "local/service.hpp"

namespace boxd::local {

namespace {

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
    const auto snap = m_snapshots.save(auth.user_id, request->vm(), request->name());
    response->set_snapshot_id(snap.id);
    response->set_name(snap.name);
    response->set_version(snap.version);
    response->set_status(status_text(snap.status));
  });
}

grpc::Status BoxdService::GetSnapshot(grpc::ServerContext* context,
                                      const api::GetSnapshotRequest* request,
                                      api::GetSnapshotResponse* response) {
  return handle_rpc(context, [&](const AuthResult& auth) {
    to_info(m_snapshots.get(auth.user_id, request->name()), *response->mutable_snapshot());
  });
}

grpc::Status BoxdService::ListSnapshots(grpc::ServerContext* context,
                                        const api::ListSnapshotsRequest*,
                                        api::ListSnapshotsResponse* response) {
  return handle_rpc(context, [&](const AuthResult& auth) {
    for (const auto& s : m_snapshots.list(auth.user_id)) {
      to_info(s, *response->add_snapshots());
    }
  });
}

grpc::Status BoxdService::DeleteSnapshot(grpc::ServerContext* context,
                                         const api::DeleteSnapshotRequest* request,
                                         api::DeleteSnapshotResponse*) {
  return handle_rpc(
      context, [&](const AuthResult& auth) { m_snapshots.remove(auth.user_id, request->name()); });
}

grpc::Status BoxdService::CreateVmFromSnapshot(grpc::ServerContext* context,
                                               const api::CreateVmFromSnapshotRequest* request,
                                               api::CreateVmResponse* response) {
  return handle_rpc(context, [&](const AuthResult& auth) {
    BoxRecord box;
    const auto ms = m_snapshots.create_box(
        auth.user_id, request->snapshot(), request->name(),
        [&](BoxRecord& made) {
          m_disks.check_size(request->config().disk_bytes(), "disk size");
          apply_copy_config(made, request->config());
        },
        box);
    fill_created(*response, box, m_proxies.url_of(box), ms);
  });
}

}  // namespace boxd::local
