// See box_network.hpp for the model. Links, addresses and routes are set
// over rtnetlink in this process (netlink.hpp: no child process per step);
// inside a box's network namespace from a short-lived thread that joined it
// (netlink::in_netns), so the server's own threads never leave the host's.
// The firewall is the iptables command (run_command: posix_spawn, argv
// only), run at start and when the set of user networks in use changes.
#include "local/box_network.hpp"

#include "common/error.hpp"
#include "common/files.hpp"
#include "common/log.hpp"
#include "common/unique_fd.hpp"
#include "local/netlink.hpp"
#include "local/network_orphans.hpp"
#include "local/runtime_support.hpp"

#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <set>
#include <sstream>

namespace boxd::local {

namespace fs = std::filesystem;
using nlohmann::json;

// ---------------------------------------------------------------- addresses

bool Ipv4Net::overlaps(const Ipv4Net& other) const {
  const std::uint64_t a_end = std::uint64_t{base} | ~mask();
  const std::uint64_t b_end = std::uint64_t{other.base} | ~other.mask();
  return base <= (b_end & 0xffffffffU) && other.base <= (a_end & 0xffffffffU);
}

std::string ipv4_text(std::uint32_t address) {
  return std::to_string(address >> 24) + "." + std::to_string((address >> 16) & 255) + "." +
         std::to_string((address >> 8) & 255) + "." + std::to_string(address & 255);
}

std::string Ipv4Net::str() const {
  return ipv4_text(base) + "/" + std::to_string(prefix);
}

Ipv4Net parse_cidr(const std::string& text) {
  const auto slash = text.find('/');
  const std::string bad =
      "invalid subnet '" + text + "': use a private IPv4 prefix such as 10.64.1.0/24";
  if (slash == std::string::npos) {
    throw Error(ErrorClass::Usage, bad);
  }
  in_addr address{};
  if (inet_pton(AF_INET, text.substr(0, slash).c_str(), &address) != 1) {
    throw Error(ErrorClass::Usage, bad);
  }
  const std::string length = text.substr(slash + 1);
  if (length.empty() || length.size() > 2 ||
      length.find_first_not_of("0123456789") != std::string::npos) {
    throw Error(ErrorClass::Usage, bad);
  }
  Ipv4Net net{ntohl(address.s_addr), std::stoi(length)};
  if (net.prefix < 16 || net.prefix > 29) {
    throw Error(ErrorClass::Usage,
                "invalid subnet '" + text + "': the prefix length must be 16 to 29");
  }
  if ((net.base & ~net.mask()) != 0) {
    throw Error(ErrorClass::Usage, "invalid subnet '" + text +
                                       "': host bits are set (did you mean " +
                                       Ipv4Net{net.base & net.mask(), net.prefix}.str() + "?)");
  }
  return net;
}

namespace {

constexpr const char* k_state_file = "network.json";
// The subnets of user networks (networks.cpp: 10.100.0.0/24 up).
constexpr std::uint32_t k_networks_first = (10U << 24) | (100U << 16);
constexpr std::uint32_t k_networks_last = (10U << 24) | 0xffffffU;

std::uint32_t parse_ipv4(const std::string& text) {
  in_addr address{};
  if (inet_pton(AF_INET, text.c_str(), &address) != 1) {
    return 0;
  }
  return ntohl(address.s_addr);
}

std::uint32_t gateway_of(const Ipv4Net& net) {
  return net.base + 1;
}

bool overlaps_user_networks(const Ipv4Net& net) {
  const std::uint64_t end = std::uint64_t{net.base} | ~net.mask();
  return net.base <= k_networks_last && end >= k_networks_first;
}

struct HostRoute {
  std::string device;
  Ipv4Net net;
};

// The main routing table (/proc/net/route), default routes left out.
std::vector<HostRoute> host_routes() {
  std::vector<HostRoute> routes;
  std::ifstream in("/proc/net/route");
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string device, destination, gateway, flags, refs, use, metric, mask;
    if (!(fields >> device >> destination >> gateway >> flags >> refs >> use >> metric >> mask)) {
      continue;
    }
    const std::uint32_t dest =
        ntohl(static_cast<std::uint32_t>(std::stoul(destination, nullptr, 16)));
    const std::uint32_t bits = ntohl(static_cast<std::uint32_t>(std::stoul(mask, nullptr, 16)));
    if (bits == 0) {
      continue;
    }
    routes.push_back({device, Ipv4Net{dest & bits, __builtin_popcount(bits)}});
  }
  return routes;
}

// The first route (not on `own`) that overlaps net, or nullopt.
std::optional<HostRoute> colliding_route(const Ipv4Net& net, const std::string& own) {
  for (const auto& route : host_routes()) {
    if (route.device != own && route.net.overlaps(net)) {
      return route;
    }
  }
  return std::nullopt;
}

std::string short_hash(const std::string& text, int digits) {
  std::uint64_t hash = 1469598103934665603ULL;  // FNV-1a
  for (unsigned char c : text) {
    hash = (hash ^ c) * 1099511628211ULL;
  }
  char buffer[17];
  std::snprintf(buffer, sizeof buffer, "%016llx", static_cast<unsigned long long>(hash));
  return std::string(buffer).substr(16 - static_cast<std::size_t>(digits));
}

std::string tool(const char* name) {
  for (const char* dir : {"/usr/sbin/", "/sbin/", "/usr/bin/", "/bin/"}) {
    std::string path = std::string(dir) + name;
    if (access(path.c_str(), X_OK) == 0) {
      return path;
    }
  }
  return "";
}

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
    text.pop_back();
  }
  return text;
}

