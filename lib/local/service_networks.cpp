// Networks of boxd local: a record (id, name, a 10.x.y.0/24 subnet unique on
// this server) whose status reads "provisioning" for its first second and
// "ready" after, as upstream networks settle. Every user has a network named
// "default", created on first use; Whoami reports its id. Boxes join networks
// at creation (CreateVmRequest.networks, resolve_networks); the namespace
// runtime then gives each network a bridge of its own with the box addresses
// in its subnet and the members' names in /etc/hosts (box_network.hpp).
// There is no DeleteNetwork in the API: a network lives as long as the server
// state.
#include <algorithm>

#include "local/rpc_helpers.hpp"
#include "local/service.hpp"

namespace boxd::local {

namespace {

constexpr std::int64_t k_provisioning_ms = 1000;

// The first 10.<a>.<b>.0/24 (a in 100..255) no network uses yet.
std::string free_subnet(const StoreData& data) {
  for (int n = 0; n < 156 * 256; ++n) {
    std::string subnet =
        "10." + std::to_string(100 + n / 256) + "." + std::to_string(n % 256) + ".0/24";
    if (std::none_of(data.networks.begin(), data.networks.end(),
                     [&](const NetworkRecord& r) { return r.subnet == subnet; })) {
      return subnet;
    }
  }
  fail(Fault::ResourceExhausted, "quota exceeded: no free subnet left");
}

// Adds the user's "default" network when missing; returns its id.
std::string ensure_default(StoreData& data, const std::string& user, bool& added) {
  added = false;
  for (const auto& n : data.networks) {
    if (n.owner == user && n.name == "default") {
      return n.id;
    }
  }
  NetworkRecord record{rpc::new_id("net"), "default", user, free_subnet(data), 0};
  data.networks.push_back(record);  // created_at_ms 0: ready at once
  added = true;
  return record.id;
}

}  // namespace

std::string BoxdService::default_network_id(const std::string& user) {
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
  return m_store.update([&](StoreData& data) {
    bool added = false;
    return ensure_default(data, user, added);
  });
}

std::vector<BoxNetworkRef> BoxdService::resolve_networks(const std::string& user,
                                                         const std::vector<std::string>& wanted) {
  std::vector<BoxNetworkRef> refs;
  for (const auto& name : wanted) {
    if (name == "default") {
      default_network_id(user);
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

grpc::Status BoxdService::CreateNetwork(grpc::ServerContext* context,
                                        const api::CreateNetworkRequest* request,
                                        api::CreateNetworkResponse* response) {
  return handle_rpc(context, [&](const AuthResult& auth) {
    NetworkRecord record;
    record.id = rpc::new_id("net");
    record.name = request->name();
    record.owner = auth.user_id;
    if (!record.name.empty()) {
      rpc::check_label("network", record.name);
    }
    m_store.update([&](StoreData& data) {
      bool added = false;
      ensure_default(data, auth.user_id, added);
      if (record.name.empty()) {
        record.name = record.id;
      }
      for (const auto& n : data.networks) {
        if (n.owner == record.owner && n.name == record.name) {
          fail(Fault::AlreadyExists, "network name '" + record.name + "' already exists");
        }
      }
      record.subnet = free_subnet(data);
      record.created_at_ms = rpc::now_ms();
      data.networks.push_back(record);
    });
    response->set_network_id(record.id);
    log("network " + record.name + " (" + record.id + ", " + record.subnet + ") created for " +
        record.owner);
  });
}

grpc::Status BoxdService::ListNetworks(grpc::ServerContext* context,
                                       const api::ListNetworksRequest*,
                                       api::ListNetworksResponse* response) {
  return handle_rpc(context, [&](const AuthResult& auth) {
    default_network_id(auth.user_id);
    const auto now = rpc::now_ms();
    m_store.read([&](const StoreData& data) {
      std::vector<NetworkRecord> mine;
      for (const auto& n : data.networks) {
        if (n.owner == auth.user_id) {
          mine.push_back(n);
        }
      }
      std::stable_sort(mine.begin(), mine.end(),
                       [](const NetworkRecord& a, const NetworkRecord& b) {
                         return a.created_at_ms < b.created_at_ms;
                       });
      for (const auto& n : mine) {
        auto* info = response->add_networks();
        info->set_network_id(n.id);
        info->set_name(n.name);
        info->set_subnet(n.subnet);
        info->set_status(status_text(now - n.created_at_ms < k_provisioning_ms
                                         ? NetworkStatus::Provisioning
                                         : NetworkStatus::Ready));
      }
      return 0;
    });
  });
}

}  // namespace boxd::local
