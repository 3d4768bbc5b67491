// Proxies of boxd local, and the Host-header routing of the HTTP proxy.
//
// Every box has a default proxy (name "", is_default) whose port is "auto"
// (k_default_proxy_port, 8080) until SetProxyPort locks it to a number; a
// record {box_id, "", port} in the store means locked. Named proxies
// (CreateProxy) always carry their own port (port_mode "locked"). Records
// point at a box by id, so a destroyed box's proxies are ignored and pruned
// at the next change, and a new box with the same name starts clean.
//
// Names: box names are unique per user, not server-wide, so every URL names
// the owner too, and the same box name of two users gives two URLs that
// never meet (box and user names are DNS labels, so the dots cannot be
// confused):
//   <box>.<user>.localhost          -> the box's default proxy port
//   <proxy>.<box>.<user>.localhost  -> that proxy's port
//   a bound custom domain           -> its box's default proxy port
// ListProxies, CreateProxy, ExposePort, CreateVm/ForkVm's url and GetVm's
// access_domain ("<user>.localhost:<port>") all use this one form.
// ExposePort(N) is a named proxy "port-N" -> N (tcp only: the local proxy
// speaks HTTP), listed like any other. SetBotProtection is a flag on the box
// that the HTTP proxy enforces (http_proxy.cpp: requests whose User-Agent is
// missing or names an automated client get 403).
//
// The upstream is the box's own address (Runtime::address) and the port.
// While that address is the host's loopback (boxes without a network
// namespace), the server's own ports (gRPC, key exchange, proxy) are
// refused: at SetProxyPort/CreateProxy/ExposePort time, and again when a
// request is routed (the ports may have changed since).
#include <algorithm>
#include <optional>
#include <vector>

#include "local/rpc_helpers.hpp"
#include "local/service.hpp"

namespace boxd::local {

namespace {

constexpr std::uint32_t k_default_proxy_port = 8080;
constexpr const char* k_proxy_suffix = ".localhost";

void prune_orphans(StoreData& data) {
  auto gone = [&](const std::string& box_id) {
    return std::none_of(data.boxes.begin(), data.boxes.end(),
                        [&](const BoxRecord& b) { return b.id == box_id; });
  };
  std::erase_if(data.proxies, [&](const ProxyRecord& p) { return gone(p.box_id); });
  std::erase_if(data.domains, [&](const DomainRecord& d) { return gone(d.box_id); });
}

std::uint32_t default_port_of(const StoreData& data, const std::string& box_id, bool* locked) {
  for (const auto& p : data.proxies) {
    if (p.box_id == box_id && p.name.empty()) {
      if (locked != nullptr) {
        *locked = true;
      }
      return p.port;
    }
  }
  if (locked != nullptr) {
    *locked = false;
  }
  return k_default_proxy_port;
}

bool is_loopback(const std::string& address) {
  return address.empty() || address.rfind("127.", 0) == 0 || address == "::1" ||
         address == "localhost";
}

// The host name of a box's proxy: [<proxy>.]<box>.<owner>.localhost.
std::string proxy_host(const std::string& proxy, const BoxRecord& box) {
  return (proxy.empty() ? "" : proxy + ".") + box.name + "." + box.owner + k_proxy_suffix;
}

std::uint32_t parse_port(const std::string& text) {
  if (text.empty() || text.size() > 5 ||
      !std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); })) {
    fail(Fault::InvalidArgument, "invalid port '" + text + "': use 1-65535 or 'auto'");
  }
  const auto port = static_cast<std::uint32_t>(std::stoul(text));
  if (port == 0 || port > 65535) {
    fail(Fault::InvalidArgument, "invalid port '" + text + "': use 1-65535 or 'auto'");
  }
  return port;
}

}  // namespace

std::string BoxdService::url_of(const BoxRecord& box) const {
  return m_options.url_scheme + "://" + box.name + "." + box.owner + k_proxy_suffix + ":" +
         std::to_string(m_options.proxy_port);
}

void BoxdService::set_server_ports(std::vector<std::pair<int, std::string>> ports) {
  std::lock_guard lock(m_ports_mutex);
  m_server_ports = std::move(ports);
}

std::optional<std::string> BoxdService::server_port_name(const std::string& address, int port) {
  if (!is_loopback(address)) {
    return std::nullopt;
  }
  std::lock_guard lock(m_ports_mutex);
  for (const auto& [reserved, what] : m_server_ports) {
    if (reserved == port) {
      return what;
    }
  }
  if (port == m_options.proxy_port) {
    return std::string("HTTP proxy");
  }
  return std::nullopt;
}

