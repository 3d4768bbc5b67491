// Subnet parsing and overlap of the box network (box_network.hpp); as
// root, attach() with processes standing in for box inits (a network
// namespace of their own, or the server's); the bridge with real boxes is
// exercised by tests/e2e/test_box_network.py.
#include "common/error.hpp"
#include "common/files.hpp"
#include "local/box_network.hpp"
#include "local/netlink.hpp"
#include "local/runtime_support.hpp"
#include "local_test_support.hpp"

#include <doctest/doctest.h>

#include <fcntl.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>
#include <csignal>
#include <string>

using boxd::Error;
using boxd::local::BoxNetwork;
using boxd::local::BoxSpec;
using boxd::local::Ipv4Net;
using boxd::local::links_with_prefix;
using boxd::local::parse_cidr;

namespace {

// A stand-in for a box's init: a child in a network namespace of its own
// (or in ours), waiting until it is killed.
struct InitStandIn {
  pid_t pid = -1;
  std::uint64_t start_time = 0;

  explicit InitStandIn(bool own_netns) {
    int ready[2] = {-1, -1};
    REQUIRE(pipe(ready) == 0);
    pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      if (own_netns && unshare(CLONE_NEWNET) != 0) {
        _exit(1);
      }
      (void)!write(ready[1], "r", 1);
      pause();
      _exit(0);
    }
    close(ready[1]);
    char byte = 0;
    const bool started = read(ready[0], &byte, 1) == 1;
    close(ready[0]);
    REQUIRE(started);
    start_time = boxd::local::read_proc_stat(pid)->start_time;
  }
  ~InitStandIn() {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
  InitStandIn(const InitStandIn&) = delete;
  InitStandIn& operator=(const InitStandIn&) = delete;

  // Whether a link of this name is in the stand-in's network namespace.
  bool has_link(const std::string& name) const {
    const int netns = open(("/proc/" + std::to_string(pid) + "/ns/net").c_str(), O_RDONLY);
    REQUIRE(netns >= 0);
    int index = 0;
    boxd::local::netlink::in_netns(netns,
                                   [&] { index = boxd::local::netlink::Route().index(name); });
    close(netns);
    return index != 0;
  }
};

// This server's veth prefix, bxv<hash>, from the bridge's name bxd-<hash>.
std::string veth_prefix(const BoxNetwork& network) {
  const std::string detail = network.isolation().front().detail;
  const auto at = detail.find("bxd-");
  REQUIRE(at != std::string::npos);
  return "bxv" + detail.substr(at + 4, 6);
}

// True when this process can set up a box network (root, and the host
// allows it); says why not.
bool box_network_here(const BoxNetwork& network) {
  if (geteuid() != 0) {
    MESSAGE("not root: no box network; skipped");
    return false;
  }
  if (!network.enabled()) {
    MESSAGE("no box network here (" << network.isolation().front().detail << "); skipped");
    return false;
  }
  return true;
}

}  // namespace

TEST_CASE("box network: parse_cidr accepts a private prefix and prints it back") {
  const Ipv4Net net = parse_cidr("10.64.3.0/24");
  CHECK(net.prefix == 24);
  CHECK(net.str() == "10.64.3.0/24");
  CHECK(net.mask() == 0xffffff00U);
  CHECK(parse_cidr("192.168.77.16/28").str() == "192.168.77.16/28");
}

TEST_CASE("box network: parse_cidr refuses what it cannot use") {
  for (const char* bad : {"10.64.3.0", "10.64.3.1/24", "10.64.3.0/8", "10.64.3.0/30", "10.64.3.0/",
                          "10.64.3.0/2x", "host/24", "10.64.300.0/24"}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(parse_cidr(bad), Error);
  }
}

TEST_CASE("box network: overlaps") {
  const Ipv4Net a = parse_cidr("10.64.3.0/24");
  CHECK(a.overlaps(parse_cidr("10.64.0.0/16")));
  CHECK(parse_cidr("10.64.0.0/16").overlaps(a));
  CHECK(a.overlaps(a));
  CHECK_FALSE(a.overlaps(parse_cidr("10.64.4.0/24")));
  CHECK_FALSE(a.overlaps(parse_cidr("10.64.2.0/24")));
  CHECK(parse_cidr("10.255.255.0/24").overlaps(parse_cidr("10.255.0.0/16")));
}

TEST_CASE("box network: disabled without a state dir") {
  boxd::local::BoxNetwork network({}, "");
  CHECK_FALSE(network.enabled());
  CHECK(network.clone_flags() == 0);
  CHECK(network.address("anything").empty());
  const auto layers = network.isolation();
  REQUIRE(!layers.empty());
  CHECK(layers[0].name == "network namespace");
  CHECK_FALSE(layers[0].enforced);
}

TEST_CASE("box network: a box in the server's own network namespace is refused, nothing set up") {
  boxd::local::test::TempDir dir;
  BoxNetwork network(dir.path(), "");
  if (!box_network_here(network)) {
    return;
  }
  const InitStandIn shared(false);
  std::string message;
  try {
    network.attach(BoxSpec{"shared-netns", "shared", dir.path(), {}, {}, {}}, shared.pid,
                   shared.start_time);
  } catch (const Error& e) {
    message = e.what();
  }
  CHECK(message.find("in the server's own network namespace") != std::string::npos);
  CHECK(links_with_prefix(veth_prefix(network)).empty());
  CHECK(network.address("shared-netns").empty());
}

TEST_CASE("box network: two boxes whose ids hash alike get host veths of their own") {
  boxd::local::test::TempDir dir;
  BoxNetwork network(dir.path(), "");
  if (!box_network_here(network)) {
    return;
  }
  // The last 6 hex digits of their ids' FNV-1a hashes are equal (f1f4b0).
  const BoxSpec first{"box-collide-3919", "first", dir.path(), {}, {}, {}};
  const BoxSpec second{"box-collide-14102", "second", dir.path(), {}, {}, {}};
  const InitStandIn first_init(true);
  const InitStandIn second_init(true);
  const auto host_hosts = boxd::read_file("/etc/hosts");
  network.attach(first, first_init.pid, first_init.start_time);
  network.attach(second, second_init.pid, second_init.start_time);
  // The stand-ins' root is the host's: their /etc/hosts is not written (it
  // would be the host's own).
  network.publish(first);
  network.publish(second);
  CHECK(boxd::read_file("/etc/hosts") == host_hosts);
  const std::string prefix = veth_prefix(network);
  CHECK(links_with_prefix(prefix).size() == 2);
  CHECK(first_init.has_link("eth0"));
  CHECK(second_init.has_link("eth0"));
  CHECK(!network.address(first.id).empty());
  CHECK(network.address(first.id) != network.address(second.id));
  network.detach(first, first_init.pid);
  CHECK(links_with_prefix(prefix).size() == 1);  // the second box's stays
  CHECK(second_init.has_link("eth0"));
  network.detach(second, second_init.pid);
  CHECK(links_with_prefix(prefix).empty());
}