// Runs argv; throws boxd::Error naming the command (not its host path).
void must(const std::vector<std::string>& argv) {
  const auto result = run_command(argv);
  if (result.status != 0) {
    std::string shown = fs::path(argv[0]).filename().string();
    for (std::size_t i = 1; i < argv.size() && i < 8; ++i) {
      shown += " " + argv[i];
    }
    throw Error(ErrorClass::Internal, "`" + shown + "` failed: " + trimmed(result.error_output));
  }
}

bool try_run(const std::vector<std::string>& argv) {
  try {
    return run_command(argv).status == 0;
  } catch (const std::exception&) {
    return false;
  }
}

// The host side of our bridges and veths gets no IPv6 link-local address:
// nothing on this host answers a box over IPv6.
void disable_ipv6(const std::string& device) {
  netlink::write_sysctl("net/ipv6/conf/" + device + "/disable_ipv6", "1");
}

// Deletes links of ours, ignoring failures (already gone, or going).

// True when `fd` is the object `own` names for this thread (a namespace, a
// root directory), or when either cannot be looked at: a box's side must
// never turn out to be the server's own.
bool is_ours(int fd, const char* own) {
  struct stat theirs {};
  struct stat ours {};
  return fstat(fd, &theirs) != 0 || stat(own, &ours) != 0 ||
         (theirs.st_dev == ours.st_dev && theirs.st_ino == ours.st_ino);
}

// The box's network namespace, by its init's pid; throws when the init is
// gone (or the pid is another process now), and when it is the namespace
// this thread configures the host in: the box's side of the network (eth0,
// its address, the default route) would be set up on the host.
UniqueFd open_box_netns(int pid, std::uint64_t start_time) {
  UniqueFd fd(open(("/proc/" + std::to_string(pid) + "/ns/net").c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid() || !process_matches(pid, start_time)) {
    throw Error(ErrorClass::Internal, "the box's init (pid " + std::to_string(pid) + ") is gone");
  }
  if (is_ours(fd.get(), "/proc/thread-self/ns/net")) {
    throw Error(ErrorClass::Internal, "the box's init (pid " + std::to_string(pid) +
                                          ") is in the server's own network namespace: its "
                                          "network is not set up");
  }
  return fd;
}

// Writes a file inside a running box, resolved beneath the box's root (no
// symlink or ".." leads out of it; open_box_file). False when the box is
// gone, its root is the server's own, or the file is not a regular one.
bool write_box_file(int pid, std::uint64_t start_time, const char* relative,
                    const std::string& text) {
  // O_NONBLOCK (open_box_file): the box owns the file and may have made it
  // a FIFO (open would wait for a reader forever) or taken a lease on it
  // (open would wait for the lease break); this runs with the network mutex
  // held. The truncation of a FIFO is a no-op, and it is refused.
  UniqueFd fd = open_box_file(pid, start_time, relative, O_WRONLY | O_TRUNC);
  if (!fd.valid() && errno == ENOENT) {
    fd = open_box_file(pid, start_time, relative, O_WRONLY | O_TRUNC | O_CREAT, 0644);
  }
  return fd.valid() &&
         write(fd.get(), text.data(), text.size()) == static_cast<ssize_t>(text.size());
}

}  // namespace

