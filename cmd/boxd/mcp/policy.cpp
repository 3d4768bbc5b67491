#include "boxd/mcp/policy.hpp"

#include <fnmatch.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/error.hpp"

namespace boxd::cli::mcp {

bool Policy::visible(const std::string& name) const {
  if (m_options.allow.empty()) {
    return true;
  }
  for (const auto& glob : m_options.allow) {
    if (::fnmatch(glob.c_str(), name.c_str(), 0) == 0) {
      return true;
    }
  }
  return false;
}

std::string Policy::resolve(client::ClientApi& client, const std::string& ref) const {
  if (ref.empty()) {
    throw Error(ErrorClass::Usage, "'box' is required");
  }
  if (!restricts_names()) {
    return ref;
  }
  try {
    const auto box = client.get_vm(ref);
    if (visible(box.name())) {
      return box.name();
    }
  } catch (const Error& e) {
    if (e.error_class() != ErrorClass::NotFound) {
      throw;
    }
  }
  throw Error(ErrorClass::NotFound, "VM '" + ref + "' not found");
}

void Policy::check_new_name(const std::string& name) const {
  if (!restricts_names()) {
    return;
  }
  if (name.empty()) {
    throw Error(ErrorClass::Usage,
                "'name' is required: this server only touches boxes matching " + describe());
  }
  if (!visible(name)) {
    throw Error(ErrorClass::Usage,
                fmt::format("name '{}' is not allowed: this server only touches boxes matching {}",
                            name, describe()));
  }
}

void Policy::reserve() {
  if (!m_options.max_boxes) {
    return;
  }
  std::lock_guard lock(m_mutex);
  if (m_created.size() + m_pending >= *m_options.max_boxes) {
    throw Error(
        ErrorClass::QuotaExceeded,
        fmt::format("this server may create at most {} box(es) (--max-boxes); it created: {}",
                    *m_options.max_boxes, fmt::join(m_created, ", ")),
        "destroy one of them first");
  }
  ++m_pending;
}

void Policy::commit(const std::string& name) {
  if (!m_options.max_boxes) {
    return;
  }
  std::lock_guard lock(m_mutex);
  --m_pending;
  m_created.insert(name);
}

void Policy::release() {
  if (!m_options.max_boxes) {
    return;
  }
  std::lock_guard lock(m_mutex);
  --m_pending;
}

void Policy::forget(const std::string& name) {
  std::lock_guard lock(m_mutex);
  m_created.erase(name);
}

std::string Policy::describe() const {
  return fmt::format("--allow-boxes {}", fmt::join(m_options.allow, ", "));
}

}  // namespace boxd::cli::mcp
