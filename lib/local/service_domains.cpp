// The custom domain RPCs: request -> Domains (domains.hpp, the domain layer,
// where the rules are) -> response.
#include "local/domains.hpp"
#include "local/service.hpp"

namespace boxd::local {

namespace {

void to_info(const BoundDomain& bound, api::CustomDomainInfo& info) {
  info.set_domain(bound.domain);
  info.set_vm_id(bound.box_id);
  info.set_vm_name(bound.box_name);
  info.set_status("active");
}

}  // namespace

grpc::Status BoxdService::BindDomain(grpc::ServerContext* context,
                                     const api::BindDomainRequest* request,
                                     api::CustomDomainInfo* response) {
  return handle_rpc(context, [&](const AuthResult& auth) {
    to_info(Domains(m_store, m_boxes).bind(auth.user_id, request->domain(), request->vm()),
            *response);
  });
}

grpc::Status BoxdService::UnbindDomain(grpc::ServerContext* context,
                                       const api::UnbindDomainRequest* request,
                                       api::UnbindDomainResponse*) {
  return handle_rpc(context, [&](const AuthResult& auth) {
    Domains(m_store, m_boxes).unbind(auth.user_id, request->domain());
  });
}

grpc::Status BoxdService::ListDomains(grpc::ServerContext* context, const api::ListDomainsRequest*,
                                      api::ListDomainsResponse* response) {
  return handle_rpc(context, [&](const AuthResult& auth) {
    for (const auto& bound : Domains(m_store, m_boxes).list(auth.user_id)) {
      to_info(bound, *response->add_domains());
    }
  });
}

}  // namespace boxd::local
