// The BoxdApi gRPC service of boxd local: the gRPC adapter over the domain
// layer (ARCHITECTURE.md, "lib/local in layers"). Each RPC authenticates,
// turns the request into plain values, makes one call into the domain layer
// and fills the response from what comes back: boxes (boxes.hpp), snapshots
// (snapshots.hpp), disks (disks.hpp), proxies and the HTTP proxy's routing
// (proxies.hpp), networks (networks.hpp), templates (templates.hpp), custom
// domains (domains.hpp), files and logs (files.hpp: the chunks pass through
// callbacks, service_files.cpp keeps the stream plumbing), identity and
// tokens (identity.hpp). The idle watcher (idle.hpp) is owned here: started
// by recover(), stopped by shutdown_boxes(), told of traffic by
// touch_activity() (service_idle.cpp).
//
// Rules every RPC follows:
//  - authenticate first (UNAUTHENTICATED with the contract's messages);
//  - fail with fail(Fault, message) (fault.hpp); run_rpc (service_rpc.hpp)
//    turns every exception into a status through status_of;
//  - the box rules (ownership, locks, transient statuses, idempotency) are
//    Boxes's (boxes.hpp).
//
// Exec is a callback (reactor) method, not a sync one, and takes and sends
// raw bytes (chunk_wire.hpp, zero_copy.hpp): see exec_relay.cpp.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "boxd/api/v1/api.grpc.pb.h"
#include "common/log.hpp"
#include "local/auth.hpp"
#include "local/boxes.hpp"
#include "local/disks.hpp"
#include "local/fault.hpp"
#include "local/files.hpp"
#include "local/http_proxy.hpp"
#include "local/identity.hpp"
#include "local/idle.hpp"
#include "local/networks.hpp"
#include "local/proxies.hpp"
#include "local/runtime.hpp"
#include "local/snapshots.hpp"
#include "local/store.hpp"
#include "local/stream_limits.hpp"
#include "local/templates.hpp"

namespace boxd::local {

namespace api = boxd::api::v1;

struct ServiceOptions {
  std::filesystem::path state_dir;
  int max_boxes = 50;
  int max_disks = 20;                           // disks per user
  std::uint64_t max_disk_bytes = 500ULL << 30;  // per user: disks, box disks, snapshots
  std::uint64_t box_pids_max = 2048;            // pids.max of every box (0 = no limit)
  int proxy_port = 9480;
  std::string url_scheme = "http";
  // What one user's streams may hold (stream_limits.hpp).
  int max_user_streams = 64;  // uploads, downloads, listings open at once; log streams apart
  int max_user_execs = 256;   // exec sessions open at once
  // The same for all users together.
  int max_streams = 1024;  // per pool (transfers and listings; log streams)
  int max_execs = 2048;
  // An upload waiting this long for its next chunk, or an exec for its
  // first, is cancelled.
  std::chrono::milliseconds stream_idle_timeout{300'000};
};

// What Exec needs about a running box, resolved under the store lock.
struct ExecTarget {
  BoxSpec spec;
  BoxHandle handle;
};

using ServiceBase = api::BoxdApi::WithRawCallbackMethod_Exec<api::BoxdApi::Service>;

class BoxdService final : public ServiceBase {
 public:
  BoxdService(ServiceOptions options, Store& store, Auth& auth, Runtime& runtime);
  ~BoxdService() override;

  // At startup: mounts disk images, recovers the boxes (Boxes::recover),
  // starts the idle watcher.
  void recover();
  // Inbound traffic for a box (exec, files, proxied HTTP): restarts its
  // idle clock (service_idle.cpp).
  void touch_activity(const std::string& box_id);
  // At shutdown: stops every box's processes, keeping their statuses, so
  // that recover() boots them again next time.
  void shutdown_boxes();

