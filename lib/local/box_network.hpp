// The network of the namespace runtime's boxes: a network namespace per box
// (own loopback), a veth on a bridge this server creates, outbound NAT, and
// one more bridge per user network (box create --network NAME).
//
// Everything host-wide is named after a short hash H of the server's state
// dir, so servers with different state dirs never collide:
//   bridge       bxd-H (the gateway, first address of the server's subnet);
//                its ports are isolated: boxes never talk to each other on it
//   networks     bxnH<6 hex of the network id>, no host address; the boxes of
//                that network talk on it by name (/etc/hosts)
//   veths        bxvH<6 hex of box id + network, or the next free value when
//                another link has that name>, the box side named eth0
//                (bridge) and eth1.. (networks in order)
//   iptables     chains BOXD-H-IN (INPUT from the bridges: established only),
//                BOXD-H-FWD (FORWARD: out of the bridge yes, box to box via
//                the host no, to the subnet of a user network in use no, into
//                it only replies) and nat BOXD-H-NAT
//                (MASQUERADE of the subnet), each jumped to from the built-in
//                chain; net.ipv4.ip_forward is set to 1 (and left so)
// The subnet: --bridge-subnet, else the one of the previous run (state file
// <state>/network.json), else a /24 in 10.64.0.0-10.99.255.255 picked from H,
// skipping every range the host already routes (other bridges included).
// User networks keep the 10.100+.x.0/24 subnets their records carry; they
// live only between boxes, the host has no address or route on them.
//
// network.json also keeps each box's addresses and init identity, so a
// server restarted after kill -9 adopts live boxes with their network as it
// was (bridge and chains are set up again idempotently) and forgets dead ones
// (their veths died with their namespace). The destructor (graceful stop)
// removes the bridges, veths and chains.
#pragma once

#include "local/runtime.hpp"

#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace boxd::local {

namespace netlink {
class Route;
}

// An IPv4 prefix; parse_cidr throws boxd::Error (Usage) with the reason.
struct Ipv4Net {
  std::uint32_t base = 0;  // host byte order, host bits zero
  int prefix = 0;
  std::uint32_t mask() const { return prefix == 0 ? 0 : ~0U << (32 - prefix); }
  bool overlaps(const Ipv4Net& other) const;
  std::string str() const;  // "10.64.3.0/24"
};
Ipv4Net parse_cidr(const std::string& text);
std::string ipv4_text(std::uint32_t address);

class BoxNetwork {
 public:
  // state_dir empty: disabled (boxes keep the host's network; runtime unit
  // tests). Throws boxd::Error (Usage) for a bad or colliding subnet flag;
  // any other failure (not root, no netlink) leaves it disabled, and
  // isolation() says why.
  BoxNetwork(const std::filesystem::path& state_dir, const std::string& subnet_flag);
  ~BoxNetwork();
  BoxNetwork(const BoxNetwork&) = delete;
  BoxNetwork& operator=(const BoxNetwork&) = delete;

  bool enabled() const { return m_enabled; }
  // CLONE_NEWNET when enabled, else 0.
  int clone_flags() const;
  // After clone, while the init builds the box's root (its network
  // namespace exists from clone() on): veths, addresses, routes. Throws
  // boxd::Error.
  void attach(const BoxSpec& box, int init_pid, std::uint64_t start_time);
  // Once the box's root is built, before boot() returns: /etc/hosts of the
  // box and of its peers (never before: the init's root is the host's until
  // its pivot_root).
  void publish(const BoxSpec& box);
  // After the box's processes are gone: its veths, its peers' /etc/hosts,
  // network bridges nobody uses any more. A member whose init is alive and
  // is not init_pid (a newer boot) is left alone.
  void detach(const BoxSpec& box, int init_pid);
  // The box's address on the server bridge ("" when unknown: not running).
  std::string address(const std::string& box_id) const;
  std::string subnet() const { return m_enabled ? m_subnet.str() : ""; }
  std::vector<IsolationLayer> isolation() const;

 private:
  struct Link {
    std::string network_id;  // "" = the server bridge
    std::string network_name;
    std::string subnet;
    std::string address;
    std::string host_if;
  };
  struct Member {
    std::string name;
    int pid = 0;
    std::uint64_t start_time = 0;
    std::vector<Link> links;
  };

  void setup();
  void setup_firewall();
  void teardown();
  void load_state();
  void save_state(std::unique_lock<std::mutex>& lock);
  void write_state(const std::map<std::string, Member>& members) const;
  std::string allocate(const Ipv4Net& net, const std::string& network_id) const;
  std::vector<Link> reserve(const BoxSpec& box, int init_pid, std::uint64_t start_time);
  std::set<std::string> veth_names_taken() const;
  std::string free_veth_name(const std::string& key, std::set<std::string>& taken) const;
  static void plug(netlink::Route& route, const Link& link, const std::string& peer, int netns,
                   const std::string& master, bool isolated);
  void configure_box(int netns, const std::vector<Link>& links) const;
  static void ensure_network_bridge(netlink::Route& route, const std::string& name);
  void prune_network_bridges();
  void sync_network_drops();
  void write_hosts(const std::string& box_id) const;
  std::vector<std::string> peers_of(const std::string& box_id) const;
  std::string network_bridge(const std::string& network_id) const;

  bool m_enabled = false;
  std::string m_why_not;
  bool m_firewall = false;
  std::string m_firewall_detail;
  bool m_nat = false;
  std::string m_nat_detail;
  std::filesystem::path m_state_file;
  std::string m_hash;    // 6 hex digits
  std::string m_bridge;  // bxd-<hash>
  Ipv4Net m_subnet;
  // Guards the members, their addresses and m_dropped. Held for
  // bookkeeping only: the netlink steps of attach and detach run without
  // it (a box's own attach and detach never overlap: Boxes serializes the
  // operations of one box).
  mutable std::mutex m_mutex;
  std::map<std::string, Member> m_members;  // by box id
  std::set<std::string> m_dropped;          // user network subnets with a DROP in BOXD-H-FWD
  std::uint64_t m_state_version = 0;        // changes of m_members (under m_mutex)
  std::mutex m_save_mutex;                  // one writer of the state file at a time
  std::uint64_t m_saved_version = 0;        // the version the file holds (under m_save_mutex)
};

}  // namespace boxd::local