// ---------------------------------------------------------------- lifecycle

BoxNetwork::BoxNetwork(const fs::path& state_dir, const std::string& subnet_flag) {
  if (state_dir.empty()) {
    m_why_not = "not configured";
    return;
  }
  m_state_file = state_dir / k_state_file;
  m_hash = short_hash(fs::weakly_canonical(state_dir).string(), 6);
  m_bridge = "bxd-" + m_hash;
  std::optional<Ipv4Net> wanted;
  if (!subnet_flag.empty()) {
    wanted = parse_cidr(subnet_flag);
    if (overlaps_user_networks(*wanted)) {
      throw Error(ErrorClass::Usage, "--bridge-subnet " + subnet_flag +
                                         " overlaps 10.100.0.0-10.255.255.255, the subnets of "
                                         "user networks: pick another range");
    }
    if (auto route = colliding_route(*wanted, m_bridge)) {
      throw Error(ErrorClass::Usage, "--bridge-subnet " + subnet_flag + " overlaps " +
                                         route->net.str() + " (dev " + route->device +
                                         ") of this host: pick a free range");
    }
  }
  if (geteuid() != 0) {
    m_why_not = "it needs root";
    return;
  }
  load_state();
  if (wanted) {
    m_subnet = *wanted;
  } else if (m_subnet.prefix == 0 || colliding_route(m_subnet, m_bridge)) {
    m_subnet = Ipv4Net{};
    const std::uint32_t start =
        static_cast<std::uint32_t>(std::stoul(m_hash, nullptr, 16)) % (36 * 256);
    for (std::uint32_t i = 0; i < 36 * 256 && m_subnet.prefix == 0; ++i) {
      const std::uint32_t n = (start + i) % (36 * 256);
      Ipv4Net candidate{(10U << 24) | ((64 + n / 256) << 16) | ((n % 256) << 8), 24};
      if (!colliding_route(candidate, m_bridge)) {
        m_subnet = candidate;
      }
    }
    if (m_subnet.prefix == 0) {
      m_why_not = "no free /24 in 10.64.0.0-10.99.255.255 (use --bridge-subnet)";
      return;
    }
  }
  auto setup_lock = std::make_unique<NetworkSetupLock>();
  const auto reaped = reap_orphaned_networks(m_hash, tool("iptables"));
  if (reaped.bridges > 0 || reaped.chains > 0) {
    logging::info("removed the network leftovers of servers whose state dir is gone",
                  {{"bridges", static_cast<std::int64_t>(reaped.bridges)},
                   {"chains", static_cast<std::int64_t>(reaped.chains)}});
  }
  try {
    setup();
  } catch (const std::exception& e) {
    m_why_not = e.what();
    netlink::delete_links({m_bridge});
    return;
  }
  tag_server_bridge(m_bridge, fs::weakly_canonical(state_dir));
  m_enabled = true;
  setup_firewall();
  setup_lock.reset();
  std::unique_lock lock(m_mutex);
  prune_network_bridges();
  save_state(lock);
}

BoxNetwork::~BoxNetwork() {
  if (m_enabled) {
    try {
      teardown();
    } catch (...) {
    }
  }
}

int BoxNetwork::clone_flags() const {
  return m_enabled ? CLONE_NEWNET : 0;
}

void BoxNetwork::setup() {
  netlink::Route route;
  if (route.index(m_bridge) == 0) {
    route.add_bridge(m_bridge);
  }
  disable_ipv6(m_bridge);
  route.flush_addresses(m_bridge);
  route.add_address(m_bridge, gateway_of(m_subnet), m_subnet.prefix);
  route.set_up(m_bridge);
}

