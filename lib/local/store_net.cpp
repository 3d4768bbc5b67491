// JSON for the store's proxies, templates, domains, networks and snapshots
// (the "net" half of state.json). Missing arrays read as empty, so a state file
// written before these records existed still loads.
#include <nlohmann/json.hpp>

#include "local/store.hpp"

namespace boxd::local {

namespace {

using nlohmann::json;

const json& array_or_empty(const json& doc, const char* key) {
  static const json k_empty = json::array();
  return doc.contains(key) && doc.at(key).is_array() ? doc.at(key) : k_empty;
}

}  // namespace

void net_records_to_json(const StoreData& data, json& doc) {
  json proxies = json::array();
  for (const auto& p : data.proxies) {
    proxies.push_back(json{{"box_id", p.box_id}, {"name", p.name}, {"port", p.port}});
  }
  json templates = json::array();
  for (const auto& t : data.templates) {
    json j{{"id", t.id},
           {"name", t.name},
           {"owner", t.owner},
           {"image_ref", t.image_ref},
           {"vcpu", t.vcpu},
           {"memory_bytes", t.memory_bytes},
           {"disk_bytes", t.disk_bytes},
           {"auto_destroy_timeout_secs", t.auto_destroy_timeout_secs},
           {"created_at", t.created_at}};
    if (t.auto_suspend_timeout_secs) {
      j["auto_suspend_timeout_secs"] = *t.auto_suspend_timeout_secs;
    }
    templates.push_back(std::move(j));
  }
  json domains = json::array();
  for (const auto& d : data.domains) {
    domains.push_back(json{{"domain", d.domain},
                           {"owner", d.owner},
                           {"box_id", d.box_id},
                           {"created_at", d.created_at}});
  }
  json networks = json::array();
  for (const auto& n : data.networks) {
    networks.push_back(json{{"id", n.id},
                            {"name", n.name},
                            {"owner", n.owner},
                            {"subnet", n.subnet},
                            {"created_at_ms", n.created_at_ms}});
  }
  json snapshots = json::array();
  for (const auto& s : data.snapshots) {
    snapshots.push_back(json{{"id", s.id},
                             {"name", s.name},
                             {"owner", s.owner},
                             {"version", s.version},
                             {"status", to_string(s.status)},
                             {"size_bytes", s.size_bytes},
                             {"vcpu", s.vcpu},
                             {"memory_bytes", s.memory_bytes},
                             {"disk_bytes", s.disk_bytes},
                             {"use_count", s.use_count},
                             {"source_vm", s.source_vm},
                             {"created_at", s.created_at},
                             {"updated_at", s.updated_at}});
  }
  doc["snapshots"] = std::move(snapshots);
  doc["proxies"] = std::move(proxies);
  doc["templates"] = std::move(templates);
  doc["domains"] = std::move(domains);
  doc["networks"] = std::move(networks);
}

void net_records_from_json(const json& doc, StoreData& data) {
  for (const auto& j : array_or_empty(doc, "proxies")) {
    data.proxies.push_back(
        ProxyRecord{j.at("box_id").get<std::string>(), j.value("name", ""), j.value("port", 0U)});
  }
  for (const auto& j : array_or_empty(doc, "templates")) {
    TemplateRecord t;
    t.id = j.at("id").get<std::string>();
    t.name = j.at("name").get<std::string>();
    t.owner = j.at("owner").get<std::string>();
    t.image_ref = j.value("image_ref", "");
    t.vcpu = j.value("vcpu", 0U);
    t.memory_bytes = j.value("memory_bytes", std::uint64_t{0});
    t.disk_bytes = j.value("disk_bytes", std::uint64_t{0});
    if (j.contains("auto_suspend_timeout_secs")) {
      t.auto_suspend_timeout_secs = j.at("auto_suspend_timeout_secs").get<std::uint32_t>();
    }
    t.auto_destroy_timeout_secs = j.value("auto_destroy_timeout_secs", 0U);
    t.created_at = j.value("created_at", std::int64_t{0});
    data.templates.push_back(std::move(t));
  }
  for (const auto& j : array_or_empty(doc, "domains")) {
    data.domains.push_back(
        DomainRecord{j.at("domain").get<std::string>(), j.at("owner").get<std::string>(),
                     j.at("box_id").get<std::string>(), j.value("created_at", std::int64_t{0})});
  }
  for (const auto& j : array_or_empty(doc, "snapshots")) {
    SnapshotRecord s;
    s.id = j.at("id").get<std::string>();
    s.name = j.at("name").get<std::string>();
    s.owner = j.at("owner").get<std::string>();
    s.version = j.value("version", std::uint64_t{1});
    s.status = parse_snapshot_status(j.value("status", "ready")).value_or(SnapshotStatus::Ready);
    s.size_bytes = j.value("size_bytes", std::uint64_t{0});
    s.vcpu = j.value("vcpu", 0U);
    s.memory_bytes = j.value("memory_bytes", std::uint64_t{0});
    s.disk_bytes = j.value("disk_bytes", std::uint64_t{0});
    s.use_count = j.value("use_count", std::uint64_t{0});
    s.source_vm = j.value("source_vm", "");
    s.created_at = j.value("created_at", std::int64_t{0});
    s.updated_at = j.value("updated_at", std::int64_t{0});
    data.snapshots.push_back(std::move(s));
  }
  for (const auto& j : array_or_empty(doc, "networks")) {
    data.networks.push_back(NetworkRecord{j.at("id").get<std::string>(), j.value("name", ""),
                                          j.at("owner").get<std::string>(), j.value("subnet", ""),
                                          j.value("created_at_ms", std::int64_t{0})});
  }
}

}  // namespace boxd::local
