// Custom domains of boxd local. A bound domain routes, through the local
// HTTP proxy, to its box's default proxy port (route_host in
// service_proxies.cpp): `curl -H 'Host: app.example.com' 127.0.0.1:9480`.
// Nothing resolves the name in DNS: pointing the domain at 127.0.0.1 (or
// sending the Host header) is the user's business.
//
// A domain is unique server-wide (it can route to one box only), so binding
// one that anybody bound already is ALREADY_EXISTS; listing and unbinding
// see only the caller's own (another user's domain is NOT_FOUND to unbind).
// Syntax: lower-case DNS labels separated by dots, at least two labels, at
// most 253 characters; upper case is folded to lower case.
#include <algorithm>
#include <cctype>

#include "local/rpc_helpers.hpp"
#include "local/service.hpp"

namespace boxd::local {

namespace {


std::string normalize_domain(std::string domain) {
  std::transform(domain.begin(), domain.end(), domain.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (!domain.empty() && domain.back() == '.') {
    domain.pop_back();
  }
  return domain;
}

void check_domain(const std::string& domain, const std::string& given) {
  const auto invalid = [&](const std::string& why) {
    fail(Fault::InvalidArgument, "invalid domain '" + given + "': " + why);
  };
  if (domain.empty()) {
    fail(Fault::InvalidArgument, "a domain is required");
  }
  if (domain.size() > 253) {
    invalid("longer than 253 characters");
  }
  std::size_t labels = 0;
  std::size_t start = 0;
  while (start <= domain.size()) {
    auto end = domain.find('.', start);
    if (end == std::string::npos) {
      end = domain.size();
    }
    const std::string label = domain.substr(start, end - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-' ||
        !std::all_of(label.begin(), label.end(), [](unsigned char c) {
          return std::islower(c) || std::isdigit(c) || c == '-';
        })) {
      invalid("use dot-separated labels of letters, digits and '-' (e.g. app.example.com)");
    }
    ++labels;
    start = end + 1;
  }
  if (labels < 2) {
    invalid("a domain has at least two labels (e.g. example.com)");
  }
  // Names under .localhost are the box URLs of this server (<box>.<user>.
  // localhost): a domain there would take another tenant's URL.
  if (domain == "localhost" || domain.ends_with(".localhost")) {
    invalid("names under .localhost are box URLs of this server");
  }
}

}  // namespace

grpc::Status BoxdService::BindDomain(grpc::ServerContext* context,
                                     const api::BindDomainRequest* request,
                                     api::CustomDomainInfo* response) {
  return handle_rpc(context, [&](const AuthResult& auth) {
    const std::string domain = normalize_domain(request->domain());
    check_domain(domain, request->domain());
    const auto box = require_box(auth.user_id, request->vm());
    m_store.update([&](StoreData& data) {
      for (const auto& d : data.domains) {
        const bool box_alive = std::any_of(data.boxes.begin(), data.boxes.end(),
                                           [&](const BoxRecord& b) { return b.id == d.box_id; });
        if (d.domain == domain && box_alive) {
          fail(Fault::AlreadyExists, "domain '" + domain + "' is already bound");
        }
      }
      std::erase_if(data.domains, [&](const DomainRecord& d) { return d.domain == domain; });
      data.domains.push_back(DomainRecord{domain, auth.user_id, box.id, rpc::now_secs()});
    });
    response->set_domain(domain);
    response->set_vm_id(box.id);
    response->set_vm_name(box.name);
    response->set_status("active");
    log("domain " + domain + " bound to box " + box.name + " (" + auth.user_id + ")");
  });
}

grpc::Status BoxdService::UnbindDomain(grpc::ServerContext* context,
                                       const api::UnbindDomainRequest* request,
                                       api::UnbindDomainResponse*) {
  return handle_rpc(context, [&](const AuthResult& auth) {
    const std::string domain = normalize_domain(request->domain());
    m_store.update([&](StoreData& data) {
      const auto removed = std::erase_if(data.domains, [&](const DomainRecord& d) {
        return d.domain == domain && d.owner == auth.user_id;
      });
      if (removed == 0 || domain.empty()) {
        fail(Fault::NotFound, "domain '" + request->domain() + "' not found");
      }
    });
    log("domain " + domain + " unbound by " + auth.user_id);
  });
}

grpc::Status BoxdService::ListDomains(grpc::ServerContext* context,
                                      const api::ListDomainsRequest*,
                                      api::ListDomainsResponse* response) {
  return handle_rpc(context, [&](const AuthResult& auth) {
    m_store.read([&](const StoreData& data) {
      std::vector<DomainRecord> mine;
      for (const auto& d : data.domains) {
        if (d.owner == auth.user_id) {
          mine.push_back(d);
        }
      }
      std::sort(mine.begin(), mine.end(),
                [](const DomainRecord& a, const DomainRecord& b) { return a.domain < b.domain; });
      for (const auto& d : mine) {
        const auto box = std::find_if(data.boxes.begin(), data.boxes.end(),
                                      [&](const BoxRecord& b) { return b.id == d.box_id; });
        if (box == data.boxes.end()) {
          continue;  // its box was destroyed: the binding went with it
        }
        auto* info = response->add_domains();
        info->set_domain(d.domain);
        info->set_vm_id(d.box_id);
        info->set_vm_name(box->name);
        info->set_status("active");
      }
      return 0;
    });
  });
}

}  // namespace boxd::local
