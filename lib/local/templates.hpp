// The domain layer of boxd local for templates: a named, per-user image +
// sizes and timeouts from which boxes are created. A box from a template
// gets the template's settings with the request's overrides merged in (a
// nonzero override wins: settings_for()) and is then created like any other
// box (the adapter runs CreateVm), so it is checked, reserved and booted
// exactly the same way; its source becomes "template/<name>". The
// template's image, sizes and disk size are checked when the template is
// created. No gRPC type here (the adapter is service_templates.cpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "local/disks.hpp"
#include "local/store.hpp"

namespace boxd::local {

// The sizes and timeouts of a request's VmConfig, as plain values (0 = the
// server's default or "not given").
struct VmSettings {
  std::uint32_t vcpu = 0;
  std::uint64_t memory_bytes = 0;
  std::uint64_t disk_bytes = 0;
  bool has_srf = false;  // the timeouts below were given
  std::optional<std::uint32_t> auto_suspend_timeout_secs;
  std::uint32_t auto_destroy_timeout_secs = 0;
};

class Templates {
 public:
  // `disks` checks the template's disk size (Disks::check_size).
  Templates(Store& store, const Disks& disks) : m_store(store), m_disks(disks) {}

  // A new template `name` of `image_ref` ("" = "host") with `settings`.
  TemplateRecord create(const std::string& user, const std::string& name,
                        const std::string& image_ref, const VmSettings& settings);
  // The caller's templates by name.
  std::vector<TemplateRecord> list(const std::string& user) const;
  // By id or name; NOT_FOUND "template 'KEY' not found" otherwise.
  TemplateRecord get(const std::string& user, const std::string& key) const;
  void remove(const std::string& user, const std::string& key);

  // What a box made from `t` gets: each nonzero size of `overrides`, else
  // the template's; the timeouts given in `overrides`, the template's for
  // those not given.
  static VmSettings settings_for(const TemplateRecord& t, const VmSettings& overrides);
  // Records that box `box_id` was made from template `name`.
  void mark_source(const std::string& box_id, const std::string& name);

 private:
  Store& m_store;
  const Disks& m_disks;
};

}  // namespace boxd::local
