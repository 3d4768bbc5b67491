#include "local/networks.hpp"

#include <algorithm>
#include <optional>
#include <unordered_set>

#include "common/log.hpp"
#include "local/fault.hpp"
#include "local/rpc_helpers.hpp"

namespace boxd::local {

namespace {

constexpr std::int64_t k_provisioning_ms = 1000;

// The first 10.<a>.<b>.0/24 (a in 100..255) no network uses yet: one pass
// over the networks (this runs under the store's lock).
std::string free_subnet(const StoreData& data) {
  const std::unordered_set<std::string> used = [&] {
    std::unordered_set<std::string> subnets;
    for (const auto& r : data.networks) {
      subnets.insert(r.subnet);
    }
    return subnets;
  }();
  for (int n = 0; n < 156 * 256; ++n) {
    std::string subnet =
        "10." + std::to_string(100 + n / 256) + "." + std::to_string(n % 256) + ".0/24";
    if (used.count(subnet) == 0) {
      return subnet;
    }
  }
  fail(Fault::ResourceExhausted, "quota exceeded: no free subnet left");
}

// Adds the user's "default" network when missing; returns its id.
std::string ensure_default(StoreData& data, const std::string& user) {
  for (const auto& n : data.networks) {
    if (n.owner == user && n.name == "default") {
      return n.id;
    }
  }
  NetworkRecord record{rpc::new_id("net"), "default", user, free_subnet(data), 0};
  data.networks.push_back(record);  // created_at_ms 0: ready at once
  return record.id;
}

}  // namespace

std::string Networks::default_id(const std::string& user) {
  auto existing = m_store.read([&](const StoreData& data) -> std::string {
    for (const auto& n : data.networks) {
      if (n.owner == user && n.name == "default") {
        return n.id;
      }
    }
    return "";
  });
  if (!existing.empty()) {
    return existing;
  }
  return m_store.update([&](StoreData& data) { return ensure_default(data, user); });
}

std::vector<BoxNetworkRef> Networks::resolve(const std::string& user,
                                             const std::vector<std::string>& wanted) {
  std::vector<BoxNetworkRef> refs;
  for (const auto& name : wanted) {
    if (name == "default") {
      default_id(user);
    }
    const auto ref = m_store.read([&](const StoreData& data) -> std::optional<BoxNetworkRef> {
      for (const auto& n : data.networks) {
        if (n.owner == user && (n.name == name || n.id == name)) {
          return BoxNetworkRef{n.id, n.name, n.subnet};
        }
      }
      return std::nullopt;
    });
    if (!ref) {
      fail(Fault::NotFound, "network '" + name + "' not found");
    }
    if (std::none_of(refs.begin(), refs.end(),
                     [&](const BoxNetworkRef& r) { return r.id == ref->id; })) {
      refs.push_back(*ref);
    }
  }
  return refs;
}

NetworkRecord Networks::create(const std::string& user, const std::string& name) {
  NetworkRecord record;
  record.id = rpc::new_id("net");
  record.name = name;
  record.owner = user;
  if (!record.name.empty()) {
    rpc::check_label("network", record.name);
  }
  m_store.update([&](StoreData& data) {
    ensure_default(data, user);
    if (record.name.empty()) {
      record.name = record.id;
    }
    std::size_t owned = 0;
    for (const auto& n : data.networks) {
      if (n.owner == record.owner && n.name == record.name) {
        fail(Fault::AlreadyExists, "network name '" + record.name + "' already exists");
      }
      owned += n.owner == record.owner ? 1 : 0;
    }
    rpc::check_record_room(owned, m_store.record_limit(), "networks");
    record.subnet = free_subnet(data);
    record.created_at_ms = rpc::now_ms();
    data.networks.push_back(record);
  });
  logging::info("network " + record.name + " (" + record.id + ", " + record.subnet +
                ") created for " + record.owner);
  return record;
}

std::vector<NetworkView> Networks::list(const std::string& user) {
  default_id(user);
  const auto now = rpc::now_ms();
  auto mine = m_store.read([&](const StoreData& data) {
    std::vector<NetworkRecord> out;
    for (const auto& n : data.networks) {
      if (n.owner == user) {
        out.push_back(n);
      }
    }
    return out;
  });
  std::stable_sort(mine.begin(), mine.end(), [](const NetworkRecord& a, const NetworkRecord& b) {
    return a.created_at_ms < b.created_at_ms;
  });
  std::vector<NetworkView> views;
  for (auto& n : mine) {
    const auto status = now - n.created_at_ms < k_provisioning_ms ? NetworkStatus::Provisioning
                                                                  : NetworkStatus::Ready;
    views.push_back(NetworkView{std::move(n), status});
  }
  return views;
}

}  // namespace boxd::local
