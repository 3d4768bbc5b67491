// Proxies of boxd local, and the Host-header routing of the HTTP proxy.
//
// Every box has a default proxy (name "", is_default) whose port is "auto"
// (k_default_proxy_port, 8080) until SetProxyPort locks it to a number; a
// record {box_id, "", port} in the store means locked. Named proxies
// (CreateProxy) always carry their own port (port_mode "locked"). Records
// point at a box by id, so a destroyed box's proxies are ignored and pruned
// at the next change, and a new box with the same name starts clean.
//
// Routing (route_host), for the Host header without its port:
//   <box>.localhost          -> the box's default proxy port
//   <proxy>.<box>.localhost  -> that proxy's port
//   a bound custom domain    -> its box's default proxy port
// ExposePort(N) is a named proxy "port-N" -> N (tcp only: the local proxy
// speaks HTTP), listed like any other. SetBotProtection is a flag on the box
// that the HTTP proxy enforces (http_proxy.cpp: requests whose User-Agent is
// missing or names an automated client get 403).
// The upstream is the box's own address (Runtime::address: its bridge
// address with the namespace runtime, 127.0.0.1 with the process runtime).
// Box names are unique per user, not server-wide; when two users
// have a box of the same name, a running one wins, then the oldest.
#include <algorithm>

#include "local/rpc_helpers.hpp"
#include "local/service.hpp"

namespace boxd::local {

namespace {

using grpc::StatusCode;
using rpc::fail;

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

std::uint32_t parse_port(const std::string& text) {
  if (text.empty() || text.size() > 5 ||
      !std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); })) {
    fail(StatusCode::INVALID_ARGUMENT, "invalid port '" + text + "': use 1-65535 or 'auto'");
  }
  const auto port = static_cast<std::uint32_t>(std::stoul(text));
  if (port == 0 || port > 65535) {
    fail(StatusCode::INVALID_ARGUMENT, "invalid port '" + text + "': use 1-65535 or 'auto'");
  }
  return port;
}

}  // namespace

void BoxdService::decorate(api::GetVmResponse& response) {
  response.set_access_domain(std::string("localhost:") + std::to_string(m_options.proxy_port));
  m_store.read([&](const StoreData& data) {
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
        def->set_domain(box.name + k_proxy_suffix + port_suffix);
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
          info->set_domain(p.name + "." + box.name + k_proxy_suffix + port_suffix);
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
      fail(StatusCode::INVALID_ARGUMENT,
           "port 'auto' is only for the default proxy; give proxy '" + name + "' a number");
    }
    const std::uint32_t port = automatic ? 0 : parse_port(request->port());
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
      fail(StatusCode::NOT_FOUND, "proxy '" + name + "' not found on VM '" + box.name + "'");
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
      fail(StatusCode::INVALID_ARGUMENT,
           "a proxy name is required (every box already has its default proxy)");
    }
    rpc::check_label("proxy", name);
    if (request->port() == 0 || request->port() > 65535) {
      fail(StatusCode::INVALID_ARGUMENT,
           "invalid port " + std::to_string(request->port()) + ": use 1-65535");
    }
    m_store.update([&](StoreData& data) {
      prune_orphans(data);
      for (const auto& p : data.proxies) {
        if (p.box_id == box.id && p.name == name) {
          fail(StatusCode::ALREADY_EXISTS,
               "proxy '" + name + "' already exists on VM '" + box.name + "'");
        }
      }
      data.proxies.push_back(ProxyRecord{box.id, name, request->port()});
    });
    response->set_name(name);
    response->set_vm_name(box.name);
    response->set_vm_id(box.id);
    response->set_domain(name + "." + box.name + k_proxy_suffix + ":" +
                         std::to_string(m_options.proxy_port));
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
      fail(StatusCode::FAILED_PRECONDITION,
           "the default proxy cannot be deleted (set its port with set-port)");
    }
    m_store.update([&](StoreData& data) {
      prune_orphans(data);
      const auto removed = std::erase_if(data.proxies, [&](const ProxyRecord& p) {
        return p.box_id == box.id && p.name == name;
      });
      if (removed == 0) {
        fail(StatusCode::NOT_FOUND, "proxy '" + name + "' not found on VM '" + box.name + "'");
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
      fail(StatusCode::INVALID_ARGUMENT, "invalid protocol '" + protocol + "': use tcp or udp");
    }
    if (protocol == "udp") {
      fail(StatusCode::INVALID_ARGUMENT,
           "boxd local exposes tcp ports only (through its HTTP proxy)");
    }
    if (request->vm_port() == 0 || request->vm_port() > 65535) {
      fail(StatusCode::INVALID_ARGUMENT,
           "invalid port " + std::to_string(request->vm_port()) + ": use 1-65535");
    }
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
    response->set_dns(name + "." + box.name + k_proxy_suffix);
    response->set_public_port(static_cast<std::uint32_t>(m_options.proxy_port));
    response->set_vm_port(request->vm_port());
    response->set_protocol(protocol);
    log("port " + std::to_string(request->vm_port()) + " of box " + box.name + " exposed");
  });
}

