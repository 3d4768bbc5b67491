// Subnet parsing and overlap of the box network (box_network.hpp); the
// bridge itself is exercised by tests/e2e/test_box_network.py.
#include "common/error.hpp"
#include "local/box_network.hpp"

#include <doctest/doctest.h>

using boxd::Error;
using boxd::local::Ipv4Net;
using boxd::local::parse_cidr;

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
