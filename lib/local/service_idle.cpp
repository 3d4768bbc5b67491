// The idle RPCs and hooks: the timeouts (request -> Boxes, which records
// them and restarts the box's clock) and the traffic that restarts a box's
// idle clock. The watcher itself is IdleWatcher (idle.hpp), owned by the
// service: started by recover(), stopped by shutdown_boxes() and the
// destructor.
#include "local/service.hpp"
#include "local/service_rpc.hpp"

namespace boxd::local {

BoxdService::~BoxdService() {
  m_idle.stop();
}

void BoxdService::touch_activity(const std::string& box_id) {
  m_idle.touch(box_id);
}

grpc::Status BoxdService::SetAutoSuspendTimeout(grpc::ServerContext* context,
                                                const api::SetAutoSuspendTimeoutRequest* request,
                                                api::SetAutoSuspendTimeoutResponse*) {
  return run_rpc(*this, context, [&](const AuthResult& auth) {
    m_boxes.set_auto_suspend(auth.user_id, request->vm_id(), request->timeout_secs());
  });
}

grpc::Status BoxdService::SetAutoHibernateTimeout(
    grpc::ServerContext* context, const api::SetAutoHibernateTimeoutRequest* request,
    api::SetAutoHibernateTimeoutResponse*) {
  return run_rpc(*this, context, [&](const AuthResult& auth) {
    m_boxes.set_auto_hibernate(auth.user_id, request->vm_id(), request->timeout_secs());
  });
}

}  // namespace boxd::local
