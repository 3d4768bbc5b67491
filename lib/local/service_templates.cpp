// The template RPCs: request -> Templates (templates.hpp, the domain layer,
// where the rules are) -> response. CreateVmFromTemplate merges the
// template's settings with the request's overrides (Templates::settings_for)
// and then runs CreateVm, so a box from a template is checked, reserved and
// booted exactly like any other box.
#include "local/service.hpp"
#include "local/templates.hpp"

namespace boxd::local {

namespace {

VmSettings settings_of(const api::VmConfig& config) {
  VmSettings settings;
  settings.vcpu = config.vcpu();
  settings.memory_bytes = config.memory_bytes();
  settings.disk_bytes = config.disk_bytes();
  settings.has_srf = config.has_srf();
  if (config.has_srf()) {
    if (config.srf().has_auto_suspend_timeout_secs()) {
      settings.auto_suspend_timeout_secs = config.srf().auto_suspend_timeout_secs();
    }
    settings.auto_destroy_timeout_secs = config.srf().auto_destroy_timeout_secs();
  }
  return settings;
}

void fill_vm_config(const VmSettings& settings, api::VmConfig& config) {
  config.set_vcpu(settings.vcpu);
  config.set_memory_bytes(settings.memory_bytes);
  config.set_disk_bytes(settings.disk_bytes);
  if (settings.has_srf) {
    auto* srf = config.mutable_srf();
    if (settings.auto_suspend_timeout_secs) {
      srf->set_auto_suspend_timeout_secs(*settings.auto_suspend_timeout_secs);
    }
    srf->set_auto_destroy_timeout_secs(settings.auto_destroy_timeout_secs);
  }
}

void to_template_info(const TemplateRecord& t, api::TemplateInfo& info) {
  info.set_template_id(t.id);
  info.set_name(t.name);
  info.set_image_ref(t.image_ref);
  VmSettings settings{t.vcpu, t.memory_bytes, t.disk_bytes};
  if (t.auto_suspend_timeout_secs || t.auto_destroy_timeout_secs != 0) {
    settings.has_srf = true;
    settings.auto_suspend_timeout_secs = t.auto_suspend_timeout_secs;
    settings.auto_destroy_timeout_secs = t.auto_destroy_timeout_secs;
  }
  fill_vm_config(settings, *info.mutable_config());
  info.set_created_at(t.created_at);
}

}  // namespace

grpc::Status BoxdService::CreateTemplate(grpc::ServerContext* context,
                                         const api::CreateTemplateRequest* request,
                                         api::TemplateInfo* response) {
  return handle_rpc(context, [&](const AuthResult& auth) {
    to_template_info(m_templates.create(auth.user_id, request->name(), request->image_ref(),
                                        settings_of(request->config())),
                     *response);
  });
}

grpc::Status BoxdService::ListTemplates(grpc::ServerContext* context,
                                        const api::ListTemplatesRequest*,
                                        api::ListTemplatesResponse* response) {
  return handle_rpc(context, [&](const AuthResult& auth) {
    for (const auto& t : m_templates.list(auth.user_id)) {
      to_template_info(t, *response->add_templates());
    }
  });
}

grpc::Status BoxdService::DeleteTemplate(grpc::ServerContext* context,
                                         const api::DeleteTemplateRequest* request,
                                         api::DeleteTemplateResponse*) {
  return handle_rpc(context, [&](const AuthResult& auth) {
    m_templates.remove(auth.user_id, request->template_id());
  });
}

grpc::Status BoxdService::CreateVmFromTemplate(grpc::ServerContext* context,
                                               const api::CreateVmFromTemplateRequest* request,
                                               api::CreateVmResponse* response) {
  TemplateRecord t;
  auto status = handle_rpc(context, [&](const AuthResult& auth) {
    t = m_templates.get(auth.user_id, request->template_id());
  });
  if (!status.ok()) {
    return status;
  }
  api::CreateVmRequest create;
  create.set_name(request->name());
  create.set_image_ref(t.image_ref);
  fill_vm_config(Templates::settings_for(t, settings_of(request->config())),
                 *create.mutable_config());
  auto created = CreateVm(context, &create, response);
  if (created.ok()) {
    m_templates.mark_source(response->vm_id(), t.name);
  }
  return created;
}

}  // namespace boxd::local
