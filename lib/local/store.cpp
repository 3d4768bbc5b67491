#include "local/store.hpp"

#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "common/files.hpp"

namespace boxd::local {

namespace {

using nlohmann::json;

constexpr const char* k_state_file = "state.json";

json networks_to_json(const std::vector<BoxNetworkRef>& networks) {
  json list = json::array();
  for (const auto& n : networks) {
    list.push_back(json{{"id", n.id}, {"name", n.name}, {"subnet", n.subnet}});
  }
  return list;
}

json box_to_json(const BoxRecord& b) {
  json env = json::array();
  for (const auto& [k, v] : b.env) {
    env.push_back(json::array({k, v}));
  }
  return json{{"id", b.id},
              {"name", b.name},
              {"owner", b.owner},
              {"status", to_string(b.status)},
              {"image", b.image},
              {"restart_policy", b.restart_policy},
              {"vcpu", b.vcpu},
              {"memory_bytes", b.memory_bytes},
              {"disk_bytes", b.disk_bytes},
              {"auto_suspend_timeout_secs", b.auto_suspend_timeout_secs},
              {"auto_destroy_timeout_secs", b.auto_destroy_timeout_secs},
              {"auto_hibernate_timeout_secs", b.auto_hibernate_timeout_secs},
              {"env", env},
              {"cmd", b.cmd},
              {"created_at", b.created_at},
              {"boot_time_ms", b.boot_time_ms},
              {"source", b.source},
              {"forked_from", b.forked_from},
              {"bot_protection", b.bot_protection},
              {"networks", networks_to_json(b.networks)},
              {"init_pid", b.handle.init_pid},
              {"init_start_time", b.handle.init_start_time}};
}

BoxRecord box_from_json(const json& j) {
  BoxRecord b;
  b.id = j.at("id").get<std::string>();
  b.name = j.at("name").get<std::string>();
  b.owner = j.at("owner").get<std::string>();
  // A record without a status (or one this server does not know) is stopped.
  b.status = parse_box_status(j.value("status", "stopped")).value_or(BoxStatus::Stopped);
  b.image = j.value("image", "host");
  b.restart_policy = j.value("restart_policy", "never");
  b.vcpu = j.value("vcpu", 2U);
  b.memory_bytes = j.value("memory_bytes", std::uint64_t{8} << 30);
  b.disk_bytes = j.value("disk_bytes", std::uint64_t{10} << 30);
  b.auto_suspend_timeout_secs = j.value("auto_suspend_timeout_secs", 0U);
  b.auto_destroy_timeout_secs = j.value("auto_destroy_timeout_secs", 0U);
  b.auto_hibernate_timeout_secs = j.value("auto_hibernate_timeout_secs", 0U);
  if (j.contains("env")) {
    for (const auto& pair : j.at("env")) {
      b.env.emplace_back(pair.at(0).get<std::string>(), pair.at(1).get<std::string>());
    }
  }
  if (j.contains("cmd")) {
    b.cmd = j.at("cmd").get<std::vector<std::string>>();
  }
  b.created_at = j.value("created_at", std::int64_t{0});
  b.boot_time_ms = j.value("boot_time_ms", std::int64_t{0});
  b.source = j.value("source", "standalone");
  b.forked_from = j.value("forked_from", "");
  b.bot_protection = j.value("bot_protection", false);
  if (j.contains("networks")) {
    for (const auto& n : j.at("networks")) {
      b.networks.push_back(
          BoxNetworkRef{n.value("id", ""), n.value("name", ""), n.value("subnet", "")});
    }
  }
  b.handle.init_pid = j.value("init_pid", 0);
  b.handle.init_start_time = j.value("init_start_time", std::uint64_t{0});
  return b;
}

}  // namespace

std::string store_to_json(const StoreData& data) {
  json boxes = json::array();
  for (const auto& b : data.boxes) {
    boxes.push_back(box_to_json(b));
  }
  json tokens = json::array();
  for (const auto& t : data.tokens) {
    tokens.push_back(json{{"jti", t.jti},
                          {"owner", t.owner},
                          {"created_at", t.created_at},
                          {"expires_at", t.expires_at}});
  }
  json revoked = json::object();
  for (const auto& [jti, exp] : data.revoked) {
    revoked[jti] = exp;
  }
  json revoked_by = json::object();
  for (const auto& [jti, owner] : data.revoked_by) {
    revoked_by[jti] = owner;
  }
  json doc{{"version", 1},
           {"boxes", boxes},
           {"tokens", tokens},
           {"revoked", revoked},
           {"revoked_by", revoked_by}};
  net_records_to_json(data, doc);
  return doc.dump(2) + "\n";
}

StoreData store_from_json(const std::string& text) {
  StoreData data;
  try {
    const json doc = json::parse(text);
    const json empty_array = json::array();
    const json empty_object = json::object();
    const json& boxes = doc.contains("boxes") ? doc.at("boxes") : empty_array;
    const json& tokens = doc.contains("tokens") ? doc.at("tokens") : empty_array;
    const json& revoked = doc.contains("revoked") ? doc.at("revoked") : empty_object;
    for (const auto& b : boxes) {
      data.boxes.push_back(box_from_json(b));
    }
    for (const auto& t : tokens) {
      TokenRecord r;
      r.jti = t.at("jti").get<std::string>();
      r.owner = t.at("owner").get<std::string>();
      r.created_at = t.value("created_at", std::int64_t{0});
      r.expires_at = t.value("expires_at", std::int64_t{0});
      data.tokens.push_back(std::move(r));
    }
    for (const auto& [jti, exp] : revoked.items()) {
      data.revoked[jti] = exp.get<std::int64_t>();
    }
    if (doc.contains("revoked_by")) {
      for (const auto& [jti, owner] : doc.at("revoked_by").items()) {
        if (data.revoked.count(jti) != 0) {
          data.revoked_by[jti] = owner.get<std::string>();
        }
      }
    }
    net_records_from_json(doc, data);
  } catch (const json::exception& e) {
    throw Error(ErrorClass::Internal, std::string("corrupt state file: ") + e.what());
  }
  return data;
}

Store::Store(std::filesystem::path dir) : m_dir(std::move(dir)) {
  ensure_dir(m_dir, 0700);
  if (auto text = read_file(m_dir / k_state_file)) {
    m_data = store_from_json(*text);
  }
}

void Store::save_locked(Sync sync) {
  write_file_atomic(m_dir / k_state_file, store_to_json(m_data), 0600, sync);
}

BoxRecord* find_box_in(StoreData& data, const std::string& owner, const std::string& name_or_id) {
  for (auto& b : data.boxes) {
    if (b.owner == owner && (b.name == name_or_id || b.id == name_or_id)) {
      return &b;
    }
  }
  return nullptr;
}

std::optional<BoxRecord> Store::find_box(const std::string& owner,
                                         const std::string& name_or_id) const {
  std::lock_guard lock(m_mutex);
  auto& data = const_cast<StoreData&>(m_data);
  if (auto* b = find_box_in(data, owner, name_or_id)) {
    return *b;
  }
  return std::nullopt;
}

std::vector<BoxRecord> Store::boxes() const {
  std::lock_guard lock(m_mutex);
  return m_data.boxes;
}

std::uint64_t disk_bytes_in_store(const StoreData& data, const std::string& user,
                                  const std::string& except_snapshot) {
  std::uint64_t total = 0;
  for (const auto& b : data.boxes) {
    if (b.owner == user) {
      total += b.disk_bytes;
    }
  }
  for (const auto& s : data.snapshots) {
    if (s.owner == user && s.id != except_snapshot) {
      total += s.size_bytes;
    }
  }
  return total;
}

}  // namespace boxd::local