void BoxdService::check_proxy_port(const BoxRecord& box, std::uint32_t port) {
  const auto what =
      server_port_name(m_runtime.address(spec_of(box), box.handle), static_cast<int>(port));
  if (what) {
    fail(Fault::InvalidArgument, "port " + std::to_string(port) +
                                     " is this boxd server's own port (" + *what +
                                     "), not a port of VM '" + box.name + "': use another port");
  }
}

void BoxdService::decorate(api::GetVmResponse& response) {
  m_store.read([&](const StoreData& data) {
    for (const auto& b : data.boxes) {
      if (b.id == response.vm_id()) {
        response.set_access_domain(b.owner + k_proxy_suffix + ":" +
                                   std::to_string(m_options.proxy_port));
      }
    }
    for (const auto& d : data.domains) {
      if (d.box_id == response.vm_id()) {
        auto* info = response.add_custom_domains();
        info->set_domain(d.domain);
        info->set_vm_id(response.vm_id());
        info->set_vm_name(response.name());
        info->set_status("active");
      }
    }
    return 0;
  });
}

grpc::Status BoxdService::ListProxies(grpc::ServerContext* context,
                                      const api::ListProxiesRequest* request,
                                      api::ListProxiesResponse* response) {
  return handle_rpc(context, [&](const AuthResult& auth) {
    std::vector<BoxRecord> boxes;
    if (!request->vm().empty()) {
      boxes.push_back(require_box(auth.user_id, request->vm()));
    } else {
      for (auto& b : m_store.boxes()) {
        if (b.owner == auth.user_id) {
          boxes.push_back(b);
        }
      }
      std::sort(boxes.begin(), boxes.end(), [](const BoxRecord& a, const BoxRecord& b) {
        return a.created_at != b.created_at ? a.created_at < b.created_at : a.name < b.name;
      });
    }
    const std::string port_suffix = ":" + std::to_string(m_options.proxy_port);
    m_store.read([&](const StoreData& data) {
      for (const auto& box : boxes) {
        bool locked = false;
        auto* def = response->add_proxies();
        def->set_name("");
        def->set_vm_name(box.name);
        def->set_vm_id(box.id);
        def->set_domain(proxy_host("", box) + port_suffix);
        def->set_is_default(true);
        def->set_effective_port(default_port_of(data, box.id, &locked));
        def->set_port_mode(locked ? "locked" : "auto");
        def->set_bot_protection(box.bot_protection);
        std::vector<ProxyRecord> named;
        for (const auto& p : data.proxies) {
          if (p.box_id == box.id && !p.name.empty()) {
            named.push_back(p);
          }
        }
        std::sort(named.begin(), named.end(),
                  [](const ProxyRecord& a, const ProxyRecord& b) { return a.name < b.name; });
        for (const auto& p : named) {
          auto* info = response->add_proxies();
          info->set_name(p.name);
          info->set_vm_name(box.name);
          info->set_vm_id(box.id);
          info->set_domain(proxy_host(p.name, box) + port_suffix);
          info->set_is_default(false);
          info->set_port_mode("locked");
          info->set_effective_port(p.port);
          info->set_bot_protection(box.bot_protection);
        }
      }
      return 0;
    });
  });
}

grpc::Status BoxdService::SetProxyPort(grpc::ServerContext* context,
                                       const api::SetProxyPortRequest* request,
                                       api::SetProxyPortResponse*) {
  return handle_rpc(context, [&](const AuthResult& auth) {
    const auto box = require_box(auth.user_id, request->vm());
    const std::string& name = request->name();
    const bool automatic = request->port() == "auto";
    if (automatic && !name.empty()) {
      fail(Fault::InvalidArgument,
           "port 'auto' is only for the default proxy; give proxy '" + name + "' a number");
    }
    const std::uint32_t port = automatic ? 0 : parse_port(request->port());
    if (!automatic) {
      check_proxy_port(box, port);
    }
    m_store.update([&](StoreData& data) {
      prune_orphans(data);
      if (name.empty()) {
        std::erase_if(data.proxies,
                      [&](const ProxyRecord& p) { return p.box_id == box.id && p.name.empty(); });
        if (!automatic) {
          data.proxies.push_back(ProxyRecord{box.id, "", port});
        }
        return;
      }
      for (auto& p : data.proxies) {
        if (p.box_id == box.id && p.name == name) {
          p.port = port;
          return;
        }
      }
      fail(Fault::NotFound, "proxy '" + name + "' not found on VM '" + box.name + "'");
    });
    log("proxy '" + name + "' of box " + box.name + " set to port " + request->port());
  });
}

