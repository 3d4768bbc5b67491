// The domain layer of boxd local for networks: a record (id, name, a
// 10.x.y.0/24 subnet unique on this server) whose status reads
// "provisioning" for its first second and "ready" after, as upstream
// networks settle. Every user has a network named "default", created on
// first use; Whoami reports its id. Boxes join networks at creation
// (CreateVmRequest.networks, resolve()); the namespace runtime then gives
// each network a bridge of its own with the box addresses in its subnet and
// the members' names in /etc/hosts (box_network.hpp). There is no delete in
// the API: a network lives as long as the server state. No gRPC type here
// (the adapter is service_networks.cpp).
#pragma once

#include <string>
#include <vector>

#include "local/runtime.hpp"
#include "local/states.hpp"
#include "local/store.hpp"

namespace boxd::local {

// A network as callers show it.
struct NetworkView {
  NetworkRecord record;
  NetworkStatus status = NetworkStatus::Ready;
};

// Stateless: every call reads and writes the store.
class Networks {
 public:
  explicit Networks(Store& store) : m_store(store) {}

  // The user's default network, created on first use.
  std::string default_id(const std::string& user);
  // Names or ids of the user's networks -> refs (each once, in order);
  // NOT_FOUND for an unknown one. "default" is created when missing.
  std::vector<BoxNetworkRef> resolve(const std::string& user,
                                     const std::vector<std::string>& wanted);
  // A new network `name` ("" = named by its id); the user's default network
  // is created first when missing. ALREADY_EXISTS for a name in use,
  // RESOURCE_EXHAUSTED when no subnet is left.
  NetworkRecord create(const std::string& user, const std::string& name);
  // The user's networks (the default one created when missing), oldest first.
  std::vector<NetworkView> list(const std::string& user);

 private:
  Store& m_store;
};

}  // namespace boxd::local
