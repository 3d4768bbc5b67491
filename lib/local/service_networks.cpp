// The network RPCs: request -> Networks (networks.hpp, the domain layer,
// where the rules are) -> response.
#include "local/networks.hpp"
#include "local/service.hpp"

namespace boxd::local {

grpc::Status BoxdService::CreateNetwork(grpc::ServerContext* context,
                                        const api::CreateNetworkRequest* request,
                                        api::CreateNetworkResponse* response) {
  return handle_rpc(context, [&](const AuthResult& auth) {
    response->set_network_id(m_networks.create(auth.user_id, request->name()).id);
  });
}

grpc::Status BoxdService::ListNetworks(grpc::ServerContext* context,
                                       const api::ListNetworksRequest*,
                                       api::ListNetworksResponse* response) {
  return handle_rpc(context, [&](const AuthResult& auth) {
    for (const auto& view : m_networks.list(auth.user_id)) {
      auto* info = response->add_networks();
      info->set_network_id(view.record.id);
      info->set_name(view.record.name);
      info->set_subnet(view.record.subnet);
      info->set_status(status_text(view.status));
    }
  });
}

}  // namespace boxd::local