  grpc::Status CreateVm(grpc::ServerContext*, const api::CreateVmRequest*,
                        api::CreateVmResponse*) override;
  grpc::Status GetVm(grpc::ServerContext*, const api::GetVmRequest*, api::GetVmResponse*) override;
  grpc::Status ListVms(grpc::ServerContext*, const api::ListVmsRequest*,
                       api::ListVmsResponse*) override;
  grpc::Status StartVm(grpc::ServerContext*, const api::StartVmRequest*,
                       api::StartVmResponse*) override;
  grpc::Status StopVm(grpc::ServerContext*, const api::StopVmRequest*,
                      api::StopVmResponse*) override;
  grpc::Status RebootVm(grpc::ServerContext*, const api::RebootVmRequest*,
                        api::RebootVmResponse*) override;
  grpc::Status DestroyVm(grpc::ServerContext*, const api::DestroyVmRequest*,
                         api::DestroyVmResponse*) override;
  grpc::Status SuspendVm(grpc::ServerContext*, const api::SuspendVmRequest*,
                         api::SuspendVmResponse*) override;
  grpc::Status ResumeVm(grpc::ServerContext*, const api::ResumeVmRequest*,
                        api::ResumeVmResponse*) override;
  grpc::Status WakeVm(grpc::ServerContext*, const api::WakeVmRequest*,
                      api::WakeVmResponse*) override;
  grpc::Status ForkVm(grpc::ServerContext*, const api::ForkVmRequest*,
                      api::ForkVmResponse*) override;
  grpc::Status SetAutoSuspendTimeout(grpc::ServerContext*, const api::SetAutoSuspendTimeoutRequest*,
                                     api::SetAutoSuspendTimeoutResponse*) override;
  grpc::Status SetAutoHibernateTimeout(grpc::ServerContext*,
                                       const api::SetAutoHibernateTimeoutRequest*,
                                       api::SetAutoHibernateTimeoutResponse*) override;
  grpc::Status ResizeVm(grpc::ServerContext*, const api::ResizeVmRequest*,
                        api::ResizeVmResponse*) override;
  grpc::Status Whoami(grpc::ServerContext*, const api::WhoamiRequest*,
                      api::WhoamiResponse*) override;
  grpc::Status GetConfig(grpc::ServerContext*, const api::GetConfigRequest*,
                         api::GetConfigResponse*) override;
  grpc::Status CreateToken(grpc::ServerContext*, const api::CreateTokenRequest*,
                           api::CreateTokenResponse*) override;
  grpc::Status ListTokens(grpc::ServerContext*, const api::ListTokensRequest*,
                          api::ListTokensResponse*) override;
  grpc::Status RevokeToken(grpc::ServerContext*, const api::RevokeTokenRequest*,
                           api::RevokeTokenResponse*) override;

  // Proxies, templates, domains, networks (service_proxies.cpp, service_templates.cpp,
  // service_domains.cpp, service_networks.cpp).
  grpc::Status ListProxies(grpc::ServerContext*, const api::ListProxiesRequest*,
                           api::ListProxiesResponse*) override;
  grpc::Status SetProxyPort(grpc::ServerContext*, const api::SetProxyPortRequest*,
                            api::SetProxyPortResponse*) override;
  grpc::Status CreateProxy(grpc::ServerContext*, const api::CreateProxyRequest*,
                           api::ProxyInfo*) override;
  grpc::Status DeleteProxy(grpc::ServerContext*, const api::DeleteProxyRequest*,
                           api::DeleteProxyResponse*) override;
  grpc::Status SetBotProtection(grpc::ServerContext*, const api::SetBotProtectionRequest*,
                                api::SetBotProtectionResponse*) override;
  grpc::Status ExposePort(grpc::ServerContext*, const api::ExposePortRequest*,
                          api::ExposePortResponse*) override;
  grpc::Status CreateTemplate(grpc::ServerContext*, const api::CreateTemplateRequest*,
                              api::TemplateInfo*) override;
  grpc::Status ListTemplates(grpc::ServerContext*, const api::ListTemplatesRequest*,
                             api::ListTemplatesResponse*) override;
  grpc::Status DeleteTemplate(grpc::ServerContext*, const api::DeleteTemplateRequest*,
                              api::DeleteTemplateResponse*) override;
  grpc::Status CreateVmFromTemplate(grpc::ServerContext*, const api::CreateVmFromTemplateRequest*,
                                    api::CreateVmResponse*) override;
  grpc::Status BindDomain(grpc::ServerContext*, const api::BindDomainRequest*,
                          api::CustomDomainInfo*) override;
  grpc::Status UnbindDomain(grpc::ServerContext*, const api::UnbindDomainRequest*,
                            api::UnbindDomainResponse*) override;
  grpc::Status ListDomains(grpc::ServerContext*, const api::ListDomainsRequest*,
                           api::ListDomainsResponse*) override;
  grpc::Status CreateNetwork(grpc::ServerContext*, const api::CreateNetworkRequest*,
                             api::CreateNetworkResponse*) override;
  grpc::Status ListNetworks(grpc::ServerContext*, const api::ListNetworksRequest*,
                            api::ListNetworksResponse*) override;