namespace {

// An empty chain of ours (created, or flushed when a previous run left it).
void reset_chain(const std::string& iptables, const char* table, const std::string& chain) {
  try_run({iptables, "-w", "-t", table, "-N", chain});
  must({iptables, "-w", "-t", table, "-F", chain});
}

// One jump from a built-in chain to ours, at the top.
void ensure_jump(const std::string& iptables, const char* table, const char* builtin,
                 std::vector<std::string> match, const std::string& chain) {
  std::vector<std::string> rule = {iptables, "-w", "-t", table, "-C", builtin};
  rule.insert(rule.end(), match.begin(), match.end());
  rule.insert(rule.end(), {"-j", chain});
  if (try_run(rule)) {
    return;
  }
  rule[4] = "-I";
  rule.insert(rule.begin() + 6, "1");
  must(rule);
}

void remove_jump(const std::string& iptables, const char* table, const char* builtin,
                 std::vector<std::string> match, const std::string& chain) {
  std::vector<std::string> rule = {iptables, "-w", "-t", table, "-D", builtin};
  rule.insert(rule.end(), match.begin(), match.end());
  rule.insert(rule.end(), {"-j", chain});
  for (int i = 0; i < 8 && try_run(rule); ++i) {
  }
}

}  // namespace

void BoxNetwork::setup_firewall() {
  const std::string iptables = tool("iptables");
  const std::string gateway = ipv4_text(gateway_of(m_subnet));
  if (iptables.empty()) {
    m_firewall_detail = "no iptables: a box can reach services of this host listening on " +
                        gateway + " or 0.0.0.0 (scripts/setup installs iptables)";
    m_nat_detail = "no iptables: boxes have no outbound traffic";
    return;
  }
  const std::string in = "BOXD-" + m_hash + "-IN";
  const std::string fwd = "BOXD-" + m_hash + "-FWD";
  const std::string nat = "BOXD-" + m_hash + "-NAT";
  const std::string networks = "bxn" + m_hash + "+";
  const std::string subnet = m_subnet.str();
  try {
    reset_chain(iptables, "filter", in);
    must({iptables, "-w", "-A", in, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j",
          "ACCEPT"});
    must({iptables, "-w", "-A", in, "-j", "DROP"});
    reset_chain(iptables, "filter", fwd);
    must({iptables, "-w", "-A", fwd, "-i", m_bridge, "-o", "bxd-+", "-j", "DROP"});
    must({iptables, "-w", "-A", fwd, "-i", m_bridge, "-j", "ACCEPT"});
    must({iptables, "-w", "-A", fwd, "-o", m_bridge, "-m", "conntrack", "--ctstate",
          "RELATED,ESTABLISHED", "-j", "ACCEPT"});
    must({iptables, "-w", "-A", fwd, "-o", m_bridge, "-j", "DROP"});
    must({iptables, "-w", "-A", fwd, "-i", networks, "-o", networks, "-j", "ACCEPT"});
    ensure_jump(iptables, "filter", "INPUT", {"-i", m_bridge}, in);
    ensure_jump(iptables, "filter", "INPUT", {"-i", networks}, in);
    ensure_jump(iptables, "filter", "FORWARD", {}, fwd);
    m_firewall = true;
    m_firewall_detail = "iptables " + in + ": boxes open no connection to this host (" + gateway +
                        " included); " + fwd + ": none to another box through it";
  } catch (const std::exception& e) {
    m_firewall_detail = std::string("iptables failed: ") + e.what();
  }
  try {
    reset_chain(iptables, "nat", nat);
    must({iptables, "-w", "-t", "nat", "-A", nat, "!", "-d", subnet, "-j", "MASQUERADE"});
    ensure_jump(iptables, "nat", "POSTROUTING", {"-s", subnet}, nat);
    netlink::write_sysctl("net/ipv4/ip_forward", "1");
    std::ifstream forward("/proc/sys/net/ipv4/ip_forward");
    std::string value;
    forward >> value;
    m_nat = value == "1" && m_firewall;
    m_nat_detail = m_nat ? "MASQUERADE of " + subnet + " (iptables nat " + nat + "), ip_forward on"
                         : "ip_forward is off and could not be turned on";
  } catch (const std::exception& e) {
    m_nat_detail = std::string("iptables nat failed: ") + e.what();
  }
}

