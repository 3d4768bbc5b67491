// The disk RPCs: request -> Disks (disks.hpp, the domain layer, where the
// rules are) -> response.
#include "local/disks.hpp"
#include "local/service.hpp"
#include "local/service_rpc.hpp"

namespace boxd::local {

namespace {

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
    *response = to_disk_info(m_disks.create(auth.user_id, request->name(), request->size_bytes()));
  });
}

grpc::Status BoxdService::ListDisks(grpc::ServerContext* context, const api::ListDisksRequest*,
                                    api::ListDisksResponse* response) {
  return run_rpc(*this, context, [&](const AuthResult& auth) {
    for (const auto& d : m_disks.list(auth.user_id)) {
      *response->add_disks() = to_disk_info(d);
    }
  });
}

grpc::Status BoxdService::DestroyDisk(grpc::ServerContext* context,
                                      const api::DestroyDiskRequest* request,
                                      api::DestroyDiskResponse*) {
  return run_rpc(*this, context, [&](const AuthResult& auth) {
    m_disks.destroy(auth.user_id, request->disk_id());
  });
}

grpc::Status BoxdService::AttachDisk(grpc::ServerContext* context,
                                     const api::AttachDiskRequest* request,
                                     api::DiskInfo* response) {
  return run_rpc(*this, context, [&](const AuthResult& auth) {
    const DiskAttachment wanted{request->disk_id(), request->vm(), request->mount_path(),
                                request->read_only()};
    *response = to_disk_info(m_disks.attach(auth.user_id, wanted));
  });
}

grpc::Status BoxdService::DetachDisk(grpc::ServerContext* context,
                                     const api::DetachDiskRequest* request,
                                     api::DiskInfo* response) {
  return run_rpc(*this, context, [&](const AuthResult& auth) {
    *response = to_disk_info(m_disks.detach(auth.user_id, request->disk_id(), request->vm()));
  });
}

}  // namespace boxd::local