grpc::Status BoxdService::CreateProxy(grpc::ServerContext* context,
                                      const api::CreateProxyRequest* request,
                                      api::ProxyInfo* response) {
  return handle_rpc(context, [&](const AuthResult& auth) {
    const auto box = require_box(auth.user_id, request->vm());
    const std::string& name = request->name();
    if (name.empty()) {
      fail(Fault::InvalidArgument,
           "a proxy name is required (every box already has its default proxy)");
    }
    rpc::check_label("proxy", name);
    if (request->port() == 0 || request->port() > 65535) {
      fail(Fault::InvalidArgument,
           "invalid port " + std::to_string(request->port()) + ": use 1-65535");
    }
    check_proxy_port(box, request->port());
    m_store.update([&](StoreData& data) {
      prune_orphans(data);
      for (const auto& p : data.proxies) {
        if (p.box_id == box.id && p.name == name) {
          fail(Fault::AlreadyExists,
               "proxy '" + name + "' already exists on VM '" + box.name + "'");
        }
      }
      data.proxies.push_back(ProxyRecord{box.id, name, request->port()});
    });
    response->set_name(name);
    response->set_vm_name(box.name);
    response->set_vm_id(box.id);
    response->set_domain(proxy_host(name, box) + ":" + std::to_string(m_options.proxy_port));
    response->set_is_default(false);
    response->set_port_mode("locked");
    response->set_effective_port(request->port());
    log("proxy '" + name + "' of box " + box.name + " created on port " +
        std::to_string(request->port()));
  });
}

grpc::Status BoxdService::DeleteProxy(grpc::ServerContext* context,
                                      const api::DeleteProxyRequest* request,
                                      api::DeleteProxyResponse*) {
  return handle_rpc(context, [&](const AuthResult& auth) {
    const auto box = require_box(auth.user_id, request->vm());
    const std::string& name = request->name();
    if (name.empty()) {
      fail(Fault::FailedPrecondition,
           "the default proxy cannot be deleted (set its port with set-port)");
    }
    m_store.update([&](StoreData& data) {
      prune_orphans(data);
      const auto removed = std::erase_if(
          data.proxies, [&](const ProxyRecord& p) { return p.box_id == box.id && p.name == name; });
      if (removed == 0) {
        fail(Fault::NotFound, "proxy '" + name + "' not found on VM '" + box.name + "'");
      }
    });
    log("proxy '" + name + "' of box " + box.name + " deleted");
  });
}

grpc::Status BoxdService::SetBotProtection(grpc::ServerContext* context,
                                           const api::SetBotProtectionRequest* request,
                                           api::SetBotProtectionResponse*) {
  return handle_rpc(context, [&](const AuthResult& auth) {
    const auto box = require_box(auth.user_id, request->vm_id());
    m_store.update([&](StoreData& data) {
      if (auto* b = find_box_in(data, auth.user_id, box.id)) {
        b->bot_protection = request->enabled();
      }
    });
    log("bot protection of box " + box.name + " " + (request->enabled() ? "on" : "off"));
  });
}

grpc::Status BoxdService::ExposePort(grpc::ServerContext* context,
                                     const api::ExposePortRequest* request,
                                     api::ExposePortResponse* response) {
  return handle_rpc(context, [&](const AuthResult& auth) {
    const auto box = require_box(auth.user_id, request->vm());
    const std::string protocol = request->protocol().empty() ? "tcp" : request->protocol();
    if (protocol != "tcp" && protocol != "udp") {
      fail(Fault::InvalidArgument, "invalid protocol '" + protocol + "': use tcp or udp");
    }
    if (protocol == "udp") {
      fail(Fault::InvalidArgument, "boxd local exposes tcp ports only (through its HTTP proxy)");
    }
    if (request->vm_port() == 0 || request->vm_port() > 65535) {
      fail(Fault::InvalidArgument,
           "invalid port " + std::to_string(request->vm_port()) + ": use 1-65535");
    }
    check_proxy_port(box, request->vm_port());
    const std::string name = "port-" + std::to_string(request->vm_port());
    m_store.update([&](StoreData& data) {
      prune_orphans(data);
      for (const auto& p : data.proxies) {
        if (p.box_id == box.id && p.name == name) {
          return;  // exposed already
        }
      }
      data.proxies.push_back(ProxyRecord{box.id, name, request->vm_port()});
    });
    response->set_vm_name(box.name);
    response->set_vm_id(box.id);
    response->set_dns(proxy_host(name, box));
    response->set_public_port(static_cast<std::uint32_t>(m_options.proxy_port));
    response->set_vm_port(request->vm_port());
    response->set_protocol(protocol);
    log("port " + std::to_string(request->vm_port()) + " of box " + box.name + " exposed");
  });
}