void BoxNetwork::teardown() {
  const std::string iptables = tool("iptables");
  if (!iptables.empty()) {
    const std::string in = "BOXD-" + m_hash + "-IN";
    const std::string fwd = "BOXD-" + m_hash + "-FWD";
    const std::string nat = "BOXD-" + m_hash + "-NAT";
    remove_jump(iptables, "filter", "INPUT", {"-i", m_bridge}, in);
    remove_jump(iptables, "filter", "INPUT", {"-i", "bxn" + m_hash + "+"}, in);
    remove_jump(iptables, "filter", "FORWARD", {}, fwd);
    remove_jump(iptables, "nat", "POSTROUTING", {"-s", m_subnet.str()}, nat);
    const std::vector<std::pair<const char*, std::string>> chains = {
        {"filter", in}, {"filter", fwd}, {"nat", nat}};
    for (const auto& [table, chain] : chains) {
      try_run({iptables, "-w", "-t", table, "-F", chain});
      try_run({iptables, "-w", "-t", table, "-X", chain});
    }
  }
  std::vector<std::string> links = links_with_prefix("bxv" + m_hash);
  for (auto& name : links_with_prefix("bxn" + m_hash)) {
    links.push_back(std::move(name));
  }
  links.push_back(m_bridge);
  netlink::delete_links(links);
  std::lock_guard lock(m_mutex);
  m_members.clear();
  std::error_code ec;
  fs::remove(m_state_file, ec);
}

// ---------------------------------------------------------------- state file

void BoxNetwork::load_state() {
  const auto text = read_file(m_state_file);
  if (!text) {
    return;
  }
  try {
    const json doc = json::parse(*text);
    if (doc.contains("subnet")) {
      m_subnet = parse_cidr(doc.at("subnet").get<std::string>());
    }
    if (!doc.contains("members") || !doc.at("members").is_object()) {
      return;
    }
    for (const auto& [id, j] : doc.at("members").items()) {
      Member member{
          j.value("name", ""), j.value("pid", 0), j.value("start_time", std::uint64_t{0}), {}};
      if (!process_matches(member.pid, member.start_time) || !j.contains("links")) {
        continue;  // dead: its veths went with its namespace
      }
      for (const auto& l : j.at("links")) {
        member.links.push_back(Link{l.value("network_id", ""), l.value("network_name", ""),
                                    l.value("subnet", ""), l.value("address", ""),
                                    l.value("host_if", "")});
      }
      m_members[id] = std::move(member);
    }
  } catch (const std::exception&) {
    m_members.clear();  // unreadable: start over (live boxes lose their peers' names)
  }
}

// Called with the lock held, returns with it released. The file is written
// outside the lock, and one write covers every change made before it: of
// concurrent callers, those whose change a later write already holds skip
// theirs (with many boxes created at once, far fewer fsyncs than boxes).
void BoxNetwork::save_state(std::unique_lock<std::mutex>& lock) {
  const std::uint64_t wanted = ++m_state_version;
  lock.unlock();
  std::lock_guard saving(m_save_mutex);
  if (m_saved_version >= wanted) {
    return;
  }
  std::map<std::string, Member> members;
  std::uint64_t version = 0;
  {
    std::lock_guard again(m_mutex);
    members = m_members;
    version = m_state_version;
  }
  // Best effort: the file only helps a restarted server adopt running boxes.
  // A failed write (disk full) must not fail the attach or stop around it,
  // which has already changed the members; the next change writes again.
  try {
    write_state(members);
    m_saved_version = version;
  } catch (const std::exception& e) {
    logging::warn(std::string("could not save the box network state: ") + e.what());
  }
}

void BoxNetwork::write_state(const std::map<std::string, Member>& current) const {
  json members = json::object();
  for (const auto& [id, m] : current) {
    json links = json::array();
    for (const auto& l : m.links) {
      links.push_back(json{{"network_id", l.network_id},
                           {"network_name", l.network_name},
                           {"subnet", l.subnet},
                           {"address", l.address},
                           {"host_if", l.host_if}});
    }
    members[id] =
        json{{"name", m.name}, {"pid", m.pid}, {"start_time", m.start_time}, {"links", links}};
  }
  const json doc{{"bridge", m_bridge}, {"subnet", m_subnet.str()}, {"members", members}};
  // No fsync: the file only matters while the boxes it lists live, and a
  // machine crash ends them too (after kill -9 of the server it is whole).
  write_file_atomic(m_state_file, doc.dump(2) + "\n", 0600, Sync::None);
}

