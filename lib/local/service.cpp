#include "local/service.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <chrono>

#include "common/error.hpp"
#include "common/files.hpp"
#include "common/jwt.hpp"
#include "common/names.hpp"
#include "local/rpc_helpers.hpp"
#include "local/rpc_log.hpp"
#include "local/service_rpc.hpp"
#include "local/ssh_keys.hpp"

namespace boxd::local {

namespace {


std::int64_t now_secs() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::int64_t elapsed_ms(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               since)
      .count();
}

[[noreturn]] void not_found(const std::string& vm) { fail_box_not_found(vm); }

[[noreturn]] void wrong_state(const BoxRecord& box) { fail_box_state(box.name, box.status); }

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

}  // namespace

std::string generate_box_id() {
  std::string hex = random_hex(16);
  hex[12] = '4';                                        // version 4 (random)
  hex[16] = "89ab"[std::stoi(hex.substr(16, 1), nullptr, 16) & 3];  // RFC 4122 variant
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
         hex.substr(16, 4) + "-" + hex.substr(20, 12);
}

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
  const std::string address = m_runtime.address(spec_of(box), box.handle);
  if (!address.empty()) {
    response.set_public_ip(address);
  }
}

void BoxdService::show_enforced(api::GetVmResponse& response, const BoxRecord& box) {
  if (box.status != BoxStatus::Running && box.status != BoxStatus::Suspended) {
    return;  // nothing runs, so nothing is limited
  }
  const auto limits = m_runtime.enforced_limits(spec_of(box), box.handle);
  auto* enforced = response.mutable_enforced();
  enforced->set_memory_bytes(limits.memory_bytes);
  enforced->set_vcpu(limits.vcpu);
  enforced->set_pids(limits.pids);
}

BoxdService::BoxdService(ServiceOptions options, Store& store, Auth& auth, Runtime& runtime)
    : m_options(std::move(options)), m_store(store), m_auth(auth), m_runtime(runtime) {}

void BoxdService::log(const std::string& event, const logging::Fields& fields) const {
  logging::info(event, fields);
}

BoxSpec BoxdService::spec_of(const BoxRecord& box) const {
  BoxSpec spec;
  spec.id = box.id;
  spec.name = box.name;
  spec.dir = m_options.state_dir / "boxes" / box.id;
  spec.env = box.env;
  spec.networks = box.networks;
  spec.limits.memory_bytes = box.memory_bytes;
  spec.limits.vcpu = box.vcpu;
  spec.limits.pids = m_options.box_pids_max;
  return spec;
}

std::shared_ptr<std::mutex> BoxdService::op_lock(const std::string& id) {
  std::lock_guard lock(m_locks_mutex);
  auto& slot = m_op_locks[id];
  if (!slot) {
    slot = std::make_shared<std::mutex>();
  }
  return slot;
}

BoxRecord BoxdService::require_box(const std::string& user, const std::string& vm_id) {
  if (vm_id.empty()) {
    fail(Fault::InvalidArgument, "vm_id is required");
  }
  auto box = m_store.find_box(user, vm_id);
  if (!box) {
    not_found(vm_id);
  }
  refresh_liveness(*box);
  return *box;
}

void BoxdService::refresh_liveness(BoxRecord& box) {
  if (box.status != BoxStatus::Running && box.status != BoxStatus::Suspended) {
    return;
  }
  if (m_runtime.alive(spec_of(box), box.handle)) {
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
  log("box found dead, marked stopped", {{"user", box.owner}, {"box", box.name}});
  box.status = BoxStatus::Stopped;
  box.handle = BoxHandle{};
}

void BoxdService::set_status(const std::string& id, BoxStatus status) {
  if (status == BoxStatus::Running) {
    touch_activity(id);
  }
  m_store.update([&](StoreData& data) {
    for (auto& b : data.boxes) {
      if (b.id == id) {
        b.status = status;
      }
    }
  });
}

std::int64_t BoxdService::boot_and_record(const BoxRecord& box) {
  set_status(box.id, BoxStatus::Starting);
  const auto started = std::chrono::steady_clock::now();
  BoxHandle handle;
  try {
    handle = m_runtime.boot(spec_of(box));
  } catch (...) {
    set_status(box.id, BoxStatus::Failed);
    throw;
  }
  const auto ms = elapsed_ms(started);
  m_store.update([&](StoreData& data) {
    for (auto& b : data.boxes) {
      if (b.id == box.id) {
        b.status = BoxStatus::Running;
        b.handle = handle;
        b.boot_time_ms = ms;
      }
    }
  });
  touch_activity(box.id);
  log("box running", {{"user", box.owner}, {"box", box.name}, {"boot_ms", static_cast<std::int64_t>(ms)}});
  apply_disks(box, handle);
  return ms;
}

void BoxdService::stop_and_record(const BoxRecord& box, BoxStatus final_status) {
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

void BoxdService::reserve(BoxRecord& box) {
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
    box.status = BoxStatus::Starting;
    box.created_at = now_secs();
    data.boxes.push_back(box);
  });
}

