// The proxy RPCs and GetVm's proxy data: request -> Proxies (proxies.hpp,
// the domain layer, where the rules and the Host-header routing are) ->
// response.
#include "local/proxies.hpp"
#include "local/service.hpp"

namespace boxd::local {

namespace {

void to_proxy_info(const ProxyView& view, api::ProxyInfo& info) {
  info.set_name(view.name);
  info.set_vm_name(view.box_name);
  info.set_vm_id(view.box_id);
  info.set_domain(view.domain);
  info.set_is_default(view.is_default);
  info.set_port_mode(view.locked ? "locked" : "auto");
  info.set_effective_port(view.port);
}

}  // namespace

void BoxdService::set_server_ports(std::vector<std::pair<int, std::string>> ports) {
  m_proxies.set_server_ports(std::move(ports));
}

ProxyRoute BoxdService::route_host(const std::string& host) {
  return m_proxies.route(host);
}

void BoxdService::decorate(api::GetVmResponse& response) {
  decorate(response, m_proxies.access_of(response.vm_id()));
}

void BoxdService::decorate(api::GetVmResponse& response, const BoxAccess& access) {
  if (access.access_domain) {
    response.set_access_domain(*access.access_domain);
  }
  for (const auto& domain : access.custom_domains) {
    auto* info = response.add_custom_domains();
    info->set_domain(domain);
    info->set_vm_id(response.vm_id());
    info->set_vm_name(response.name());
    info->set_status("active");
  }
}

grpc::Status BoxdService::ListProxies(grpc::ServerContext* context,
                                      const api::ListProxiesRequest* request,
                                      api::ListProxiesResponse* response) {
  return handle_rpc(context, [&](const AuthResult& auth) {
    for (const auto& view : m_proxies.list(auth.user_id, request->vm())) {
      auto* info = response->add_proxies();
      to_proxy_info(view, *info);
      info->set_bot_protection(view.bot_protection);
    }
  });
}

grpc::Status BoxdService::SetProxyPort(grpc::ServerContext* context,
                                       const api::SetProxyPortRequest* request,
                                       api::SetProxyPortResponse*) {
  return handle_rpc(context, [&](const AuthResult& auth) {
    m_proxies.set_port(auth.user_id, request->vm(), request->name(), request->port());
  });
}

// CreateProxy's answer leaves bot_protection unset, as it always did.
grpc::Status BoxdService::CreateProxy(grpc::ServerContext* context,
                                      const api::CreateProxyRequest* request,
                                      api::ProxyInfo* response) {
  return handle_rpc(context, [&](const AuthResult& auth) {
    to_proxy_info(m_proxies.create(auth.user_id, request->vm(), request->name(), request->port()),
                  *response);
  });
}

grpc::Status BoxdService::DeleteProxy(grpc::ServerContext* context,
                                      const api::DeleteProxyRequest* request,
                                      api::DeleteProxyResponse*) {
  return handle_rpc(context, [&](const AuthResult& auth) {
    m_proxies.remove(auth.user_id, request->vm(), request->name());
  });
}

grpc::Status BoxdService::SetBotProtection(grpc::ServerContext* context,
                                           const api::SetBotProtectionRequest* request,
                                           api::SetBotProtectionResponse*) {
  return handle_rpc(context, [&](const AuthResult& auth) {
    m_proxies.set_bot_protection(auth.user_id, request->vm_id(), request->enabled());
  });
}

grpc::Status BoxdService::ExposePort(grpc::ServerContext* context,
                                     const api::ExposePortRequest* request,
                                     api::ExposePortResponse* response) {
  return handle_rpc(context, [&](const AuthResult& auth) {
    const auto exposed =
        m_proxies.expose(auth.user_id, request->vm(), request->protocol(), request->vm_port());
    response->set_vm_name(exposed.box_name);
    response->set_vm_id(exposed.box_id);
    response->set_dns(exposed.dns);
    response->set_public_port(exposed.public_port);
    response->set_vm_port(exposed.box_port);
    response->set_protocol(exposed.protocol);
  });
}

}  // namespace boxd::local