// ---------------------------------------------------------------- boxes

std::string BoxNetwork::network_bridge(const std::string& network_id) const {
  return "bxn" + m_hash + short_hash(network_id, 6);
}

std::string BoxNetwork::allocate(const Ipv4Net& net, const std::string& network_id) const {
  std::set<std::uint32_t> used;
  for (const auto& [id, member] : m_members) {
    for (const auto& link : member.links) {
      if (link.network_id == network_id) {
        used.insert(parse_ipv4(link.address));
      }
    }
  }
  const std::uint32_t last = (net.base | ~net.mask()) - 1;
  for (std::uint32_t address = net.base + 2; address <= last; ++address) {
    if (used.count(address) == 0) {
      return ipv4_text(address);
    }
  }
  throw Error(ErrorClass::QuotaExceeded, "no free address left in " + net.str());
}

// The host side of a box's link: the veth (its peer goes into the box's
// namespace), on its bridge, isolated from the other ports when asked, then
// up. Nothing of the box side: configure_box() does that.
void BoxNetwork::plug(netlink::Route& route, const Link& link, const std::string& peer, int netns,
                      const std::string& master, bool isolated) {
  route.add_veth(link.host_if, peer, netns);
  disable_ipv6(link.host_if);
  route.set_master(link.host_if, master);
  if (isolated) {
    route.set_isolated(link.host_if);  // before up: never a moment unisolated
  }
  route.set_up(link.host_if);
}

// Inside the box's namespace: lo, the unprivileged port sysctl, then each
// link (eth0 first) addressed and up, and the default route via the gateway.
void BoxNetwork::configure_box(int netns, const std::vector<Link>& links) const {
  const std::uint32_t gateway = gateway_of(m_subnet);
  netlink::in_netns(netns, [&links, gateway] {
    netlink::Route route;
    route.set_up("lo");
    // Box root may bind ports below 1024 (sshd on 22, a web server on 80),
    // as root of a VM can: its user namespace does not own this network
    // namespace, so only this per-namespace sysctl allows it (best effort).
    netlink::write_sysctl("net/ipv4/ip_unprivileged_port_start", "0");
    for (std::size_t i = 0; i < links.size(); ++i) {
      const std::string device = "eth" + std::to_string(i);
      route.add_address(device, parse_ipv4(links[i].address), parse_cidr(links[i].subnet).prefix);
      route.set_up(device);
      if (i == 0) {
        route.add_default_route(gateway);
      }
    }
  });
}

void BoxNetwork::ensure_network_bridge(netlink::Route& route, const std::string& name) {
  if (route.index(name) != 0) {
    return;
  }
  try {
    route.add_bridge(name);
  } catch (const Error&) {
    if (route.index(name) == 0) {
      throw;
    }  // made meanwhile by another box's attach
  }
  disable_ipv6(name);
  route.set_up(name);
}

// The links a box gets (eth0 on the server bridge, one per user network),
// with addresses; recorded under the lock, so concurrent attaches never pick
// the same address and prune never removes a bridge about to be used.
std::vector<BoxNetwork::Link> BoxNetwork::reserve(const BoxSpec& box, int init_pid,
                                                  std::uint64_t start_time) {
  m_members.erase(box.id);
  std::set<std::string> taken = veth_names_taken();
  Member& member = m_members[box.id] = Member{box.name, init_pid, start_time, {}};
  member.links.push_back(
      Link{"", "", m_subnet.str(), allocate(m_subnet, ""), free_veth_name(box.id, taken)});
  for (const auto& ref : box.networks) {
    const Ipv4Net net = parse_cidr(ref.subnet);
    member.links.push_back(Link{ref.id, ref.name, ref.subnet, allocate(net, ref.id),
                                free_veth_name(box.id + "/" + ref.id, taken)});
  }
  return member.links;
}

