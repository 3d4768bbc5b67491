// Links, addresses and routes over rtnetlink (a NETLINK_ROUTE socket), in
// process: what box_network.cpp used to run `ip`, `bridge` and `nsenter`
// for, without a child process per step.
//
// A socket works on the network namespace it was created in, whichever
// thread uses it later. in_netns() runs a function on a short-lived thread
// of its own that has joined another namespace (setns() changes only the
// calling thread's namespace), so a Route made there, and /proc/sys/net
// files opened there, belong to that namespace while the server's own
// threads never leave the host's.
//
// Every call throws boxd::Error (Internal) naming the step and the kernel's
// reason ("netlink: add veth bxv1 (peer eth0): File exists").
#pragma once

#include "common/unique_fd.hpp"

#include <linux/netlink.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace boxd::local::netlink {

class Route {
 public:
  // A NETLINK_ROUTE socket in the calling thread's network namespace,
  // connected to the kernel: no other process can send it an answer.
  Route();
  // The socket's netlink port id (for tests: what another sender would target).
  std::uint32_t port_id() const;

  // The link's index, 0 when there is no link of that name.
  int index(const std::string& name);
  // A veth pair: `name` here, `peer` in the namespace netns_fd refers to.
  void add_veth(const std::string& name, const std::string& peer, int peer_netns_fd);
  void add_bridge(const std::string& name);
  // A bridge port whose master is `master` (by name; both exist).
  void set_master(const std::string& name, const std::string& master);
  // A bridge port that forwards to no other isolated port (IFLA_BRPORT_ISOLATED).
  void set_isolated(const std::string& port);
  void set_up(const std::string& name);
  // address in host byte order, e.g. 10.64.3.2 as 0x0a400302.
  void add_address(const std::string& name, std::uint32_t address, int prefix);
  // Removes every IPv4 address of the link.
  void flush_addresses(const std::string& name);
  void add_default_route(std::uint32_t gateway);
  // False when there was no such link.
  bool delete_link(const std::string& name);

 private:
  // One dump and the removal of what it found; how many it found.
  std::size_t flush_addresses_once(const std::string& name);
  // Sends one request and reads the answer up to its acknowledgement (or,
  // for a dump, its end); each answer message goes to on_message. Returns 0
  // or the kernel's negative errno, with the reason in why; -EINTR for a
  // dump the kernel flagged as interrupted (NLM_F_DUMP_INTR).
  int transact(std::vector<char>& request, const std::function<void(const nlmsghdr&)>& on_message,
               std::string& why);
  // transact() for a dump request (NLM_F_DUMP): the answer messages go to
  // on_message only once a whole dump came without NLM_F_DUMP_INTR (a
  // change of the table during the dump can make it skip or repeat
  // entries); an interrupted one is asked again, a few times at most, then
  // -EINTR.
  int dump(std::vector<char>& request, const std::function<void(const nlmsghdr&)>& on_message,
           std::string& why);
  void must(std::vector<char>& request, const std::string& what);
  int must_index(const std::string& name);

  UniqueFd m_fd;
  std::uint32_t m_seq = 0;
};

// Deletes each link of names in the calling thread's namespace, going on
// past failures; false when one could not be deleted (a missing one counts
// as deleted) or no socket could be opened.
bool delete_links(const std::vector<std::string>& names);

// Runs fn on a new thread that has joined the network namespace netns_fd
// refers to (setns), and waits for it; fn's exception is rethrown here.
void in_netns(int netns_fd, const std::function<void()>& fn);

// Writes value to a /proc/sys file (path relative to /proc/sys, e.g.
// "net/ipv4/ip_forward") as seen from the calling thread's namespaces;
// false when it cannot.
bool write_sysctl(const std::string& path, const std::string& value);

}  // namespace boxd::local::netlink
