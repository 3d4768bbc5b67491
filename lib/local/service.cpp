#include "local/service.hpp"

#include <algorithm>
#include <chrono>

#include <grpcpp/support/method_handler.h>

#include "common/error.hpp"
#include "common/names.hpp"
#include "common/sizes.hpp"
#include "local/chunk_wire.hpp"
#include "local/rpc_helpers.hpp"
#include "local/rpc_log.hpp"
#include "local/service_rpc.hpp"

namespace boxd::local {

void apply_vm_config(BoxRecord& box, const api::VmConfig& config) {
  rpc::check_vm_size(config.vcpu(), config.memory_bytes());
  if (config.vcpu() != 0) {
    box.vcpu = config.vcpu();
  }
  if (config.memory_bytes() != 0) {
    box.memory_bytes = config.memory_bytes();
  }
  if (config.disk_bytes() != 0) {
    box.disk_bytes = config.disk_bytes();
  }
  if (config.has_srf()) {
    if (config.srf().has_auto_suspend_timeout_secs()) {
      box.auto_suspend_timeout_secs = config.srf().auto_suspend_timeout_secs();
    }
    box.auto_destroy_timeout_secs = config.srf().auto_destroy_timeout_secs();
  }
}

void apply_copy_config(BoxRecord& box, const api::VmConfig& config) {
  const std::uint64_t source_bytes = box.disk_bytes;
  if (config.disk_bytes() != 0 && config.disk_bytes() < source_bytes) {
    fail(Fault::InvalidArgument, "disk size " + format_size(config.disk_bytes()) +
                                     " is smaller than the source's " + format_size(source_bytes) +
                                     ": a copied disk can grow, not shrink");
  }
  apply_vm_config(box, config);
}

api::GetVmResponse to_get_vm_response(const BoxRecord& box) {
  api::GetVmResponse r;
  r.set_vm_id(box.id);
  r.set_name(box.name);
  r.set_image_ref(box.image);
  r.set_public_ip("127.0.0.1");
  r.set_status(status_text(box.status));
  r.set_restart_policy(box.restart_policy);
  r.set_disk_bytes(box.disk_bytes);
  r.set_auto_suspend_timeout_secs(box.auto_suspend_timeout_secs);
  r.set_access_domain("localhost");
  r.set_auto_hibernate_timeout_secs(box.auto_hibernate_timeout_secs);
  r.set_source(box.source);
  r.set_vcpu(box.vcpu);
  r.set_memory_bytes(box.memory_bytes);
  r.set_created_at(box.created_at);
  r.set_auto_destroy_timeout_secs(box.auto_destroy_timeout_secs);
  r.set_boot_time_ms(box.boot_time_ms);
  auto* info = r.mutable_source_info();
  const auto slash = box.source.find('/');
  if (!box.forked_from.empty()) {
    info->set_kind("fork");
    info->set_name(box.forked_from);
  } else if (slash != std::string::npos) {  // "template/<name>", "snapshot/<name>"
    info->set_kind(box.source.substr(0, slash));
    info->set_name(box.source.substr(slash + 1));
  } else {
    info->set_kind("standalone");
  }
  r.set_forked_from(box.forked_from);
  r.set_bot_protection(box.bot_protection);
  for (const auto& n : box.networks) {
    r.add_networks(n.name);
  }
  return r;
}

void BoxdService::show_address(api::GetVmResponse& response, const BoxRecord& box) {
  if (box.status != BoxStatus::Running && box.status != BoxStatus::Suspended) {
    return;
  }
  const std::string address = m_runtime.address(m_boxes.spec_of(box), box.handle);
  if (!address.empty()) {
    response.set_public_ip(address);
  }
}

void BoxdService::show_enforced(api::GetVmResponse& response, const BoxRecord& box) {
  if (box.status != BoxStatus::Running && box.status != BoxStatus::Suspended) {
    return;  // nothing runs, so nothing is limited
  }
  const auto limits = m_runtime.enforced_limits(m_boxes.spec_of(box), box.handle);
  auto* enforced = response.mutable_enforced();
  enforced->set_memory_bytes(limits.memory_bytes);
  enforced->set_vcpu(limits.vcpu);
  enforced->set_pids(limits.pids);
}

BoxdService::BoxdService(ServiceOptions options, Store& store, Auth& auth, Runtime& runtime)
    : m_options(std::move(options)),
      m_store(store),
      m_auth(auth),
      m_runtime(runtime),
      m_boxes(BoxesOptions{m_options.state_dir, m_options.max_boxes, m_options.box_pids_max}, store,
              runtime,
              BoxHooks{[this](const std::string& id) { touch_activity(id); },
                       [this](const BoxRecord& box, const BoxHandle& handle) {
                         m_disks.apply(box, handle);
                       },
                       [this](const BoxRecord& box) { m_disks.forget(box); }}) {
  const DiskQuota quota{
      [this](const std::string& user) { return m_disks.bytes_of(user); },
      [this](std::uint64_t in_use, std::uint64_t adding) { m_disks.check_bytes(in_use, adding); },
      std::make_shared<std::mutex>()};
  m_disks.set_quota_lock(quota.lock);
  m_snapshots.set_quota(quota);
  m_boxes.set_disk_quota(quota);
  // UploadFileStream as raw bytes (upload_file_stream). The generated
  // service numbers its methods in the order of the proto's service, which
  // is the descriptor's. MarkMethodStreamed also marks the method
  // BIDI_STREAMING: the server then reads no message before the handler, as
  // for client streaming, but interceptors see that type in
  // ServerRpcInfo::type() (none of ours reads it).
  const auto* method =
      api::UploadFileChunk::descriptor()->file()->FindServiceByName("BoxdApi")->FindMethodByName(
          k_raw_upload_method);
  MarkMethodStreamed(
      method->index(),
      new grpc::internal::ClientStreamingHandler<BoxdService, grpc::ByteBuffer, grpc::ByteBuffer>(
          [](BoxdService* service, grpc::ServerContext* context,
             grpc::ServerReader<grpc::ByteBuffer>* reader, grpc::ByteBuffer* response) {
            return service->upload_file_stream(context, reader, response);
          },
          this));
}

void BoxdService::log(const std::string& event, const logging::Fields& fields) const {
  logging::info(event, fields);
}

void BoxdService::log_stalled(const std::string& rpc, const std::string& user) const {
  logging::warn(
      "stream cancelled: the client sent nothing",
      {{"rpc", rpc},
       {"user", user},
       {"idle_s", static_cast<std::int64_t>(m_options.stream_idle_timeout.count() / 1000)}});
}

// Every RPC body runs through run_rpc (service_rpc.hpp): authentication
// first, then every failure turned into its status.
template <class Fn>
grpc::Status BoxdService::handle(const grpc::ServerContext* context, Fn&& fn) {
  return run_rpc(*this, context, std::forward<Fn>(fn));
}

grpc::StatusCode status_code_of(Fault fault) {
  switch (fault) {
    case Fault::InvalidArgument:
      return grpc::StatusCode::INVALID_ARGUMENT;
    case Fault::NotFound:
      return grpc::StatusCode::NOT_FOUND;
    case Fault::AlreadyExists:
      return grpc::StatusCode::ALREADY_EXISTS;
    case Fault::FailedPrecondition:
      return grpc::StatusCode::FAILED_PRECONDITION;
    case Fault::PermissionDenied:
      return grpc::StatusCode::PERMISSION_DENIED;
    case Fault::Unauthenticated:
      return grpc::StatusCode::UNAUTHENTICATED;
    case Fault::ResourceExhausted:
      return grpc::StatusCode::RESOURCE_EXHAUSTED;
    case Fault::Cancelled:
      return grpc::StatusCode::CANCELLED;
    case Fault::DeadlineExceeded:
      return grpc::StatusCode::DEADLINE_EXCEEDED;
    case Fault::Unavailable:
      return grpc::StatusCode::UNAVAILABLE;
    case Fault::Internal:
      break;
  }
  return grpc::StatusCode::INTERNAL;
}

grpc::Status BoxdService::status_of(const std::exception& error) const {
  const std::string message = error.what();
  const std::string state = m_options.state_dir.string();
  std::string out = message;
  for (auto at = out.find(state); !state.empty() && at != std::string::npos;
       at = out.find(state, at)) {
    out.replace(at, state.size(), "<state>");
  }
  if (out != message) {
    logging::warn("error (the client sees it without host paths): " + message);
  }
  return grpc::Status(status_code_of(fault_of(error)), out);
}

grpc::Status BoxdService::handle_rpc(const grpc::ServerContext* context,
                                     const std::function<void(const AuthResult&)>& fn) {
  return run_rpc(*this, context, fn);
}

AuthResult BoxdService::authenticate(const grpc::ServerContextBase* context) const {
  std::optional<std::string> header;
  const auto& md = context->client_metadata();
  auto it = md.find("authorization");
  if (it != md.end()) {
    header = std::string(it->second.data(), it->second.size());
  }
  auto result = m_auth.check(header);
  note_rpc_caller(context, result.user_id);
  return result;
}

// ---- lifecycle: request -> Boxes (boxes.hpp) -> response ----

grpc::Status BoxdService::CreateVm(grpc::ServerContext* context,
                                   const api::CreateVmRequest* request,
                                   api::CreateVmResponse* response) {
  return handle(context, [&](const AuthResult& auth) {
    BoxDraft wanted;
    wanted.name = request->name();
    wanted.image = request->image_ref();
    wanted.restart_policy = request->restart_policy();
    for (const auto& e : request->env()) {
      wanted.env.emplace_back(e.key(), e.value());
    }
    wanted.cmd.assign(request->cmd().begin(), request->cmd().end());
    BoxRecord box = m_boxes.draft(auth.user_id, wanted);
    m_disks.check_size(request->config().disk_bytes(), "disk size");
    apply_vm_config(box, request->config());
    box.networks = m_networks.resolve(
        auth.user_id,
        std::vector<std::string>(request->networks().begin(), request->networks().end()));
    const auto ms = m_boxes.create(box);
    fill_created(*response, box, m_proxies.url_of(box), ms);
  });
}

grpc::Status BoxdService::GetVm(grpc::ServerContext* context, const api::GetVmRequest* request,
                                api::GetVmResponse* response) {
  return handle(context, [&](const AuthResult& auth) {
    const auto box = m_boxes.require(auth.user_id, request->vm_id());
    *response = to_get_vm_response(box);
    decorate(*response);
    show_enforced(*response, box);
    show_address(*response, box);
  });
}

grpc::Status BoxdService::ListVms(grpc::ServerContext* context, const api::ListVmsRequest*,
                                  api::ListVmsResponse* response) {
  return handle(context, [&](const AuthResult& auth) {
    const auto access = m_proxies.access_of_all();  // not one scan of all boxes per box
    for (const auto& b : m_boxes.list(auth.user_id)) {
      auto* vm = response->add_vms();
      *vm = to_get_vm_response(b);
      auto it = access.find(b.id);
      decorate(*vm, it != access.end() ? it->second : BoxAccess{});
      show_enforced(*vm, b);
      show_address(*vm, b);
    }
  });
}

grpc::Status BoxdService::StartVm(grpc::ServerContext* context, const api::StartVmRequest* request,
                                  api::StartVmResponse*) {
  return handle(context,
                [&](const AuthResult& auth) { m_boxes.start(auth.user_id, request->vm_id()); });
}

grpc::Status BoxdService::StopVm(grpc::ServerContext* context, const api::StopVmRequest* request,
                                 api::StopVmResponse*) {
  return handle(context,
                [&](const AuthResult& auth) { m_boxes.stop(auth.user_id, request->vm_id()); });
}

grpc::Status BoxdService::RebootVm(grpc::ServerContext* context,
                                   const api::RebootVmRequest* request, api::RebootVmResponse*) {
  return handle(context,
                [&](const AuthResult& auth) { m_boxes.reboot(auth.user_id, request->vm_id()); });
}

grpc::Status BoxdService::DestroyVm(grpc::ServerContext* context,
                                    const api::DestroyVmRequest* request, api::DestroyVmResponse*) {
  return handle(context,
                [&](const AuthResult& auth) { m_boxes.destroy(auth.user_id, request->vm_id()); });
}

grpc::Status BoxdService::SuspendVm(grpc::ServerContext* context,
                                    const api::SuspendVmRequest* request,
                                    api::SuspendVmResponse* response) {
  return handle(context, [&](const AuthResult& auth) {
    response->set_suspend_us(m_boxes.suspend(auth.user_id, request->vm_id()));
  });
}

grpc::Status BoxdService::ResumeVm(grpc::ServerContext* context,
                                   const api::ResumeVmRequest* request,
                                   api::ResumeVmResponse* response) {
  return handle(context, [&](const AuthResult& auth) {
    response->set_resume_us(m_boxes.resume(auth.user_id, request->vm_id()));
  });
}

grpc::Status BoxdService::WakeVm(grpc::ServerContext* context, const api::WakeVmRequest* request,
                                 api::WakeVmResponse*) {
  return handle(context,
                [&](const AuthResult& auth) { m_boxes.wake(auth.user_id, request->vm_id()); });
}

grpc::Status BoxdService::ForkVm(grpc::ServerContext* context, const api::ForkVmRequest* request,
                                 api::ForkVmResponse* response) {
  return handle(context, [&](const AuthResult& auth) {
    BoxRecord box;
    const auto ms = m_boxes.fork(
        auth.user_id, request->source_vm_id(), request->name(),
        [&](BoxRecord& fork) {
          m_disks.check_size(request->config().disk_bytes(), "disk size");
          apply_copy_config(fork, request->config());
        },
        box);
    fill_created(*response, box, m_proxies.url_of(box), ms);
    response->set_forked_from(box.forked_from);
  });
}

// Nothing needs a reboot, so `rebooted` is always false (Boxes::resize).
grpc::Status BoxdService::ResizeVm(grpc::ServerContext* context,
                                   const api::ResizeVmRequest* request,
                                   api::ResizeVmResponse* response) {
  return handle(context, [&](const AuthResult& auth) {
    const auto resized =
        m_boxes.resize(auth.user_id, request->vm_id(), request->vcpu(), request->memory_bytes());
    response->set_vcpu(resized.vcpu);
    response->set_memory_bytes(resized.memory_bytes);
    response->set_rebooted(false);
  });
}

// ---- identity and tokens: request -> Identity (identity.hpp) -> response ----

grpc::Status BoxdService::Whoami(grpc::ServerContext* context, const api::WhoamiRequest*,
                                 api::WhoamiResponse* response) {
  return handle(context, [&](const AuthResult& auth) {
    const auto who = m_identity.whoami(auth.user_id);
    response->set_user_id(who.user_id);
    response->set_display_name(who.display_name);
    for (const auto& fp : who.fingerprints) {
      response->add_fingerprints(fp);
    }
    response->set_default_network_id(who.default_network_id);
  });
}

grpc::Status BoxdService::GetConfig(grpc::ServerContext* context, const api::GetConfigRequest*,
                                    api::GetConfigResponse* response) {
  return handle(context, [&](const AuthResult&) {
    const auto server = m_identity.server();
    response->set_default_image(server.default_image);
    response->set_zone(server.zone);
    for (const auto& layer : server.isolation) {
      auto* out = response->add_isolation();
      out->set_name(layer.name);
      out->set_enforced(layer.enforced);
      out->set_detail(layer.detail);
    }
  });
}

grpc::Status BoxdService::CreateToken(grpc::ServerContext* context,
                                      const api::CreateTokenRequest* request,
                                      api::CreateTokenResponse* response) {
  return handle(context, [&](const AuthResult& auth) {
    const auto token =
        m_identity.create_token(auth.user_id, auth.key_id, request->expires_in_secs());
    response->set_token(token.token);
    response->set_expires_at(token.expires_at);
  });
}

grpc::Status BoxdService::ListTokens(grpc::ServerContext* context, const api::ListTokensRequest*,
                                     api::ListTokensResponse* response) {
  return handle(context, [&](const AuthResult& auth) {
    for (const auto& t : m_identity.list_tokens(auth.user_id)) {
      auto* info = response->add_tokens();
      info->set_jti(t.jti);
      info->set_created_at(t.created_at);
      info->set_expires_at(t.expires_at);
    }
  });
}

grpc::Status BoxdService::RevokeToken(grpc::ServerContext* context,
                                      const api::RevokeTokenRequest* request,
                                      api::RevokeTokenResponse*) {
  return handle(context,
                [&](const AuthResult& auth) { m_identity.revoke_token(auth, request->jti()); });
}

// ---- exec support ----

ExecTarget BoxdService::resolve_exec(const std::string& user, const std::string& vm_id) {
  const auto box = m_boxes.require_running(user, vm_id);
  return ExecTarget{m_boxes.spec_of(box), box.handle};
}

// ---- startup and shutdown ----

void BoxdService::recover() {
  m_disks.prepare_images();
  m_boxes.recover();
  m_idle.start();
}

void BoxdService::shutdown_boxes() {
  m_idle.stop();
  m_boxes.shutdown();
  m_disks.unmount_images();
}

}  // namespace boxd::local
