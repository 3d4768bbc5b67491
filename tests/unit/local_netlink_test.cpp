// rtnetlink steps of lib/local/netlink.hpp, each in fresh network namespaces
// (unshare on a thread of its own, so the test process keeps its own), the
// results read back with `ip -j` run inside them. Needs root (CAP_NET_ADMIN
// and unshare); skipped without it.
#include "common/error.hpp"
#include "common/unique_fd.hpp"
#include "local/netlink.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>

namespace {

namespace netlink = boxd::local::netlink;

// A new, empty network namespace (only lo, down), kept alive by the fd;
// invalid when this process may not make one.
boxd::UniqueFd netlink_test_netns() {
  boxd::UniqueFd fd;
  std::thread maker([&fd] {
    if (unshare(CLONE_NEWNET) == 0) {
      fd.reset(open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
    }
  });
  maker.join();
  return fd;
}

std::string netlink_test_output(const std::string& command) {
  std::string text;
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[4096];
  std::size_t got = 0;
  while ((got = fread(buffer, 1, sizeof buffer, pipe)) > 0) {
    text.append(buffer, got);
  }
  pclose(pipe);
  return text;
}

// `ip -j ARGS` inside the namespace netns refers to (a child of the thread
// that joined it runs there too).
nlohmann::json netlink_test_ip(int netns, const std::string& args) {
  std::string text;
  netlink::in_netns(netns, [&] { text = netlink_test_output("ip -j " + args + " 2>/dev/null"); });
  return text.empty() ? nlohmann::json::array() : nlohmann::json::parse(text);
}

bool netlink_test_has(const nlohmann::json& list, const std::string& wanted) {
  for (const auto& item : list) {
    if (item == wanted) {
      return true;
    }
  }
  return false;
}

// Both namespaces made and `ip` there to read them back; says why not.
bool netlink_test_can_run(const boxd::UniqueFd& host, const boxd::UniqueFd& box) {
  if (host.valid() && box.valid() && system("ip -V >/dev/null 2>&1") == 0) {
    return true;
  }
  MESSAGE("skipped: needs root (unshare CLONE_NEWNET) and iproute2");
  return false;
}

constexpr std::uint32_t k_gateway = (10U << 24) | (9U << 16) | 1U;  // 10.9.0.1
constexpr std::uint32_t k_box = (10U << 24) | (9U << 16) | 2U;      // 10.9.0.2

}  // namespace

TEST_CASE("netlink: a veth into another namespace, on an isolated bridge port, addressed") {
  const boxd::UniqueFd host = netlink_test_netns();
  const boxd::UniqueFd box = netlink_test_netns();
  if (!netlink_test_can_run(host, box)) {
    return;
  }
  netlink::in_netns(host.get(), [&] {
    netlink::Route route;
    route.add_bridge("br0");
    route.set_up("br0");
    route.add_address("br0", k_gateway, 24);
    route.add_veth("v0", "eth0", box.get());
    route.set_master("v0", "br0");
    route.set_isolated("v0");
    route.set_up("v0");
    CHECK(route.index("v0") > 0);
    CHECK(route.index("eth0") == 0);  // the peer went to the other namespace
    CHECK(route.index("nothing") == 0);
  });
  std::string port_start;
  netlink::in_netns(box.get(), [&] {
    netlink::Route route;
    route.set_up("lo");
    route.add_address("eth0", k_box, 24);
    route.set_up("eth0");
    route.add_default_route(k_gateway);
    CHECK(netlink::write_sysctl("net/ipv4/ip_unprivileged_port_start", "0"));
    std::ifstream("/proc/sys/net/ipv4/ip_unprivileged_port_start") >> port_start;
  });
  CHECK(port_start == "0");
  std::string ours;
  std::ifstream("/proc/sys/net/ipv4/ip_unprivileged_port_start") >> ours;
  CHECK(ours != "0");  // the test's own namespace is untouched

  const auto port = netlink_test_ip(host.get(), "-d link show v0").at(0);
  CHECK(port.value("master", "") == "br0");
  CHECK(netlink_test_has(port.at("flags"), "UP"));
  CHECK(port.at("linkinfo").value("info_kind", "") == "veth");
  CHECK(port.at("linkinfo").at("info_slave_data").value("isolated", false));
  const auto bridge = netlink_test_ip(host.get(), "addr show br0").at(0);
  CHECK(bridge.at("addr_info").at(0).value("local", "") == "10.9.0.1");

  const auto eth0 = netlink_test_ip(box.get(), "addr show eth0").at(0);
  CHECK(netlink_test_has(eth0.at("flags"), "UP"));
  CHECK(eth0.at("addr_info").at(0).value("local", "") == "10.9.0.2");
  CHECK(eth0.at("addr_info").at(0).value("prefixlen", 0) == 24);
  const auto lo = netlink_test_ip(box.get(), "link show lo").at(0);
  CHECK(netlink_test_has(lo.at("flags"), "UP"));
  const auto routes = netlink_test_ip(box.get(), "route show default");
  REQUIRE(routes.size() == 1);
  CHECK(routes.at(0).value("gateway", "") == "10.9.0.1");
  CHECK(routes.at(0).value("dev", "") == "eth0");
}

TEST_CASE("netlink: errors name the step and the kernel's reason; delete and flush") {
  const boxd::UniqueFd host = netlink_test_netns();
  const boxd::UniqueFd box = netlink_test_netns();
  if (!netlink_test_can_run(host, box)) {
    return;
  }
  netlink::in_netns(host.get(), [&] {
    netlink::Route route;
    route.add_bridge("br1");
    route.add_address("br1", k_gateway, 24);
    route.add_address("br1", k_box, 24);
    route.flush_addresses("br1");
    route.add_veth("v1", "eth0", box.get());
    try {
      route.add_veth("v1", "eth1", box.get());
      FAIL("a second v1 was made");
    } catch (const boxd::Error& e) {
      CHECK(std::string(e.what()).find("netlink: add veth v1 (peer eth1): File exists") == 0);
    }
    CHECK_THROWS_AS(route.set_up("nothing"), boxd::Error);
    CHECK(route.delete_link("v1"));
    CHECK_FALSE(route.delete_link("v1"));
    CHECK(route.index("v1") == 0);
  });
  CHECK(netlink_test_ip(host.get(), "addr show br1").at(0).at("addr_info").empty());
  // The peer went with its pair.
  CHECK(netlink_test_ip(box.get(), "link show eth0").empty());
  CHECK_THROWS_WITH_AS(
      netlink::in_netns(box.get(), [] { throw boxd::Error(boxd::ErrorClass::Internal, "x"); }), "x",
      boxd::Error);
}

// The attack: any process may send to a netlink port it reads from
// /proc/net/netlink. A forged RTM_NEWLINK answer plus an ACK, with the next
// sequence number, queued before the server's own request, would make
// index("lo") return the attacker's choice (then enslaved to a box bridge).
TEST_CASE("netlink: a Route takes answers from the kernel only, not a forged one") {
  netlink::Route route;
  const std::uint32_t port = route.port_id();
  REQUIRE(port != 0);
  boxd::UniqueFd attacker(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  REQUIRE(attacker.valid());
  struct {
    nlmsghdr link_header;
    ifinfomsg link;
    nlmsghdr ack_header;
    nlmsgerr ack;
  } forged{};
  forged.link_header.nlmsg_len = NLMSG_LENGTH(sizeof(ifinfomsg));
  forged.link_header.nlmsg_type = RTM_NEWLINK;
  forged.link_header.nlmsg_seq = 1;  // the Route's first request
  forged.link_header.nlmsg_pid = port;
  forged.link.ifi_index = 4242;
  forged.ack_header.nlmsg_len = NLMSG_LENGTH(sizeof(nlmsgerr));
  forged.ack_header.nlmsg_type = NLMSG_ERROR;
  forged.ack_header.nlmsg_seq = 1;
  forged.ack_header.nlmsg_pid = port;
  sockaddr_nl target{};
  target.nl_family = AF_NETLINK;
  target.nl_pid = port;
  const ssize_t sent = sendto(attacker.get(), &forged, sizeof forged, 0,
                              reinterpret_cast<sockaddr*>(&target), sizeof target);
  const int error = errno;
  CHECK(sent < 0);
  CHECK(error == ECONNREFUSED);
  CHECK(route.index("lo") == 1);  // the kernel's answer, not 4242
}

// A dump comes in parts, one per read; the kernel flags the parts made after
// a change of the table (NLM_F_DUMP_INTR), as a change between parts can make
// the dump skip or repeat an entry. Here `ip -batch` adds and removes a
// host-scope address, which goes to the head of br2's list, while
// flush_addresses dumps the 2000 other addresses of br2: each change shifts
// them by one between two parts. An interrupted dump must be asked again (or
// the flush fail saying so), never acted on: no address may be left behind.
TEST_CASE("netlink: a dump interrupted by a change is asked again, not used") {
  const boxd::UniqueFd host = netlink_test_netns();
  if (!netlink_test_can_run(host, host) || system("timeout --version >/dev/null 2>&1") != 0) {
    return;
  }
  constexpr int k_addresses = 2000;
  netlink::in_netns(host.get(), [] { netlink::Route().add_bridge("br2"); });
  std::atomic<bool> churning{true};
  std::thread churn([&] {
    netlink::in_netns(host.get(), [] {
      (void)!system(
          "timeout 4 sh -c 'while :; do echo addr add 10.201.0.1/32 dev br2 scope host; "
          "echo addr del 10.201.0.1/32 dev br2; done' | ip -force -batch - >/dev/null 2>&1");
    });
    churning = false;
  });
  int rounds = 0;
  int refused = 0;
  int left_behind = 0;
  while (churning) {
    ++rounds;
    bool flushed = false;
    netlink::in_netns(host.get(), [&] {
      netlink::Route route;
      for (int i = 0; i < k_addresses; ++i) {
        route.add_address("br2", (10U << 24) | (200U << 16) | static_cast<std::uint32_t>(i + 1),
                          32);
      }
      try {
        route.flush_addresses("br2");
        flushed = true;
      } catch (const boxd::Error& e) {
        CHECK(std::string(e.what()).find("interrupted") != std::string::npos);
        ++refused;
      }
    });
    int left = 0;
    for (const auto& link : netlink_test_ip(host.get(), "-4 addr show br2")) {
      for (const auto& address : link.at("addr_info")) {
        left += address.value("local", "").rfind("10.200.", 0) == 0 ? 1 : 0;
      }
    }
    if (left > 0) {
      left_behind += flushed ? 1 : 0;
      netlink::in_netns(host.get(), [] { (void)!system("ip addr flush dev br2"); });
    }
  }
  churn.join();
  MESSAGE(rounds << " flushes, " << refused << " refused as interrupted, " << left_behind
                 << " done but left addresses behind");
  CHECK(left_behind == 0);
}