// The host veth names in use: the members' (under the lock) and any link of
// ours the host still has (one going away with its namespace).
std::set<std::string> BoxNetwork::veth_names_taken() const {
  std::set<std::string> taken;
  for (const auto& [id, member] : m_members) {
    for (const auto& link : member.links) {
      taken.insert(link.host_if);
    }
  }
  for (auto& name : links_with_prefix("bxv" + m_hash)) {
    taken.insert(std::move(name));
  }
  return taken;
}

// bxvH + 6 hex digits: the hash of key, else the next value not taken (two
// boxes' hashes may be equal: the second would fail to boot, and deleting
// one box's veth would take the other's). Adds the name to taken.
std::string BoxNetwork::free_veth_name(const std::string& key, std::set<std::string>& taken) const {
  const auto start = static_cast<std::uint32_t>(std::stoul(short_hash(key, 6), nullptr, 16));
  for (std::uint32_t i = 0; i <= 0xffffffU; ++i) {
    char digits[7];
    std::snprintf(digits, sizeof digits, "%06x", (start + i) & 0xffffffU);
    std::string name = "bxv" + m_hash + digits;
    if (taken.insert(name).second) {
      return name;
    }
  }
  throw Error(ErrorClass::QuotaExceeded, "no free veth name left");
}

void BoxNetwork::attach(const BoxSpec& box, int init_pid, std::uint64_t start_time) {
  if (!m_enabled) {
    return;
  }
  std::vector<Link> links;
  try {
    const UniqueFd netns = open_box_netns(init_pid, start_time);
    {
      std::lock_guard lock(m_mutex);
      links = reserve(box, init_pid, start_time);
      sync_network_drops();
    }
    netlink::Route route;
    for (std::size_t i = 0; i < links.size(); ++i) {
      const bool main = i == 0;
      const std::string bridge = main ? m_bridge : network_bridge(links[i].network_id);
      if (!main) {
        ensure_network_bridge(route, bridge);
      }
      plug(route, links[i], "eth" + std::to_string(i), netns.get(), bridge, main);
    }
    configure_box(netns.get(), links);
  } catch (...) {
    std::vector<std::string> names;
    for (const auto& link : links) {
      names.push_back(link.host_if);
    }
    netlink::delete_links(names);
    std::lock_guard lock(m_mutex);
    auto it = m_members.find(box.id);
    if (it != m_members.end() && it->second.pid == init_pid) {
      m_members.erase(it);
    }
    prune_network_bridges();
    throw;
  }
  std::unique_lock lock(m_mutex);
  save_state(lock);
}

void BoxNetwork::publish(const BoxSpec& box) {
  if (!m_enabled) {
    return;
  }
  std::lock_guard lock(m_mutex);
  if (!m_members.contains(box.id)) {
    return;
  }
  write_hosts(box.id);
  for (const auto& peer : peers_of(box.id)) {
    write_hosts(peer);
  }
}

void BoxNetwork::detach(const BoxSpec& box, int init_pid) {
  if (!m_enabled) {
    return;
  }
  std::vector<std::string> names;
  {
    std::lock_guard lock(m_mutex);
    auto it = m_members.find(box.id);
    if (it == m_members.end() ||
        (it->second.pid != init_pid && process_matches(it->second.pid, it->second.start_time))) {
      return;
    }
    for (const auto& link : it->second.links) {
      names.push_back(link.host_if);
    }
  }
  // Mostly gone already: a veth goes with the namespace of its peer.
  netlink::delete_links(names);
  std::unique_lock lock(m_mutex);
  auto it = m_members.find(box.id);
  if (it == m_members.end() ||
      (it->second.pid != init_pid && process_matches(it->second.pid, it->second.start_time))) {
    return;  // a newer boot attached meanwhile
  }
  const auto peers = peers_of(box.id);
  const bool had_networks = it->second.links.size() > 1;
  m_members.erase(it);
  for (const auto& peer : peers) {
    write_hosts(peer);
  }
  if (had_networks) {
    prune_network_bridges();
  }
  save_state(lock);
}

std::string BoxNetwork::address(const std::string& box_id) const {
  std::lock_guard lock(m_mutex);
  auto it = m_members.find(box_id);
  if (it == m_members.end()) {
    return "";
  }
  for (const auto& link : it->second.links) {
    if (link.network_id.empty()) {
      return link.address;
    }
  }
  return "";
}

