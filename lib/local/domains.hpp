// The domain layer of boxd local for custom domains. A bound domain routes,
// through the local HTTP proxy, to its box's default proxy port
// (Proxies::route in proxies.cpp):
// `curl -H 'Host: app.example.com' 127.0.0.1:9480`. Nothing resolves the name in DNS: pointing the
// domain at 127.0.0.1 (or sending the Host header) is the user's business. No gRPC type here (the
// adapter is service_domains.cpp).
//
// A domain is unique server-wide (it can route to one box only), so binding
// one that anybody bound already is ALREADY_EXISTS; listing and unbinding
// see only the caller's own (another user's domain is NOT_FOUND to unbind).
// Syntax: lower-case DNS labels separated by dots, at least two labels, at
// most 253 characters; upper case is folded to lower case.
#pragma once

#include <string>
#include <vector>

#include "local/boxes.hpp"
#include "local/store.hpp"

namespace boxd::local {

// A binding as callers show it: the domain and the box it routes to.
struct BoundDomain {
  std::string domain;
  std::string box_id;
  std::string box_name;
};

// Stateless: every call reads and writes the store.
class Domains {
 public:
  Domains(Store& store, Boxes& boxes) : m_store(store), m_boxes(boxes) {}

  // Binds `domain` (as the caller wrote it) to the caller's box `vm`.
  BoundDomain bind(const std::string& user, const std::string& domain, const std::string& vm);
  void unbind(const std::string& user, const std::string& domain);
  // The caller's bindings whose box still exists, by domain.
  std::vector<BoundDomain> list(const std::string& user) const;

 private:
  Store& m_store;
  Boxes& m_boxes;
};

}  // namespace boxd::local
