#include "local/proxies.hpp"

#include <algorithm>
#include <cctype>
#include <utility>

#include "common/log.hpp"
#include "local/fault.hpp"
#include "local/rpc_helpers.hpp"

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

// Room for one more named proxy or exposed port on the box (the default
// proxy aside): at most `limit`.
void check_proxy_room(const StoreData& data, const std::string& box_id, int limit) {
  rpc::check_record_room(
      data.proxies, [&](const ProxyRecord& p) { return p.box_id == box_id && !p.name.empty(); },
      limit, "proxies and exposed ports on a box");
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

void check_port_number(std::uint32_t port) {
  if (port == 0 || port > 65535) {
    fail(Fault::InvalidArgument, "invalid port " + std::to_string(port) + ": use 1-65535");
  }
}

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

Proxies::Proxies(ProxiesOptions options, Store& store, Boxes& boxes,
                 std::function<void(const std::string& box_id)> activity)
    : m_options(std::move(options)),
      m_store(store),
      m_boxes(boxes),
      m_runtime(boxes.runtime()),
      m_activity(std::move(activity)) {}

std::string Proxies::url_of(const BoxRecord& box) const {
  return m_options.url_scheme + "://" + box.name + "." + box.owner + k_proxy_suffix + ":" +
         std::to_string(m_options.proxy_port);
}

BoxAccess Proxies::access_of(const std::string& box_id) const {
  return m_store.read([&](const StoreData& data) {
    BoxAccess access;
    for (const auto& b : data.boxes) {
      if (b.id == box_id) {
        access.access_domain =
            b.owner + k_proxy_suffix + ":" + std::to_string(m_options.proxy_port);
      }
    }
    for (const auto& d : data.domains) {
      if (d.box_id == box_id) {
        access.custom_domains.push_back(d.domain);
      }
    }
    return access;
  });
}

std::map<std::string, BoxAccess> Proxies::access_of_all() const {
  return m_store.read([&](const StoreData& data) {
    std::map<std::string, BoxAccess> all;
    for (const auto& b : data.boxes) {
      all[b.id].access_domain =
          b.owner + k_proxy_suffix + ":" + std::to_string(m_options.proxy_port);
    }
    for (const auto& d : data.domains) {
      all[d.box_id].custom_domains.push_back(d.domain);
    }
    return all;
  });
}

void Proxies::set_server_ports(std::vector<std::pair<int, std::string>> ports) {
  std::lock_guard lock(m_ports_mutex);
  m_server_ports = std::move(ports);
}

std::optional<std::string> Proxies::server_port_name(const std::string& address, int port) {
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

void Proxies::check_port(const BoxRecord& box, std::uint32_t port) {
  const auto what =
      server_port_name(m_runtime.address(m_boxes.spec_of(box), box.handle), static_cast<int>(port));
  if (what) {
    fail(Fault::InvalidArgument, "port " + std::to_string(port) +
                                     " is this boxd server's own port (" + *what +
                                     "), not a port of VM '" + box.name + "': use another port");
  }
}

std::vector<ProxyView> Proxies::list(const std::string& user, const std::string& vm) {
  std::vector<BoxRecord> boxes;
  if (!vm.empty()) {
    boxes.push_back(m_boxes.require(user, vm));
  } else {
    for (auto& b : m_store.boxes()) {
      if (b.owner == user) {
        boxes.push_back(b);
      }
    }
    std::sort(boxes.begin(), boxes.end(), [](const BoxRecord& a, const BoxRecord& b) {
      return a.created_at != b.created_at ? a.created_at < b.created_at : a.name < b.name;
    });
  }
  const std::string port_suffix = ":" + std::to_string(m_options.proxy_port);
  return m_store.read([&](const StoreData& data) {
    std::vector<ProxyView> out;
    for (const auto& box : boxes) {
      ProxyView def{"", box.name, box.id, proxy_host("", box) + port_suffix, true};
      def.port = default_port_of(data, box.id, &def.locked);
      def.bot_protection = box.bot_protection;
      out.push_back(def);
      std::vector<ProxyRecord> named;
      for (const auto& p : data.proxies) {
        if (p.box_id == box.id && !p.name.empty()) {
          named.push_back(p);
        }
      }
      std::sort(named.begin(), named.end(),
                [](const ProxyRecord& a, const ProxyRecord& b) { return a.name < b.name; });
      for (const auto& p : named) {
        out.push_back(ProxyView{p.name, box.name, box.id, proxy_host(p.name, box) + port_suffix,
                                false, true, p.port, box.bot_protection});
      }
    }
    return out;
  });
}

void Proxies::set_port(const std::string& user, const std::string& vm, const std::string& name,
                       const std::string& port_text) {
  const auto box = m_boxes.require(user, vm);
  const bool automatic = port_text == "auto";
  if (automatic && !name.empty()) {
    fail(Fault::InvalidArgument,
         "port 'auto' is only for the default proxy; give proxy '" + name + "' a number");
  }
  const std::uint32_t port = automatic ? 0 : parse_port(port_text);
  if (!automatic) {
    check_port(box, port);
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
  logging::info("proxy '" + name + "' of box " + box.name + " set to port " + port_text);
}

ProxyView Proxies::create(const std::string& user, const std::string& vm, const std::string& name,
                          std::uint32_t port) {
  const auto box = m_boxes.require(user, vm);
  if (name.empty()) {
    fail(Fault::InvalidArgument,
         "a proxy name is required (every box already has its default proxy)");
  }
  rpc::check_label("proxy", name);
  check_port_number(port);
  check_port(box, port);
  m_store.update([&](StoreData& data) {
    prune_orphans(data);
    for (const auto& p : data.proxies) {
      if (p.box_id == box.id && p.name == name) {
        fail(Fault::AlreadyExists, "proxy '" + name + "' already exists on VM '" + box.name + "'");
      }
    }
    check_proxy_room(data, box.id, m_store.record_limit());
    data.proxies.push_back(ProxyRecord{box.id, name, port});
  });
  logging::info("proxy '" + name + "' of box " + box.name + " created on port " +
                std::to_string(port));
  return ProxyView{
      name,  box.name, box.id, proxy_host(name, box) + ":" + std::to_string(m_options.proxy_port),
      false, true,     port,   box.bot_protection};
}

void Proxies::remove(const std::string& user, const std::string& vm, const std::string& name) {
  const auto box = m_boxes.require(user, vm);
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
  logging::info("proxy '" + name + "' of box " + box.name + " deleted");
}

void Proxies::set_bot_protection(const std::string& user, const std::string& vm, bool enabled) {
  const auto box = m_boxes.require(user, vm);
  m_store.update([&](StoreData& data) {
    if (auto* b = find_box_in(data, user, box.id)) {
      b->bot_protection = enabled;
    }
  });
  logging::info("bot protection of box " + box.name + " " + (enabled ? "on" : "off"));
}

ExposedPort Proxies::expose(const std::string& user, const std::string& vm,
                            const std::string& requested_protocol, std::uint32_t port) {
  const auto box = m_boxes.require(user, vm);
  const std::string protocol = requested_protocol.empty() ? "tcp" : requested_protocol;
  if (protocol != "tcp" && protocol != "udp") {
    fail(Fault::InvalidArgument, "invalid protocol '" + protocol + "': use tcp or udp");
  }
  if (protocol == "udp") {
    fail(Fault::InvalidArgument, "boxd local exposes tcp ports only (through its HTTP proxy)");
  }
  check_port_number(port);
  check_port(box, port);
  const std::string name = "port-" + std::to_string(port);
  m_store.update([&](StoreData& data) {
    prune_orphans(data);
    for (const auto& p : data.proxies) {
      if (p.box_id == box.id && p.name == name) {
        return;  // exposed already
      }
    }
    check_proxy_room(data, box.id, m_store.record_limit());
    data.proxies.push_back(ProxyRecord{box.id, name, port});
  });
  logging::info("port " + std::to_string(port) + " of box " + box.name + " exposed");
  return ExposedPort{
      box.name, box.id,  proxy_host(name, box), static_cast<std::uint32_t>(m_options.proxy_port),
      port,     protocol};
}

std::optional<BoxRecord> Proxies::box_for_host(const std::string& host,
                                               std::string& proxy_name) const {
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

void Proxies::wake_for_traffic(BoxRecord& box) {
  if (box.status != BoxStatus::Suspended || box.auto_suspend_timeout_secs == 0) {
    return;
  }
  // Suspended for being idle: traffic wakes it (upstream's SRF).
  auto lock = m_boxes.op_lock(box.id);
  std::lock_guard guard(*lock);
  if (auto current = m_store.find_box(box.owner, box.id);
      current && current->status == BoxStatus::Suspended &&
      m_runtime.alive(m_boxes.spec_of(*current), current->handle)) {
    try {
      m_runtime.resume(m_boxes.spec_of(*current), current->handle);
      m_boxes.set_status(current->id, BoxStatus::Running);
      box.status = BoxStatus::Running;
      logging::info("box " + box.name + " (" + box.owner + ") resumed by HTTP traffic");
    } catch (const std::exception& e) {
      logging::info("could not resume box " + box.name + ": " + e.what());
    }
  }
}

ProxyRoute Proxies::port_route(const BoxRecord& box, const std::string& proxy_name) const {
  return m_store.read([&](const StoreData& data) {
    if (proxy_name.empty()) {
      return ProxyRoute{static_cast<int>(default_port_of(data, box.id, nullptr)), 0, "",
                        box.bot_protection};
    }
    for (const auto& p : data.proxies) {
      if (p.box_id == box.id && p.name == proxy_name) {
        return ProxyRoute{static_cast<int>(p.port), 0, "", box.bot_protection};
      }
    }
    return ProxyRoute{0, 404, "no proxy '" + proxy_name + "' on box '" + box.name + "'"};
  });
}

ProxyRoute Proxies::route(const std::string& host) {
  std::string proxy_name;
  auto box = box_for_host(host, proxy_name);
  if (!box) {
    return ProxyRoute{0, 404,
                      "no box answers for host '" + host +
                          "' (box URLs are <box>.<user>.localhost, or a bound domain)"};
  }
  wake_for_traffic(*box);
  if (box->status != BoxStatus::Running) {
    return ProxyRoute{0, 503, "box '" + box->name + "' is " + status_text(box->status)};
  }
  if (m_activity) {
    m_activity(box->id);
  }
  ProxyRoute target = port_route(*box, proxy_name);
  if (target.port <= 0) {
    return target;
  }
  target.address = m_runtime.address(m_boxes.spec_of(*box), box->handle);
  if (const auto what = server_port_name(target.address, target.port)) {
    return ProxyRoute{0, 403,
                      "port " + std::to_string(target.port) + " of box '" + box->name +
                          "' is this boxd server's own port (" + *what + ")"};
  }
  return target;
}

}  // namespace boxd::local
