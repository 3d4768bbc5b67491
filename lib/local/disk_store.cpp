#include "local/disk_store.hpp"

#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "common/files.hpp"

namespace boxd::local {

namespace {
using nlohmann::json;
constexpr const char* k_disks_file = "disks.json";
}  // namespace

std::string disks_to_json(const std::vector<DiskRecord>& disks) {
  json array = json::array();
  for (const auto& d : disks) {
    array.push_back(json{{"id", d.id},
                         {"name", d.name},
                         {"owner", d.owner},
                         {"size_bytes", d.size_bytes},
                         {"created_at", d.created_at},
                         {"vm_id", d.vm_id},
                         {"mount_path", d.mount_path},
                         {"read_only", d.read_only}});
  }
  return json{{"disks", array}}.dump(2) + "\n";
}

std::vector<DiskRecord> disks_from_json(const std::string& text) {
  std::vector<DiskRecord> disks;
  try {
    const json doc = json::parse(text);
    for (const auto& j : doc.at("disks")) {
      DiskRecord d;
      d.id = j.at("id").get<std::string>();
      d.name = j.at("name").get<std::string>();
      d.owner = j.at("owner").get<std::string>();
      d.size_bytes = j.value("size_bytes", std::uint64_t{0});
      d.created_at = j.value("created_at", std::int64_t{0});
      d.vm_id = j.value("vm_id", "");
      d.mount_path = j.value("mount_path", "");
      d.read_only = j.value("read_only", false);
      disks.push_back(std::move(d));
    }
  } catch (const json::exception& e) {
    throw Error(ErrorClass::Internal, std::string("cannot read disks.json: ") + e.what());
  }
  return disks;
}

DiskStore::DiskStore(std::filesystem::path state_dir) : m_state_dir(std::move(state_dir)) {
  if (auto text = read_file(m_state_dir / k_disks_file)) {
    m_disks = disks_from_json(*text);
  }
}

void DiskStore::save_locked() {
  ensure_dir(m_state_dir, 0700);
  write_file_atomic(m_state_dir / k_disks_file, disks_to_json(m_disks), 0600);
}

std::vector<DiskRecord> DiskStore::all() const {
  std::lock_guard lock(m_mutex);
  return m_disks;
}

std::optional<DiskRecord> DiskStore::find(const std::string& owner,
                                          const std::string& name_or_id) const {
  std::lock_guard lock(m_mutex);
  for (const auto& d : m_disks) {
    if (d.owner == owner && (d.name == name_or_id || d.id == name_or_id)) {
      return d;
    }
  }
  return std::nullopt;
}

std::vector<DiskRecord> DiskStore::attached_to(const std::string& vm_id) const {
  std::lock_guard lock(m_mutex);
  std::vector<DiskRecord> out;
  for (const auto& d : m_disks) {
    if (!d.vm_id.empty() && d.vm_id == vm_id) {
      out.push_back(d);
    }
  }
  return out;
}

}  // namespace boxd::local