ProxyRoute BoxdService::route_host(const std::string& host) {
  std::string box_name;
  std::string proxy_name;
  std::string box_id;
  bool by_domain = false;
  m_store.read([&](const StoreData& data) {
    for (const auto& d : data.domains) {
      if (d.domain == host) {
        box_id = d.box_id;
        by_domain = true;
      }
    }
    return 0;
  });
  if (!by_domain) {
    const std::string suffix = k_proxy_suffix;
    if (host.size() <= suffix.size() ||
        host.compare(host.size() - suffix.size(), suffix.size(), suffix) != 0) {
      return ProxyRoute{0, 404, "no box answers for host '" + host + "'"};
    }
    const std::string label = host.substr(0, host.size() - suffix.size());
    const auto dot = label.find('.');
    if (dot == std::string::npos) {
      box_name = label;
    } else {
      proxy_name = label.substr(0, dot);
      box_name = label.substr(dot + 1);
      if (box_name.find('.') != std::string::npos) {
        return ProxyRoute{0, 404, "no box answers for host '" + host + "'"};
      }
    }
  }

  // The box: by id (domain), or by name (running first, then the oldest).
  std::optional<BoxRecord> box;
  for (const auto& b : m_store.boxes()) {
    const bool match = by_domain ? b.id == box_id : b.name == box_name;
    if (!match) {
      continue;
    }
    if (!box || (box->status != "running" && b.status == "running") ||
        (box->status == b.status && b.created_at < box->created_at)) {
      box = b;
    }
  }
  if (!box) {
    return ProxyRoute{0, 404, "no box answers for host '" + host + "'"};
  }
  if (box->status == "suspended" && box->auto_suspend_timeout_secs > 0) {
    // Suspended for being idle: traffic wakes it (upstream's SRF).
    auto lock = op_lock(box->id);
    std::lock_guard guard(*lock);
    if (auto current = m_store.find_box(box->owner, box->id);
        current && current->status == "suspended" && m_runtime.alive(spec_of(*current), current->handle)) {
      try {
        m_runtime.resume(spec_of(*current), current->handle);
        set_status(current->id, "running");
        box->status = "running";
        log("box " + box->name + " (" + box->owner + ") resumed by HTTP traffic");
      } catch (const std::exception& e) {
        log("could not resume box " + box->name + ": " + e.what());
      }
    }
  }
  if (box->status != "running") {
    return ProxyRoute{0, 503, "box '" + box->name + "' is " + box->status};
  }
  touch_activity(box->id);
  const bool bots_refused = box->bot_protection;
  const std::string address = m_runtime.address(spec_of(*box), box->handle);
  return m_store.read([&](const StoreData& data) {
    if (proxy_name.empty()) {
      return ProxyRoute{static_cast<int>(default_port_of(data, box->id, nullptr)), 0, "",
                        bots_refused, address};
    }
    for (const auto& p : data.proxies) {
      if (p.box_id == box->id && p.name == proxy_name) {
        return ProxyRoute{static_cast<int>(p.port), 0, "", bots_refused, address};
      }
    }
    return ProxyRoute{0, 404,
                      "no proxy '" + proxy_name + "' on box '" + box->name + "'"};
  });
}

}  // namespace boxd::local
