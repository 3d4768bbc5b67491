// Typed calls for proxies, templates, domains, networks and tokens: each
// builds its request and runs it through Client::unary (credentials,
// deadline, the retry rule of client.cpp).
#include <grpcpp/grpcpp.h>

#include "client/client.hpp"

namespace boxd::client {

namespace {

template <class Request, class Response>
using StubMethod = grpc::Status (api::BoxdApi::Stub::*)(grpc::ClientContext*, const Request&,
                                                         Response*);

using Invoker = std::function<grpc::Status(api::BoxdApi::Stub&, grpc::ClientContext&)>;

// `run` is a member's [this](const Invoker& f) { unary(f); } (unary is private).
template <class Run, class Request, class Response>
Response typed_call(Run run, StubMethod<Request, Response> method, const Request& request) {
  Response response;
  run([&](api::BoxdApi::Stub& stub, grpc::ClientContext& context) {
    response.Clear();
    return (stub.*method)(&context, request, &response);
  });
  return response;
}

}  // namespace

#define runner() [this](const Invoker& f) { unary(f); }

std::vector<api::ProxyInfo> Client::list_proxies(const std::string& vm) {
  api::ListProxiesRequest request;
  request.set_vm(vm);
  const auto response = typed_call(runner(), &api::BoxdApi::Stub::ListProxies, request);
  return {response.proxies().begin(), response.proxies().end()};
}

api::ProxyInfo Client::create_proxy(const std::string& vm, const std::string& name,
                                    std::uint32_t port) {
  api::CreateProxyRequest request;
  request.set_vm(vm);
  request.set_name(name);
  request.set_port(port);
  return typed_call(runner(), &api::BoxdApi::Stub::CreateProxy, request);
}

void Client::set_proxy_port(const std::string& vm, const std::string& name,
                            const std::string& port) {
  api::SetProxyPortRequest request;
  request.set_vm(vm);
  request.set_name(name);
  request.set_port(port);
  typed_call(runner(), &api::BoxdApi::Stub::SetProxyPort, request);
}

void Client::delete_proxy(const std::string& vm, const std::string& name) {
  api::DeleteProxyRequest request;
  request.set_vm(vm);
  request.set_name(name);
  typed_call(runner(), &api::BoxdApi::Stub::DeleteProxy, request);
}

api::TemplateInfo Client::create_template(const api::CreateTemplateRequest& request) {
  return typed_call(runner(), &api::BoxdApi::Stub::CreateTemplate, request);
}

std::vector<api::TemplateInfo> Client::list_templates() {
  const auto response =
      typed_call(runner(), &api::BoxdApi::Stub::ListTemplates, api::ListTemplatesRequest());
  return {response.templates().begin(), response.templates().end()};
}

void Client::delete_template(const std::string& template_id_or_name) {
  api::DeleteTemplateRequest request;
  request.set_template_id(template_id_or_name);
  typed_call(runner(), &api::BoxdApi::Stub::DeleteTemplate, request);
}

api::CreateVmResponse Client::create_vm_from_template(
    const api::CreateVmFromTemplateRequest& request) {
  return typed_call(runner(), &api::BoxdApi::Stub::CreateVmFromTemplate, request);
}

api::CustomDomainInfo Client::bind_domain(const std::string& domain, const std::string& vm) {
  api::BindDomainRequest request;
  request.set_domain(domain);
  request.set_vm(vm);
  return typed_call(runner(), &api::BoxdApi::Stub::BindDomain, request);
}

void Client::unbind_domain(const std::string& domain) {
  api::UnbindDomainRequest request;
  request.set_domain(domain);
  typed_call(runner(), &api::BoxdApi::Stub::UnbindDomain, request);
}

std::vector<api::CustomDomainInfo> Client::list_domains() {
  const auto response = typed_call(runner(), &api::BoxdApi::Stub::ListDomains, api::ListDomainsRequest());
  return {response.domains().begin(), response.domains().end()};
}

std::string Client::create_network(const std::string& name) {
  api::CreateNetworkRequest request;
  request.set_name(name);
  return typed_call(runner(), &api::BoxdApi::Stub::CreateNetwork, request).network_id();
}

std::vector<api::NetworkInfo> Client::list_networks() {
  const auto response =
      typed_call(runner(), &api::BoxdApi::Stub::ListNetworks, api::ListNetworksRequest());
  return {response.networks().begin(), response.networks().end()};
}

api::CreateTokenResponse Client::create_token(std::uint32_t expires_in_secs) {
  api::CreateTokenRequest request;
  request.set_expires_in_secs(expires_in_secs);
  return typed_call(runner(), &api::BoxdApi::Stub::CreateToken, request);
}

std::vector<api::TokenInfo> Client::list_tokens() {
  const auto response = typed_call(runner(), &api::BoxdApi::Stub::ListTokens, api::ListTokensRequest());
  return {response.tokens().begin(), response.tokens().end()};
}

void Client::revoke_token(const std::string& jti) {
  api::RevokeTokenRequest request;
  request.set_jti(jti);
  typed_call(runner(), &api::BoxdApi::Stub::RevokeToken, request);
}

#undef runner

}  // namespace boxd::client
