// Typed calls for proxies, templates, domains, networks, tokens, snapshots,
// sizing and idle timeouts: each builds its request and runs it through
// the one unary call path, Impl::call (client_impl.hpp).
#include "client/client.hpp"
#include "client/client_impl.hpp"

namespace boxd::client {

std::vector<api::ProxyInfo> Client::list_proxies(const std::string& vm) {
  api::ListProxiesRequest request;
  request.set_vm(vm);
  const auto response = m_impl->call(&api::BoxdApi::Stub::ListProxies, request);
  return {response.proxies().begin(), response.proxies().end()};
}

api::ProxyInfo Client::create_proxy(const std::string& vm, const std::string& name,
                                    std::uint32_t port) {
  api::CreateProxyRequest request;
  request.set_vm(vm);
  request.set_name(name);
  request.set_port(port);
  return m_impl->call(&api::BoxdApi::Stub::CreateProxy, request);
}

void Client::set_proxy_port(const std::string& vm, const std::string& name,
                            const std::string& port) {
  api::SetProxyPortRequest request;
  request.set_vm(vm);
  request.set_name(name);
  request.set_port(port);
  m_impl->call(&api::BoxdApi::Stub::SetProxyPort, request);
}

void Client::delete_proxy(const std::string& vm, const std::string& name) {
  api::DeleteProxyRequest request;
  request.set_vm(vm);
  request.set_name(name);
  m_impl->call(&api::BoxdApi::Stub::DeleteProxy, request);
}

api::TemplateInfo Client::create_template(const api::CreateTemplateRequest& request) {
  return m_impl->call(&api::BoxdApi::Stub::CreateTemplate, request);
}

std::vector<api::TemplateInfo> Client::list_templates() {
  const auto response =
      m_impl->call(&api::BoxdApi::Stub::ListTemplates, api::ListTemplatesRequest());
  return {response.templates().begin(), response.templates().end()};
}

void Client::delete_template(const std::string& template_id_or_name) {
  api::DeleteTemplateRequest request;
  request.set_template_id(template_id_or_name);
  m_impl->call(&api::BoxdApi::Stub::DeleteTemplate, request);
}

api::CreateVmResponse Client::create_vm_from_template(
    const api::CreateVmFromTemplateRequest& request) {
  return m_impl->call(&api::BoxdApi::Stub::CreateVmFromTemplate, request);
}

api::CustomDomainInfo Client::bind_domain(const std::string& domain, const std::string& vm) {
  api::BindDomainRequest request;
  request.set_domain(domain);
  request.set_vm(vm);
  return m_impl->call(&api::BoxdApi::Stub::BindDomain, request);
}

void Client::unbind_domain(const std::string& domain) {
  api::UnbindDomainRequest request;
  request.set_domain(domain);
  m_impl->call(&api::BoxdApi::Stub::UnbindDomain, request);
}

std::vector<api::CustomDomainInfo> Client::list_domains() {
  const auto response = m_impl->call(&api::BoxdApi::Stub::ListDomains, api::ListDomainsRequest());
  return {response.domains().begin(), response.domains().end()};
}

std::string Client::create_network(const std::string& name) {
  api::CreateNetworkRequest request;
  request.set_name(name);
  return m_impl->call(&api::BoxdApi::Stub::CreateNetwork, request).network_id();
}

std::vector<api::NetworkInfo> Client::list_networks() {
  const auto response = m_impl->call(&api::BoxdApi::Stub::ListNetworks, api::ListNetworksRequest());
  return {response.networks().begin(), response.networks().end()};
}

api::CreateTokenResponse Client::create_token(std::uint32_t expires_in_secs) {
  api::CreateTokenRequest request;
  request.set_expires_in_secs(expires_in_secs);
  return m_impl->call(&api::BoxdApi::Stub::CreateToken, request);
}

std::vector<api::TokenInfo> Client::list_tokens() {
  const auto response = m_impl->call(&api::BoxdApi::Stub::ListTokens, api::ListTokensRequest());
  return {response.tokens().begin(), response.tokens().end()};
}

void Client::revoke_token(const std::string& jti) {
  api::RevokeTokenRequest request;
  request.set_jti(jti);
  m_impl->call(&api::BoxdApi::Stub::RevokeToken, request);
}

api::CreateSnapshotResponse Client::create_snapshot(const std::string& vm,
                                                    const std::string& name) {
  api::CreateSnapshotRequest request;
  request.set_vm(vm);
  request.set_name(name);
  return m_impl->call(&api::BoxdApi::Stub::CreateSnapshot, request);
}

api::SnapshotInfo Client::get_snapshot(const std::string& snapshot) {
  api::GetSnapshotRequest request;
  request.set_name(snapshot);
  return m_impl->call(&api::BoxdApi::Stub::GetSnapshot, request).snapshot();
}

std::vector<api::SnapshotInfo> Client::list_snapshots() {
  const auto response =
      m_impl->call(&api::BoxdApi::Stub::ListSnapshots, api::ListSnapshotsRequest());
  return {response.snapshots().begin(), response.snapshots().end()};
}

void Client::delete_snapshot(const std::string& snapshot) {
  api::DeleteSnapshotRequest request;
  request.set_name(snapshot);
  m_impl->call(&api::BoxdApi::Stub::DeleteSnapshot, request);
}

api::CreateVmResponse Client::create_vm_from_snapshot(
    const api::CreateVmFromSnapshotRequest& request) {
  return m_impl->call(&api::BoxdApi::Stub::CreateVmFromSnapshot, request);
}

api::ResizeVmResponse Client::resize_vm(const std::string& vm, std::uint32_t vcpu,
                                        std::uint64_t memory_bytes) {
  api::ResizeVmRequest request;
  request.set_vm_id(vm);
  request.set_vcpu(vcpu);
  request.set_memory_bytes(memory_bytes);
  return m_impl->call(&api::BoxdApi::Stub::ResizeVm, request);
}

void Client::set_auto_suspend_timeout(const std::string& vm, std::uint32_t secs) {
  api::SetAutoSuspendTimeoutRequest request;
  request.set_vm_id(vm);
  request.set_timeout_secs(secs);
  m_impl->call(&api::BoxdApi::Stub::SetAutoSuspendTimeout, request);
}

void Client::set_auto_hibernate_timeout(const std::string& vm, std::uint32_t secs) {
  api::SetAutoHibernateTimeoutRequest request;
  request.set_vm_id(vm);
  request.set_timeout_secs(secs);
  m_impl->call(&api::BoxdApi::Stub::SetAutoHibernateTimeout, request);
}

void Client::wake_vm(const std::string& vm) {
  api::WakeVmRequest request;
  request.set_vm_id(vm);
  m_impl->call(&api::BoxdApi::Stub::WakeVm, request);
}

void Client::set_bot_protection(const std::string& vm, bool enabled) {
  api::SetBotProtectionRequest request;
  request.set_vm_id(vm);
  request.set_enabled(enabled);
  m_impl->call(&api::BoxdApi::Stub::SetBotProtection, request);
}

api::ExposePortResponse Client::expose_port(const std::string& vm, std::uint32_t port,
                                            const std::string& protocol) {
  api::ExposePortRequest request;
  request.set_vm(vm);
  request.set_vm_port(port);
  request.set_protocol(protocol);
  return m_impl->call(&api::BoxdApi::Stub::ExposePort, request);
}

}  // namespace boxd::client