// Boxes sharing at least one network with box_id (the box itself excluded).
std::vector<std::string> BoxNetwork::peers_of(const std::string& box_id) const {
  std::set<std::string> networks;
  auto it = m_members.find(box_id);
  if (it != m_members.end()) {
    for (const auto& link : it->second.links) {
      if (!link.network_id.empty()) {
        networks.insert(link.network_id);
      }
    }
  }
  std::vector<std::string> peers;
  for (const auto& [id, member] : m_members) {
    if (id == box_id) {
      continue;
    }
    for (const auto& link : member.links) {
      if (networks.count(link.network_id) != 0) {
        peers.push_back(id);
        break;
      }
    }
  }
  return peers;
}

// /etc/hosts: localhost, the box's own name on its bridge address, and per
// network the names of the other boxes on it.
void BoxNetwork::write_hosts(const std::string& box_id) const {
  const Member& self = m_members.at(box_id);
  std::string text = "127.0.0.1\tlocalhost\n";
  for (const auto& link : self.links) {
    if (link.network_id.empty()) {
      text += link.address + "\t" + self.name + "\n";
    }
  }
  text += "::1\tlocalhost ip6-localhost ip6-loopback\n";
  for (const auto& link : self.links) {
    if (link.network_id.empty()) {
      continue;
    }
    text += "# network " + link.network_name + "\n";
    for (const auto& [id, member] : m_members) {
      for (const auto& other : member.links) {
        if (id != box_id && other.network_id == link.network_id) {
          text += other.address + "\t" + member.name + "\n";
        }
      }
    }
  }
  write_box_file(self.pid, self.start_time, "etc/hosts", text);
}

void BoxNetwork::prune_network_bridges() {
  std::set<std::string> used;
  for (const auto& [id, member] : m_members) {
    for (const auto& link : member.links) {
      if (!link.network_id.empty()) {
        used.insert(network_bridge(link.network_id));
      }
    }
  }
  std::vector<std::string> unused;
  for (auto& name : links_with_prefix("bxn" + m_hash)) {
    if (used.count(name) == 0) {
      unused.push_back(std::move(name));
    }
  }
  netlink::delete_links(unused);
  sync_network_drops();
}

// A box outside a user network must not reach its subnet through the host
// either: with no host route there, the packet would leave by the default
// route. One DROP per subnet in use, from the server bridge.
void BoxNetwork::sync_network_drops() {
  const std::string iptables = tool("iptables");
  if (!m_firewall || iptables.empty()) {
    return;
  }
  std::set<std::string> wanted;
  for (const auto& [id, member] : m_members) {
    for (const auto& link : member.links) {
      if (!link.network_id.empty()) {
        wanted.insert(link.subnet);
      }
    }
  }
  const std::string fwd = "BOXD-" + m_hash + "-FWD";
  for (const auto& subnet : wanted) {
    if (m_dropped.count(subnet) == 0 &&
        try_run({iptables, "-w", "-I", fwd, "1", "-i", m_bridge, "-d", subnet, "-j", "DROP"})) {
      m_dropped.insert(subnet);
    }
  }
  for (auto it = m_dropped.begin(); it != m_dropped.end();) {
    if (wanted.count(*it) == 0) {
      try_run({iptables, "-w", "-D", fwd, "-i", m_bridge, "-d", *it, "-j", "DROP"});
      it = m_dropped.erase(it);
    } else {
      ++it;
    }
  }
}

std::vector<IsolationLayer> BoxNetwork::isolation() const {
  if (!m_enabled) {
    return {{"network namespace", false, m_why_not + ": boxes share this host's network"},
            {"host firewall", false, "no network namespace"},
            {"outbound NAT", false, "no network namespace (boxes use the host's network)"}};
  }
  return {{"network namespace", true,
           "own loopback; bridge " + m_bridge + " " + m_subnet.str() +
               " (ports isolated), a bridge per user network"},
          {"host firewall", m_firewall, m_firewall_detail},
          {"outbound NAT", m_nat, m_nat_detail}};
}

}  // namespace boxd::local
