// The domain layer of boxd local for proxies, and the Host-header routing
// of the HTTP proxy (http_proxy.cpp asks route() through
// BoxdService::route_host). No gRPC type here (the adapter is
// service_proxies.cpp).
//
// Every box has a default proxy (name "", is_default) whose port is "auto"
// (8080) until set_port locks it to a number; a record {box_id, "", port}
// in the store means locked. Named proxies (create) always carry their own
// port (port mode "locked"). Records point at a box by id, so a destroyed
// box's proxies are ignored and pruned at the next change, and a new box
// with the same name starts clean.
//
// Names: box names are unique per user, not server-wide, so every URL names
// the owner too, and the same box name of two users gives two URLs that
// never meet (box and user names are DNS labels, so the dots cannot be
// confused):
//   <box>.<user>.localhost          -> the box's default proxy port
//   <proxy>.<box>.<user>.localhost  -> that proxy's port
//   a bound custom domain           -> its box's default proxy port
// list, create, expose, a new box's URL (url_of) and GetVm's access domain
// ("<user>.localhost:<port>", access_of) all use this one form.
// expose(N) is a named proxy "port-N" -> N (tcp only: the local proxy
// speaks HTTP), listed like any other. Bot protection is a flag on the box
// that the HTTP proxy enforces (requests whose User-Agent is missing or
// names an automated client get 403).
//
// The upstream is the box's own address (Runtime::address) and the port.
// While that address is the host's loopback (boxes without a network
// namespace), the server's own ports (gRPC, key exchange, proxy) are
// refused: at set_port/create/expose time (INVALID_ARGUMENT), and again
// when a request is routed (403; the ports may have changed since).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "local/boxes.hpp"
#include "local/http_proxy.hpp"
#include "local/store.hpp"

namespace boxd::local {

struct ProxiesOptions {
  int proxy_port = 9480;            // where the HTTP proxy listens
  std::string url_scheme = "http";  // of the box URLs
};

// A proxy as callers show it.
struct ProxyView {
  std::string name;  // "" = the box's default proxy
  std::string box_name;
  std::string box_id;
  std::string domain;  // [<proxy>.]<box>.<owner>.localhost:<proxy port>
  bool is_default = false;
  bool locked = false;  // the port is a number ("locked"), not "auto"
  std::uint32_t port = 0;
  bool bot_protection = false;
};

// What expose() made.
struct ExposedPort {
  std::string box_name;
  std::string box_id;
  std::string dns;  // port-<N>.<box>.<owner>.localhost
  std::uint32_t public_port = 0;
  std::uint32_t box_port = 0;
  std::string protocol;
};

// What GetVm shows about a box's reachability.
struct BoxAccess {
  std::optional<std::string> access_domain;  // "<owner>.localhost:<port>"; none: no such box
  std::vector<std::string> custom_domains;   // bound to the box (domains.hpp)
};

class Proxies {
 public:
  // `activity` restarts a box's idle clock (a routed request is traffic).
  Proxies(ProxiesOptions options, Store& store, Boxes& boxes,
          std::function<void(const std::string& box_id)> activity = {});

  // The box's URL: <scheme>://<box>.<owner>.localhost:<proxy port>.
  std::string url_of(const BoxRecord& box) const;
  BoxAccess access_of(const std::string& box_id) const;
  // access_of() of every box, by box id, in one pass (ListVms: one
  // access_of() per box scanned all boxes, O(n^2) for n boxes).
  std::map<std::string, BoxAccess> access_of_all() const;

  // The server's own ports (gRPC, key exchange, proxy), which a proxy may
  // not reach while boxes are reached on the host's loopback.
  void set_server_ports(std::vector<std::pair<int, std::string>> ports);

  // The proxies of the caller's box `vm`, or ("" ) of all the caller's
  // boxes, oldest box first; each box's default proxy, then its named ones
  // by name.
  std::vector<ProxyView> list(const std::string& user, const std::string& vm);
  // `port` is 1-65535 or "auto" (the default proxy only).
  void set_port(const std::string& user, const std::string& vm, const std::string& name,
                const std::string& port);
  ProxyView create(const std::string& user, const std::string& vm, const std::string& name,
                   std::uint32_t port);
  void remove(const std::string& user, const std::string& vm, const std::string& name);
  void set_bot_protection(const std::string& user, const std::string& vm, bool enabled);
  // `protocol` "" = tcp; udp is refused (the local proxy speaks HTTP).
  ExposedPort expose(const std::string& user, const std::string& vm, const std::string& protocol,
                     std::uint32_t port);

  // A Host header (no port, lower-case) -> the address and port of the box
  // behind it, or the HTTP error to answer. A box suspended for being idle
  // is resumed by the request.
  ProxyRoute route(const std::string& host);

 private:
  // INVALID_ARGUMENT when `port` of `box` can only mean the server itself.
  void check_port(const BoxRecord& box, std::uint32_t port);
  // The server port `port` is, when the box's address is the host's loopback.
  std::optional<std::string> server_port_name(const std::string& address, int port);
  // The box a proxy host name or bound domain belongs to; `proxy_name` gets
  // the named proxy ("" = default).
  std::optional<BoxRecord> box_for_host(const std::string& host, std::string& proxy_name) const;
  // Resumes `box` when it was suspended for being idle (route()).
  void wake_for_traffic(BoxRecord& box);
  ProxyRoute port_route(const BoxRecord& box, const std::string& proxy_name) const;

  ProxiesOptions m_options;
  Store& m_store;
  Boxes& m_boxes;
  Runtime& m_runtime;
  std::function<void(const std::string&)> m_activity;
  std::mutex m_ports_mutex;
  std::vector<std::pair<int, std::string>> m_server_ports;  // port, what
};

}  // namespace boxd::local