std::int64_t BoxdService::provision(const BoxRecord& box,
                                    const std::function<void(const BoxSpec&)>& fill_disk) {
  const auto spec = spec_of(box);
  try {
    if (fill_disk) {
      fill_disk(spec);
    } else {
      m_runtime.create(spec);
    }
    return boot_and_record(box);
  } catch (...) {
    try {
      m_runtime.destroy(spec);
    } catch (...) {
    }
    m_store.update([&](StoreData& data) {
      std::erase_if(data.boxes, [&](const BoxRecord& b) { return b.id == box.id; });
    });
    throw;
  }
}

void BoxdService::with_locked_box(const std::string& user, const std::string& vm_id,
                                  const std::function<void(const BoxRecord&)>& fn) {
  const auto id = require_box(user, vm_id).id;
  auto lock = op_lock(id);
  std::lock_guard guard(*lock);
  fn(require_box(user, id));
}

// Every RPC body runs through run_rpc (service_rpc.hpp): authentication
// first, then every failure turned into its status.
template <class Fn>
grpc::Status BoxdService::handle(const grpc::ServerContext* context, Fn&& fn) {
  return run_rpc(*this, context, std::forward<Fn>(fn));
}

grpc::StatusCode status_code_of(Fault fault) {
  switch (fault) {
    case Fault::InvalidArgument: return grpc::StatusCode::INVALID_ARGUMENT;
    case Fault::NotFound: return grpc::StatusCode::NOT_FOUND;
    case Fault::AlreadyExists: return grpc::StatusCode::ALREADY_EXISTS;
    case Fault::FailedPrecondition: return grpc::StatusCode::FAILED_PRECONDITION;
    case Fault::PermissionDenied: return grpc::StatusCode::PERMISSION_DENIED;
    case Fault::Unauthenticated: return grpc::StatusCode::UNAUTHENTICATED;
    case Fault::ResourceExhausted: return grpc::StatusCode::RESOURCE_EXHAUSTED;
    case Fault::Cancelled: return grpc::StatusCode::CANCELLED;
    case Fault::DeadlineExceeded: return grpc::StatusCode::DEADLINE_EXCEEDED;
    case Fault::Unavailable: return grpc::StatusCode::UNAVAILABLE;
    case Fault::Internal: break;
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

// ---- lifecycle ----

BoxRecord BoxdService::new_box(const std::string& owner, const std::string& name) const {
  BoxRecord box;
  box.id = generate_box_id();
  box.owner = owner;
  box.name = name;
  if (box.name.empty()) {
    do {
      box.name = generate_box_name();
    } while (m_store.find_box(owner, box.name));
  }
  check_name(box.name);
  return box;
}

grpc::Status BoxdService::CreateVm(grpc::ServerContext* context,
                                   const api::CreateVmRequest* request,
                                   api::CreateVmResponse* response) {
  return handle(context, [&](const AuthResult& auth) {
    BoxRecord box = new_box(auth.user_id, request->name());
    if (!request->image_ref().empty() && request->image_ref() != "host") {
      fail(Fault::InvalidArgument,
           "unknown image '" + request->image_ref() + "': boxd local has only the image 'host'");
    }
    const std::string& policy = request->restart_policy();
    if (!policy.empty() && policy != "always" && policy != "never") {
      fail(Fault::InvalidArgument,
           "invalid restart policy '" + policy + "': use 'always' or 'never'");
    }
    if (!policy.empty()) {
      box.restart_policy = policy;
    }
    for (const auto& e : request->env()) {
      if (!is_valid_env_name(e.key())) {
        fail(Fault::InvalidArgument, "invalid environment variable name '" + e.key() + "'");
      }
      box.env.emplace_back(e.key(), e.value());
    }
    box.cmd.assign(request->cmd().begin(), request->cmd().end());
    check_disk_size(request->config().disk_bytes(), "disk size");
    apply_vm_config(box, request->config());
    box.networks = resolve_networks(
        auth.user_id,
        std::vector<std::string>(request->networks().begin(), request->networks().end()));

    auto lock = op_lock(box.id);
    std::lock_guard guard(*lock);
    reserve(box);
    log("box creating", {{"user", box.owner}, {"box", box.name}, {"id", box.id}});
    const auto ms = provision(box);
    fill_created(*response, box, url_of(box), ms);
  });
}

grpc::Status BoxdService::GetVm(grpc::ServerContext* context, const api::GetVmRequest* request,
                                api::GetVmResponse* response) {
  return handle(context, [&](const AuthResult& auth) {
    const auto box = require_box(auth.user_id, request->vm_id());
    *response = to_get_vm_response(box);
    decorate(*response);
    show_enforced(*response, box);
    show_address(*response, box);
  });
}

grpc::Status BoxdService::ListVms(grpc::ServerContext* context, const api::ListVmsRequest*,
                                  api::ListVmsResponse* response) {
  return handle(context, [&](const AuthResult& auth) {
    auto boxes = m_store.boxes();
    for (auto& b : boxes) {
      if (b.owner == auth.user_id) {
        refresh_liveness(b);
      }
    }
    std::sort(boxes.begin(), boxes.end(), [](const BoxRecord& a, const BoxRecord& b) {
      return a.created_at != b.created_at ? a.created_at < b.created_at : a.name < b.name;
    });
    for (const auto& b : boxes) {
      if (b.owner == auth.user_id) {
        auto* vm = response->add_vms();
        *vm = to_get_vm_response(b);
        decorate(*vm);
        show_enforced(*vm, b);
        show_address(*vm, b);
      }
    }
  });
}

grpc::Status BoxdService::StartVm(grpc::ServerContext* context, const api::StartVmRequest* request,
                                  api::StartVmResponse*) {
  return handle(context, [&](const AuthResult& auth) {
    with_locked_box(auth.user_id, request->vm_id(), [&](const BoxRecord& box) {
      if (box.status == BoxStatus::Running && m_runtime.alive(spec_of(box), box.handle)) {
        return;
      }
      if (box.status == BoxStatus::Suspended && m_runtime.alive(spec_of(box), box.handle)) {
        m_runtime.resume(spec_of(box), box.handle);
        set_status(box.id, BoxStatus::Running);
        return;
      }
      if (m_runtime.alive(spec_of(box), box.handle)) {
        m_runtime.stop(spec_of(box), box.handle);
      }
      boot_and_record(box);
    });
  });
}

grpc::Status BoxdService::StopVm(grpc::ServerContext* context, const api::StopVmRequest* request,
                                 api::StopVmResponse*) {
  return handle(context, [&](const AuthResult& auth) {
    with_locked_box(auth.user_id, request->vm_id(), [&](const BoxRecord& box) {
      if (box.status == BoxStatus::Stopped) {
        return;
      }
      stop_and_record(box, BoxStatus::Stopped);
      log("box stopped", {{"user", box.owner}, {"box", box.name}});
    });
  });
}

grpc::Status BoxdService::RebootVm(grpc::ServerContext* context,
                                   const api::RebootVmRequest* request, api::RebootVmResponse*) {
  return handle(context, [&](const AuthResult& auth) {
    with_locked_box(auth.user_id, request->vm_id(), [&](const BoxRecord& box) {
      log("box rebooting", {{"user", box.owner}, {"box", box.name}});
      if (box.status != BoxStatus::Stopped || m_runtime.alive(spec_of(box), box.handle)) {
        stop_and_record(box, BoxStatus::Stopped);
      }
      boot_and_record(box);
    });
  });
}

grpc::Status BoxdService::DestroyVm(grpc::ServerContext* context,
                                    const api::DestroyVmRequest* request, api::DestroyVmResponse*) {
  return handle(context, [&](const AuthResult& auth) {
    with_locked_box(auth.user_id, request->vm_id(), [&](const BoxRecord& box) {
      set_status(box.id, BoxStatus::Destroying);
      m_runtime.stop(spec_of(box), box.handle);
      m_runtime.destroy(spec_of(box));
      m_store.update([&](StoreData& data) {
        std::erase_if(data.boxes, [&](const BoxRecord& b) { return b.id == box.id; });
      });
      forget_disks_of(box);
      log("box destroyed", {{"user", box.owner}, {"box", box.name}});
    });
  });
}

grpc::Status BoxdService::SuspendVm(grpc::ServerContext* context,
                                    const api::SuspendVmRequest* request,
                                    api::SuspendVmResponse* response) {
  return handle(context, [&](const AuthResult& auth) {
    with_locked_box(auth.user_id, request->vm_id(), [&](const BoxRecord& box) {
      if (box.status != BoxStatus::Running) {
        wrong_state(box);
      }
      const auto started = std::chrono::steady_clock::now();
      m_runtime.suspend(spec_of(box), box.handle);
      set_status(box.id, BoxStatus::Suspended);
      response->set_suspend_us(rpc::micros_since(started));
      log("box suspended", {{"user", box.owner}, {"box", box.name}});
    });
  });
}

grpc::Status BoxdService::ResumeVm(grpc::ServerContext* context,
                                   const api::ResumeVmRequest* request,
                                   api::ResumeVmResponse* response) {
  return handle(context, [&](const AuthResult& auth) {
    with_locked_box(auth.user_id, request->vm_id(), [&](const BoxRecord& box) {
      if (box.status == BoxStatus::Running) {
        return;
      }
      if (box.status != BoxStatus::Suspended) {
        wrong_state(box);
      }
      const auto started = std::chrono::steady_clock::now();
      m_runtime.resume(spec_of(box), box.handle);
      set_status(box.id, BoxStatus::Running);
      response->set_resume_us(rpc::micros_since(started));
      log("box resumed", {{"user", box.owner}, {"box", box.name}});
    });
  });
}

grpc::Status BoxdService::WakeVm(grpc::ServerContext* context, const api::WakeVmRequest* request,
                                 api::WakeVmResponse*) {
  return handle(context, [&](const AuthResult& auth) {
    with_locked_box(auth.user_id, request->vm_id(), [&](const BoxRecord& box) {
      const bool alive = m_runtime.alive(spec_of(box), box.handle);
      if (box.status == BoxStatus::Running && alive) {
        return;
      }
      if (box.status == BoxStatus::Suspended && alive) {
        m_runtime.resume(spec_of(box), box.handle);
        set_status(box.id, BoxStatus::Running);
        return;
      }
      if (m_runtime.alive(spec_of(box), box.handle)) {
        m_runtime.stop(spec_of(box), box.handle);
      }
      boot_and_record(box);
    });
  });
}

grpc::Status BoxdService::ForkVm(grpc::ServerContext* context, const api::ForkVmRequest* request,
                                 api::ForkVmResponse* response) {
  return handle(context, [&](const AuthResult& auth) {
    const auto source = require_box(auth.user_id, request->source_vm_id());
    BoxRecord box = source;
    box.id = generate_box_id();
    box.name = request->name().empty() ? source.name + "-fork" : request->name();
    check_name(box.name);
    box.source = "fork/" + source.name;
    box.forked_from = source.name;
    box.handle = BoxHandle{};
    box.boot_time_ms = 0;
    check_disk_size(request->config().disk_bytes(), "disk size");
    apply_vm_config(box, request->config());

    auto lock = op_lock(box.id);
    std::lock_guard guard(*lock);
    reserve(box);
    std::int64_t ms = 0;
    {
      auto source_lock = op_lock(source.id);
      std::lock_guard source_guard(*source_lock);
      if (!m_store.find_box(auth.user_id, source.id)) {
        m_store.update([&](StoreData& data) {
          std::erase_if(data.boxes, [&](const BoxRecord& b) { return b.id == box.id; });
        });
        not_found(request->source_vm_id());
      }
      log("box forking", {{"user", box.owner}, {"box", box.name}, {"from", source.name}});
      const auto current = require_box(auth.user_id, source.id);
      ms = provision(box, [&](const BoxSpec& dst) { copy_disk_frozen(current, dst); });
    }
    fill_created(*response, box, url_of(box), ms);
    response->set_forked_from(source.name);
  });
}

grpc::Status BoxdService::SetAutoSuspendTimeout(grpc::ServerContext* context,
                                                const api::SetAutoSuspendTimeoutRequest* request,
                                                api::SetAutoSuspendTimeoutResponse*) {
  return handle(context, [&](const AuthResult& auth) {
    require_box(auth.user_id, request->vm_id());
    m_store.update([&](StoreData& data) {
      if (auto* b = find_box_in(data, auth.user_id, request->vm_id())) {
        b->auto_suspend_timeout_secs = request->timeout_secs();
        touch_activity(b->id);
      }
    });
  });
}

grpc::Status BoxdService::SetAutoHibernateTimeout(
    grpc::ServerContext* context, const api::SetAutoHibernateTimeoutRequest* request,
    api::SetAutoHibernateTimeoutResponse*) {
  return handle(context, [&](const AuthResult& auth) {
    require_box(auth.user_id, request->vm_id());
    m_store.update([&](StoreData& data) {
      if (auto* b = find_box_in(data, auth.user_id, request->vm_id())) {
        b->auto_hibernate_timeout_secs = request->timeout_secs();
        touch_activity(b->id);
      }
    });
  });
}

// The new size is applied to a running (or suspended) box at once through
// its cgroups, then recorded; a limit the kernel refuses (under cgroup v1,
// memory below what the box uses now) fails the call and records nothing.
// A stopped box gets it at its next boot. Nothing needs a reboot, so
// `rebooted` is always false.
grpc::Status BoxdService::ResizeVm(grpc::ServerContext* context, const api::ResizeVmRequest* request,
                                   api::ResizeVmResponse* response) {
  return handle(context, [&](const AuthResult& auth) {
    rpc::check_vm_size(request->vcpu(), request->memory_bytes());
    if (request->vcpu() == 0 && request->memory_bytes() == 0) {
      fail(Fault::InvalidArgument, "nothing to resize: give vcpu and/or memory_bytes");
    }
    with_locked_box(auth.user_id, request->vm_id(), [&](const BoxRecord& box) {
      BoxRecord resized = box;
      if (request->vcpu() != 0) {
        resized.vcpu = request->vcpu();
      }
      if (request->memory_bytes() != 0) {
        resized.memory_bytes = request->memory_bytes();
      }
      if ((box.status == BoxStatus::Running || box.status == BoxStatus::Suspended) &&
          m_runtime.alive(spec_of(box), box.handle)) {
        m_runtime.apply_limits(spec_of(resized), box.handle);
      }
      m_store.update([&](StoreData& data) {
        if (auto* b = find_box_in(data, auth.user_id, box.id)) {
          b->vcpu = resized.vcpu;
          b->memory_bytes = resized.memory_bytes;
        }
      });
      response->set_vcpu(resized.vcpu);
      response->set_memory_bytes(resized.memory_bytes);
      response->set_rebooted(false);
      log("box resized", {{"user", box.owner}, {"box", box.name}, {"vcpu", static_cast<std::int64_t>(resized.vcpu)},
                           {"memory_bytes", static_cast<std::int64_t>(resized.memory_bytes)}});
    });
  });
}

// ---- identity and tokens ----

grpc::Status BoxdService::Whoami(grpc::ServerContext* context, const api::WhoamiRequest*,
                                 api::WhoamiResponse* response) {
  return handle(context, [&](const AuthResult& auth) {
    response->set_user_id(auth.user_id);
    response->set_display_name(auth.user_id);
    const auto keys = ssh_keys_file(m_options.state_dir, auth.user_id);
    if (!keys.empty()) {
      if (const auto text = read_file(keys)) {
        for (const auto& fp : ssh_key_fingerprints(*text)) {
          response->add_fingerprints(fp);
        }
      }
    }
    response->set_default_network_id(default_network_id(auth.user_id));
  });
}

grpc::Status BoxdService::GetConfig(grpc::ServerContext* context, const api::GetConfigRequest*,
                                    api::GetConfigResponse* response) {
  return handle(context, [&](const AuthResult&) {
    response->set_default_image("host");
    response->set_zone("localhost");
    for (const auto& layer : m_runtime.isolation()) {
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
    auto token = m_auth.issue(auth.user_id, request->expires_in_secs(), true);
    response->set_token(token.token);
    response->set_expires_at(token.expires_at);
    log("token created", {{"user", auth.user_id}, {"jti", token.jti}});
  });
}

grpc::Status BoxdService::ListTokens(grpc::ServerContext* context, const api::ListTokensRequest*,
                                     api::ListTokensResponse* response) {
  return handle(context, [&](const AuthResult& auth) {
    const auto now = now_secs();
    m_store.read([&](const StoreData& data) {
      for (const auto& t : data.tokens) {
        if (t.owner == auth.user_id && t.expires_at > now && data.revoked.count(t.jti) == 0) {
          auto* info = response->add_tokens();
          info->set_jti(t.jti);
          info->set_created_at(t.created_at);
          info->set_expires_at(t.expires_at);
        }
      }
      return 0;
    });
  });
}

grpc::Status BoxdService::RevokeToken(grpc::ServerContext* context,
                                      const api::RevokeTokenRequest* request,
                                      api::RevokeTokenResponse*) {
  return handle(context, [&](const AuthResult& auth) {
    const auto& jti = request->jti();
    m_store.update([&](StoreData& data) {
      std::int64_t expires_at = now_secs() + m_auth.token_ttl();
      bool found = jti == auth.jti;  // a caller may always revoke its own token
      for (const auto& t : data.tokens) {
        if (t.jti == jti && t.owner == auth.user_id) {
          found = true;
          expires_at = t.expires_at;
        }
      }
      if (!found || jti.empty()) {
        fail(Fault::NotFound, "token '" + jti + "' not found");
      }
      const auto now = now_secs();
      std::erase_if(data.revoked, [now](const auto& entry) { return entry.second < now; });
      std::erase_if(data.tokens, [&](const TokenRecord& t) { return t.jti == jti; });
      data.revoked[jti] = expires_at;
    });
    log("token revoked", {{"user", auth.user_id}, {"jti", jti}});
  });
}

// ---- exec support ----

ExecTarget BoxdService::resolve_exec(const std::string& user, const std::string& vm_id) {
  const auto box = require_box(user, vm_id);
  if (box.status != BoxStatus::Running) {
    wrong_state(box);
  }
  touch_activity(box.id);
  return ExecTarget{spec_of(box), box.handle};
}

// ---- startup and shutdown ----

// An adopted box keeps the cgroups it had; this server's settings (e.g.
// --box-pids-max) apply to it from now on.
void BoxdService::adopt_limits(const BoxRecord& box) {
  try {
    m_runtime.apply_limits(spec_of(box), box.handle);
  } catch (const std::exception& e) {
    logging::warn(std::string("could not apply the box's limits: ") + e.what(), {{"user", box.owner}, {"box", box.name}});
  }
}

void BoxdService::recover() {
  prepare_disk_images();
  for (const auto& box : m_store.boxes()) {
    const auto spec = spec_of(box);
    const bool alive = m_runtime.alive(spec, box.handle);
    try {
      if (box.status == BoxStatus::Running || box.status == BoxStatus::Starting) {
        if (alive && box.status == BoxStatus::Running) {
          log("box adopted", {{"user", box.owner}, {"box", box.name}, {"init_pid", static_cast<std::int64_t>(box.handle.init_pid)}});
          adopt_limits(box);
          continue;
        }
        if (alive) {
          m_runtime.stop(spec, box.handle);
        }
        boot_and_record(box);
      } else if (box.status == BoxStatus::Suspended) {
        if (alive) {
          log("box adopted (suspended)", {{"user", box.owner}, {"box", box.name}});
          adopt_limits(box);
          continue;
        }
        boot_and_record(box);
        const auto booted = m_store.find_box(box.owner, box.id);
        if (booted) {
          m_runtime.suspend(spec, booted->handle);
          set_status(box.id, BoxStatus::Suspended);
        }
      } else if (box.status == BoxStatus::Hibernated) {
        if (alive) {
          m_runtime.stop(spec, box.handle);
        }
      } else if (box.status == BoxStatus::Stopping || box.status == BoxStatus::Destroying ||
                 box.status == BoxStatus::Stopped || box.status == BoxStatus::Failed) {
        if (alive) {
          m_runtime.stop(spec, box.handle);
        }
        if (box.status == BoxStatus::Destroying) {
          m_runtime.destroy(spec);
          m_store.update([&](StoreData& data) {
            std::erase_if(data.boxes, [&](const BoxRecord& b) { return b.id == box.id; });
          });
        } else if (box.status != BoxStatus::Failed) {
          stop_and_record(box, BoxStatus::Stopped);
        }
      }
    } catch (const std::exception& e) {
      logging::warn(std::string("could not recover the box: ") + e.what(), {{"user", box.owner}, {"box", box.name}});
      set_status(box.id, BoxStatus::Failed);
    }
  }
  start_idle_watcher();
}

void BoxdService::shutdown_boxes() {
  stop_idle_watcher();
  for (const auto& box : m_store.boxes()) {
    if (box.status == BoxStatus::Stopped || box.status == BoxStatus::Failed) {
      continue;
    }
    auto lock = op_lock(box.id);
    std::lock_guard guard(*lock);
    try {
      m_runtime.stop(spec_of(box), box.handle);
      log("box stopped (server shutdown)", {{"user", box.owner}, {"box", box.name}});
    } catch (const std::exception& e) {
      logging::warn(std::string("could not stop the box: ") + e.what(), {{"user", box.owner}, {"box", box.name}});
    }
  }
  unmount_disk_images();
}

}  // namespace boxd::local
