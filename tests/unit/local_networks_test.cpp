// The domain layer's network rules (networks.hpp): every user's default
// network, names and subnets, resolving a create request's networks.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "local/fault.hpp"
#include "local/networks.hpp"
#include "local/store.hpp"
#include "local_fault_support.hpp"
#include "local_test_support.hpp"

using namespace boxd::local;
using boxd::local::test::failure_of;

TEST_CASE("networks: the default network is made once per user, ready at once") {
  test::TempDir dir;
  Store store(dir.path());
  Networks networks(store);
  const auto id = networks.default_id("alice");
  CHECK(id.starts_with("net-"));
  CHECK(networks.default_id("alice") == id);
  CHECK(networks.default_id("bob") != id);
  const auto mine = networks.list("alice");
  REQUIRE(mine.size() == 1);
  CHECK(mine[0].record.name == "default");
  CHECK(mine[0].status == NetworkStatus::Ready);
}

TEST_CASE("networks: names are unique per user, subnets server-wide; new ones provision") {
  test::TempDir dir;
  Store store(dir.path());
  Networks networks(store);
  const auto dev = networks.create("alice", "dev");
  CHECK(dev.name == "dev");
  CHECK(failure_of([&] { networks.create("alice", "dev"); }) ==
        std::pair{Fault::AlreadyExists, std::string("network name 'dev' already exists")});
  CHECK(failure_of([&] { networks.create("alice", "Dev_1"); }).first == Fault::InvalidArgument);
  const auto bobs = networks.create("bob", "dev");
  CHECK(bobs.subnet != dev.subnet);
  const auto unnamed = networks.create("alice", "");
  CHECK(unnamed.name == unnamed.id);

  const auto mine = networks.list("alice");
  REQUIRE(mine.size() == 3);
  CHECK(mine[0].record.name == "default");  // made first, by create
  CHECK(mine[1].record.id == dev.id);
  CHECK(mine[1].status == NetworkStatus::Provisioning);
  std::vector<std::string> subnets;
  for (const auto& n : networks.list("alice")) {
    subnets.push_back(n.record.subnet);
  }
  CHECK(subnets[0] != subnets[1]);
  CHECK(subnets[1] != subnets[2]);
}

TEST_CASE("networks: a create request's networks resolve by name or id, each once, own only") {
  test::TempDir dir;
  Store store(dir.path());
  Networks networks(store);
  const auto dev = networks.create("alice", "dev");
  networks.create("bob", "secret");
  const auto refs = networks.resolve("alice", {"dev", dev.id, "default"});
  REQUIRE(refs.size() == 2);
  CHECK(refs[0].id == dev.id);
  CHECK(refs[0].subnet == dev.subnet);
  CHECK(refs[1].name == "default");
  CHECK(networks.resolve("carol", {"default"}).size() == 1);  // made on first use
  CHECK(failure_of([&] { networks.resolve("alice", {"secret"}); }) ==
        std::pair{Fault::NotFound, std::string("network 'secret' not found")});
  CHECK(networks.resolve("alice", {}).empty());
}
