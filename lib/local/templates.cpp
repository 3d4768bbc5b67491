#include "local/templates.hpp"

#include <algorithm>

#include "common/log.hpp"
#include "local/fault.hpp"
#include "local/rpc_helpers.hpp"

namespace boxd::local {

namespace {

[[noreturn]] void template_not_found(const std::string& id_or_name) {
  fail(Fault::NotFound, "template '" + id_or_name + "' not found");
}

}  // namespace

TemplateRecord Templates::create(const std::string& user, const std::string& name,
                                 const std::string& image_ref, const VmSettings& settings) {
  TemplateRecord t;
  t.id = rpc::new_id("tpl");
  t.name = name;
  t.owner = user;
  if (t.name.empty()) {
    fail(Fault::InvalidArgument, "a template name is required");
  }
  rpc::check_label("template", t.name);
  t.image_ref = image_ref.empty() ? "host" : image_ref;
  if (t.image_ref != "host") {
    fail(Fault::InvalidArgument,
         "unknown image '" + t.image_ref + "': boxd local has only the image 'host'");
  }
  rpc::check_vm_size(settings.vcpu, settings.memory_bytes);
  t.vcpu = settings.vcpu;
  t.memory_bytes = settings.memory_bytes;
  t.disk_bytes = settings.disk_bytes;
  m_disks.check_size(t.disk_bytes, "disk size");
  if (settings.has_srf) {
    t.auto_suspend_timeout_secs = settings.auto_suspend_timeout_secs;
    t.auto_destroy_timeout_secs = settings.auto_destroy_timeout_secs;
  }
  t.created_at = rpc::now_secs();
  m_store.update([&](StoreData& data) {
    std::size_t owned = 0;
    for (const auto& other : data.templates) {
      if (other.owner == t.owner && other.name == t.name) {
        fail(Fault::AlreadyExists, "template name '" + t.name + "' already exists");
      }
      owned += other.owner == t.owner ? 1 : 0;
    }
    rpc::check_record_room(owned, m_store.record_limit(), "templates");
    data.templates.push_back(t);
  });
  logging::info("template " + t.name + " (" + t.id + ") created for " + t.owner);
  return t;
}

std::vector<TemplateRecord> Templates::list(const std::string& user) const {
  auto mine = m_store.read([&](const StoreData& data) {
    std::vector<TemplateRecord> out;
    for (const auto& t : data.templates) {
      if (t.owner == user) {
        out.push_back(t);
      }
    }
    return out;
  });
  std::sort(mine.begin(), mine.end(),
            [](const TemplateRecord& a, const TemplateRecord& b) { return a.name < b.name; });
  return mine;
}

TemplateRecord Templates::get(const std::string& user, const std::string& key) const {
  const auto found = m_store.read([&](const StoreData& data) -> std::optional<TemplateRecord> {
    for (const auto& t : data.templates) {
      if (t.owner == user && (t.id == key || t.name == key)) {
        return t;
      }
    }
    return std::nullopt;
  });
  if (!found || key.empty()) {
    template_not_found(key);
  }
  return *found;
}

void Templates::remove(const std::string& user, const std::string& key) {
  m_store.update([&](StoreData& data) {
    const auto removed = std::erase_if(data.templates, [&](const TemplateRecord& t) {
      return t.owner == user && (t.id == key || t.name == key);
    });
    if (removed == 0 || key.empty()) {
      template_not_found(key);
    }
  });
  logging::info("template " + key + " deleted by " + user);
}

VmSettings Templates::settings_for(const TemplateRecord& t, const VmSettings& overrides) {
  VmSettings out;
  out.vcpu = overrides.vcpu != 0 ? overrides.vcpu : t.vcpu;
  out.memory_bytes = overrides.memory_bytes != 0 ? overrides.memory_bytes : t.memory_bytes;
  out.disk_bytes = overrides.disk_bytes != 0 ? overrides.disk_bytes : t.disk_bytes;
  if (overrides.has_srf) {
    out.has_srf = true;
    out.auto_suspend_timeout_secs = overrides.auto_suspend_timeout_secs
                                        ? overrides.auto_suspend_timeout_secs
                                        : t.auto_suspend_timeout_secs;
    out.auto_destroy_timeout_secs = overrides.auto_destroy_timeout_secs != 0
                                        ? overrides.auto_destroy_timeout_secs
                                        : t.auto_destroy_timeout_secs;
  } else if (t.auto_suspend_timeout_secs || t.auto_destroy_timeout_secs != 0) {
    out.has_srf = true;
    out.auto_suspend_timeout_secs = t.auto_suspend_timeout_secs;
    out.auto_destroy_timeout_secs = t.auto_destroy_timeout_secs;
  }
  return out;
}

void Templates::mark_source(const std::string& box_id, const std::string& name) {
  m_store.update([&](StoreData& data) {
    for (auto& b : data.boxes) {
      if (b.id == box_id) {
        b.source = "template/" + name;
      }
    }
  });
}

}  // namespace boxd::local
