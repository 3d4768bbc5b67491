// Templates of boxd local: a named, per-user image + VmConfig from which
// boxes are created. CreateVmFromTemplate merges the template's config with
// the request's overrides (a nonzero override wins) and then runs CreateVm,
// so a box from a template is checked, reserved and booted exactly like any
// other box. The template's image is validated when the template is created.
#include <algorithm>

#include "local/rpc_helpers.hpp"
#include "local/service.hpp"

namespace boxd::local {

namespace {

void to_info(const TemplateRecord& t, api::TemplateInfo& info) {
  info.set_template_id(t.id);
  info.set_name(t.name);
  info.set_image_ref(t.image_ref);
  auto* config = info.mutable_config();
  config->set_vcpu(t.vcpu);
  config->set_memory_bytes(t.memory_bytes);
  config->set_disk_bytes(t.disk_bytes);
  if (t.auto_suspend_timeout_secs || t.auto_destroy_timeout_secs != 0) {
    auto* srf = config->mutable_srf();
    if (t.auto_suspend_timeout_secs) {
      srf->set_auto_suspend_timeout_secs(*t.auto_suspend_timeout_secs);
    }
    srf->set_auto_destroy_timeout_secs(t.auto_destroy_timeout_secs);
  }
  info.set_created_at(t.created_at);
}

const TemplateRecord* find_template(const StoreData& data, const std::string& owner,
                                    const std::string& id_or_name) {
  for (const auto& t : data.templates) {
    if (t.owner == owner && (t.id == id_or_name || t.name == id_or_name)) {
      return &t;
    }
  }
  return nullptr;
}

[[noreturn]] void template_not_found(const std::string& id_or_name) {
  fail(Fault::NotFound, "template '" + id_or_name + "' not found");
}

}  // namespace

grpc::Status BoxdService::CreateTemplate(grpc::ServerContext* context,
                                         const api::CreateTemplateRequest* request,
                                         api::TemplateInfo* response) {
  return handle_rpc(context, [&](const AuthResult& auth) {
    TemplateRecord t;
    t.id = rpc::new_id("tpl");
    t.name = request->name();
    t.owner = auth.user_id;
    if (t.name.empty()) {
      fail(Fault::InvalidArgument, "a template name is required");
    }
    rpc::check_label("template", t.name);
    t.image_ref = request->image_ref().empty() ? "host" : request->image_ref();
    if (t.image_ref != "host") {
      fail(Fault::InvalidArgument,
           "unknown image '" + t.image_ref + "': boxd local has only the image 'host'");
    }
    const auto& config = request->config();
    rpc::check_vm_size(config.vcpu(), config.memory_bytes());
    t.vcpu = config.vcpu();
    t.memory_bytes = config.memory_bytes();
    t.disk_bytes = config.disk_bytes();
    m_disks.check_size(t.disk_bytes, "disk size");
    if (config.has_srf()) {
      if (config.srf().has_auto_suspend_timeout_secs()) {
        t.auto_suspend_timeout_secs = config.srf().auto_suspend_timeout_secs();
      }
      t.auto_destroy_timeout_secs = config.srf().auto_destroy_timeout_secs();
    }
    t.created_at = rpc::now_secs();
    m_store.update([&](StoreData& data) {
      for (const auto& other : data.templates) {
        if (other.owner == t.owner && other.name == t.name) {
          fail(Fault::AlreadyExists, "template name '" + t.name + "' already exists");
        }
      }
      data.templates.push_back(t);
    });
    to_info(t, *response);
    log("template " + t.name + " (" + t.id + ") created for " + t.owner);
  });
}

grpc::Status BoxdService::ListTemplates(grpc::ServerContext* context,
                                        const api::ListTemplatesRequest*,
                                        api::ListTemplatesResponse* response) {
  return handle_rpc(context, [&](const AuthResult& auth) {
    m_store.read([&](const StoreData& data) {
      std::vector<TemplateRecord> mine;
      for (const auto& t : data.templates) {
        if (t.owner == auth.user_id) {
          mine.push_back(t);
        }
      }
      std::sort(mine.begin(), mine.end(),
                [](const TemplateRecord& a, const TemplateRecord& b) { return a.name < b.name; });
      for (const auto& t : mine) {
        to_info(t, *response->add_templates());
      }
      return 0;
    });
  });
}

grpc::Status BoxdService::DeleteTemplate(grpc::ServerContext* context,
                                         const api::DeleteTemplateRequest* request,
                                         api::DeleteTemplateResponse*) {
  return handle_rpc(context, [&](const AuthResult& auth) {
    const std::string& key = request->template_id();
    m_store.update([&](StoreData& data) {
      const auto removed = std::erase_if(data.templates, [&](const TemplateRecord& t) {
        return t.owner == auth.user_id && (t.id == key || t.name == key);
      });
      if (removed == 0 || key.empty()) {
        template_not_found(key);
      }
    });
    log("template " + key + " deleted by " + auth.user_id);
  });
}

grpc::Status BoxdService::CreateVmFromTemplate(grpc::ServerContext* context,
                                               const api::CreateVmFromTemplateRequest* request,
                                               api::CreateVmResponse* response) {
  TemplateRecord t;
  auto status = handle_rpc(context, [&](const AuthResult& auth) {
    const auto found = m_store.read([&](const StoreData& data) -> std::optional<TemplateRecord> {
      if (const auto* record = find_template(data, auth.user_id, request->template_id())) {
        return *record;
      }
      return std::nullopt;
    });
    if (!found || request->template_id().empty()) {
      template_not_found(request->template_id());
    }
    t = *found;
  });
  if (!status.ok()) {
    return status;
  }
  api::CreateVmRequest create;
  create.set_name(request->name());
  create.set_image_ref(t.image_ref);
  auto* config = create.mutable_config();
  const auto& overrides = request->config();
  config->set_vcpu(overrides.vcpu() != 0 ? overrides.vcpu() : t.vcpu);
  config->set_memory_bytes(overrides.memory_bytes() != 0 ? overrides.memory_bytes()
                                                         : t.memory_bytes);
  config->set_disk_bytes(overrides.disk_bytes() != 0 ? overrides.disk_bytes() : t.disk_bytes);
  if (overrides.has_srf()) {
    *config->mutable_srf() = overrides.srf();
    if (!overrides.srf().has_auto_suspend_timeout_secs() && t.auto_suspend_timeout_secs) {
      config->mutable_srf()->set_auto_suspend_timeout_secs(*t.auto_suspend_timeout_secs);
    }
    if (overrides.srf().auto_destroy_timeout_secs() == 0) {
      config->mutable_srf()->set_auto_destroy_timeout_secs(t.auto_destroy_timeout_secs);
    }
  } else if (t.auto_suspend_timeout_secs || t.auto_destroy_timeout_secs != 0) {
    auto* srf = config->mutable_srf();
    if (t.auto_suspend_timeout_secs) {
      srf->set_auto_suspend_timeout_secs(*t.auto_suspend_timeout_secs);
    }
    srf->set_auto_destroy_timeout_secs(t.auto_destroy_timeout_secs);
  }
  auto created = CreateVm(context, &create, response);
  if (created.ok()) {
    m_store.update([&](StoreData& data) {
      for (auto& b : data.boxes) {
        if (b.id == response->vm_id()) {
          b.source = "template/" + t.name;
        }
      }
    });
  }
  return created;
}

}  // namespace boxd::local