namespace {

struct ProxyHost {
  std::string proxy;  // "" = the default proxy
  std::string box;
  std::string owner;
};

// "<box>.<owner>.localhost" or "<proxy>.<box>.<owner>.localhost".
std::optional<ProxyHost> parse_proxy_host(const std::string& host) {
  const std::string suffix = k_proxy_suffix;
  if (host.size() <= suffix.size() || !host.ends_with(suffix)) {
    return std::nullopt;
  }
  std::vector<std::string> labels;
  const std::string rest = host.substr(0, host.size() - suffix.size());
  std::size_t start = 0;
  while (start <= rest.size()) {
    auto dot = rest.find('.', start);
    dot = dot == std::string::npos ? rest.size() : dot;
    labels.push_back(rest.substr(start, dot - start));
    start = dot + 1;
  }
  if (labels.size() == 2) {
    return ProxyHost{"", labels[0], labels[1]};
  }
  if (labels.size() == 3) {
    return ProxyHost{labels[0], labels[1], labels[2]};
  }
  return std::nullopt;
}

}  // namespace

std::optional<BoxRecord> BoxdService::box_for_host(const std::string& host,
                                                   std::string& proxy_name) {
  std::string box_id;
  std::string domain_owner;
  m_store.read([&](const StoreData& data) {
    for (const auto& d : data.domains) {
      if (d.domain == host) {
        box_id = d.box_id;
        domain_owner = d.owner;
      }
    }
    return 0;
  });
  const auto parsed = box_id.empty() ? parse_proxy_host(host) : std::nullopt;
  if (box_id.empty() && !parsed) {
    return std::nullopt;
  }
  for (const auto& b : m_store.boxes()) {
    const bool match = parsed ? b.owner == parsed->owner && b.name == parsed->box
                              : b.id == box_id && b.owner == domain_owner;
    if (match) {
      proxy_name = parsed ? parsed->proxy : "";
      return b;
    }
  }
  return std::nullopt;
}

ProxyRoute BoxdService::route_host(const std::string& host) {
  std::string proxy_name;
  auto box = box_for_host(host, proxy_name);
  if (!box) {
    return ProxyRoute{0, 404,
                      "no box answers for host '" + host +
                          "' (box URLs are <box>.<user>.localhost, or a bound domain)"};
  }
  if (box->status == BoxStatus::Suspended && box->auto_suspend_timeout_secs > 0) {
    // Suspended for being idle: traffic wakes it (upstream's SRF).
    auto lock = op_lock(box->id);
    std::lock_guard guard(*lock);
    if (auto current = m_store.find_box(box->owner, box->id);
        current && current->status == BoxStatus::Suspended &&
        m_runtime.alive(spec_of(*current), current->handle)) {
      try {
        m_runtime.resume(spec_of(*current), current->handle);
        set_status(current->id, BoxStatus::Running);
        box->status = BoxStatus::Running;
        log("box " + box->name + " (" + box->owner + ") resumed by HTTP traffic");
      } catch (const std::exception& e) {
        log("could not resume box " + box->name + ": " + e.what());
      }
    }
  }
  if (box->status != BoxStatus::Running) {
    return ProxyRoute{0, 503, "box '" + box->name + "' is " + status_text(box->status)};
  }
  touch_activity(box->id);
  ProxyRoute route = m_store.read([&](const StoreData& data) {
    if (proxy_name.empty()) {
      return ProxyRoute{static_cast<int>(default_port_of(data, box->id, nullptr)), 0, "",
                        box->bot_protection};
    }
    for (const auto& p : data.proxies) {
      if (p.box_id == box->id && p.name == proxy_name) {
        return ProxyRoute{static_cast<int>(p.port), 0, "", box->bot_protection};
      }
    }
    return ProxyRoute{0, 404, "no proxy '" + proxy_name + "' on box '" + box->name + "'"};
  });
  if (route.port <= 0) {
    return route;
  }
  route.address = m_runtime.address(spec_of(*box), box->handle);
  if (const auto what = server_port_name(route.address, route.port)) {
    return ProxyRoute{0, 403,
                      "port " + std::to_string(route.port) + " of box '" + box->name +
                          "' is this boxd server's own port (" + *what + ")"};
  }
  return route;
}

}  // namespace boxd::local