  // Snapshots (service_snapshots.cpp, over Snapshots: snapshots.hpp).
  grpc::Status CreateSnapshot(grpc::ServerContext*, const api::CreateSnapshotRequest*,
                              api::CreateSnapshotResponse*) override;
  grpc::Status GetSnapshot(grpc::ServerContext*, const api::GetSnapshotRequest*,
                           api::GetSnapshotResponse*) override;
  grpc::Status ListSnapshots(grpc::ServerContext*, const api::ListSnapshotsRequest*,
                             api::ListSnapshotsResponse*) override;
  grpc::Status DeleteSnapshot(grpc::ServerContext*, const api::DeleteSnapshotRequest*,
                              api::DeleteSnapshotResponse*) override;
  grpc::Status CreateVmFromSnapshot(grpc::ServerContext*, const api::CreateVmFromSnapshotRequest*,
                                    api::CreateVmResponse*) override;

  // The HTTP proxy's routing (Proxies::route, proxies.hpp): a Host header
  // (no port, lower-case) -> the address and port of the box behind it, or
  // an error.
  ProxyRoute route_host(const std::string& host);
  // The server's own ports (gRPC, key exchange, proxy), which a proxy may
  // not reach while boxes are reached on the host's loopback.
  void set_server_ports(std::vector<std::pair<int, std::string>> ports);
  // What GetVm/ListVms add to a record's response: the proxy's access
  // domain and the box's custom domains (Proxies::access_of).
  void decorate(api::GetVmResponse& response);
  static void decorate(api::GetVmResponse& response, const BoxAccess& access);
  // GetVm's `enforced`: what the runtime has in force for a running box.
  // public_ip: the box's own address (Runtime::address) while it runs.
  void show_address(api::GetVmResponse& response, const BoxRecord& box);
  void show_enforced(api::GetVmResponse& response, const BoxRecord& box);

  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* Exec(
      grpc::CallbackServerContext* context) override;

  // Files and logs (service_files.cpp).
  // UploadFileStream, taken as the bytes gRPC received (chunk_wire.hpp)
  // so that an upload's data reaches the file helper's pipe uncopied; the
  // constructor puts it in place of the generated, typed method.
  grpc::Status upload_file_stream(grpc::ServerContext*, grpc::ServerReader<grpc::ByteBuffer>*,
                                  grpc::ByteBuffer*);
  grpc::Status UploadFile(grpc::ServerContext*, const api::UploadFileRequest*,
                          api::UploadFileResponse*) override;
  grpc::Status DownloadFile(grpc::ServerContext*, const api::DownloadFileRequest*,
                            api::DownloadFileResponse*) override;
  grpc::Status DownloadFileStream(grpc::ServerContext*, const api::DownloadFileRequest*,
                                  grpc::ServerWriter<api::DownloadFileChunk>*) override;
  grpc::Status ListDir(grpc::ServerContext*, const api::ListDirRequest*,
                       api::ListDirResponse*) override;
  grpc::Status StreamLogs(grpc::ServerContext*, const api::StreamLogsRequest*,
                          grpc::ServerWriter<api::LogChunk>*) override;

  // Disks (service_disks.cpp).
  grpc::Status CreateDisk(grpc::ServerContext*, const api::CreateDiskRequest*,
                          api::DiskInfo*) override;
  grpc::Status ListDisks(grpc::ServerContext*, const api::ListDisksRequest*,
                         api::ListDisksResponse*) override;
  grpc::Status DestroyDisk(grpc::ServerContext*, const api::DestroyDiskRequest*,
                           api::DestroyDiskResponse*) override;
  grpc::Status AttachDisk(grpc::ServerContext*, const api::AttachDiskRequest*,
                          api::DiskInfo*) override;
  grpc::Status DetachDisk(grpc::ServerContext*, const api::DetachDiskRequest*,
                          api::DiskInfo*) override;

  // Used by the exec relay.
  AuthResult authenticate(const grpc::ServerContextBase* context) const;
  ExecTarget resolve_exec(const std::string& user, const std::string& vm_id);
  Runtime& runtime() { return m_runtime; }
  Boxes& boxes() { return m_boxes; }
  // One of the user's exec slots (RESOURCE_EXHAUSTED past --max-user-execs).
  UserSlots::Slot take_exec_slot(const std::string& user) { return m_exec_slots.take(user); }
  // How long an exec may wait for its first chunk.
  std::chrono::milliseconds stream_idle_timeout() const { return m_options.stream_idle_timeout; }
  // The log line of a call cancelled after --stream-idle-timeout.
  void log_stalled(const std::string& rpc, const std::string& user) const;
  // An info event of the log (common/log.hpp); never a secret in it.
  void log(const std::string& event, const logging::Fields& fields = {}) const;
  // The status of a failed RPC (service_rpc.hpp): the code of the
  // exception's fault (fault.hpp, status_code_of), its message never naming
  // a host path: the state dir is replaced by "<state>" (the full message
  // goes to the log).
  grpc::Status status_of(const std::exception& error) const;

 private:
  template <class Fn>
  grpc::Status handle(const grpc::ServerContext* context, Fn&& fn);
  // handle() for RPCs defined in other files (the template lives in service.cpp).
  grpc::Status handle_rpc(const grpc::ServerContext* context,
                          const std::function<void(const AuthResult&)>& fn);

  ServiceOptions m_options;
  Store& m_store;
  Auth& m_auth;
  Runtime& m_runtime;
  // The domain layer. m_boxes's hooks call into m_disks, made after it (the
  // hooks run only once a box boots or is destroyed).
  Boxes m_boxes;
  Snapshots m_snapshots{m_options.state_dir, m_store, m_boxes};
  Disks m_disks{DisksOptions{m_options.state_dir, m_options.max_disks, m_options.max_disk_bytes},
                m_store, m_boxes};
  Proxies m_proxies{ProxiesOptions{m_options.proxy_port, m_options.url_scheme}, m_store, m_boxes,
                    [this](const std::string& box_id) { touch_activity(box_id); }};
  Networks m_networks{m_store};
  Identity m_identity{m_options.state_dir, m_store, m_auth, m_networks, m_runtime};
  Templates m_templates{m_store, m_disks};
  Files m_files{m_store, m_boxes};
  // What one user's streams may hold (stream_limits.hpp). Log streams have
  // their own pool: `box logs -f` runs for ever and must not lock out cp.
  UserSlots m_stream_slots{m_options.max_user_streams, m_options.max_streams,
                           "file transfers and listings", "--max-user-streams", "--max-streams"};
  UserSlots m_log_slots{m_options.max_user_streams, m_options.max_streams, "log streams",
                        "--max-user-streams", "--max-streams"};
  UserSlots m_exec_slots{m_options.max_user_execs, m_options.max_execs, "exec sessions",
                         "--max-user-execs", "--max-execs"};
  StallWatch m_stall_watch{
      m_options.stream_idle_timeout,
      [this](const std::string& rpc, const std::string& user) { log_stalled(rpc, user); }};
  // Declared after what its thread uses, so it is destroyed (stopped) first.
  IdleWatcher m_idle{m_store, m_boxes};
};

// GetVmResponse from a record (exposed for tests).
api::GetVmResponse to_get_vm_response(const BoxRecord& box);

// The fields of a create request's VmConfig that are set override the record's.
void apply_vm_config(BoxRecord& box, const api::VmConfig& config);
// apply_vm_config for a box whose disk is a copy (fork, from a snapshot):
// its disk can grow but not shrink below the source's (INVALID_ARGUMENT).
void apply_copy_config(BoxRecord& box, const api::VmConfig& config);

// Fills a CreateVmResponse or ForkVmResponse for a box that just booted.
template <typename Response>
void fill_created(Response& response, const BoxRecord& box, const std::string& url,
                  std::int64_t boot_ms) {
  response.set_vm_id(box.id);
  response.set_name(box.name);
  response.set_public_ip("127.0.0.1");
  response.set_url(url);
  response.set_image(box.image);
  response.set_status(status_text(BoxStatus::Running));
  response.set_boot_time_ms(static_cast<std::uint64_t>(boot_ms));
}

}  // namespace boxd::local
