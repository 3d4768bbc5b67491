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

TEST_CASE("networks: a user's networks stop at the record limit, others' go on") {
  test::TempDir dir;
  Store store(dir.path());
  store.set_record_limit(4);
  Networks networks(store);
  for (int i = 1; i <= 3; ++i) {  // with the default network: 4
    networks.create("alice", "n" + std::to_string(i));
  }
  CHECK(failure_of([&] { networks.create("alice", "n4"); }) ==
        std::pair{Fault::ResourceExhausted,
                  std::string("quota exceeded: at most 4 networks (the server's --max-records)")});
  CHECK(networks.list("alice").size() == 4);
  CHECK(networks.create("bob", "n1").owner == "bob");
}

TEST_CASE("networks: the first free subnet, past thousands of others' networks") {
  test::TempDir dir;
  Store store(dir.path());
  // 20,000 networks of another user (a state dir from before the limit
  // could hold that many): a create takes the first free /24. (How long
  // that takes is test_dos.py's business.)
  store.update([](StoreData& data) {
    for (int n = 0; n < 20000; ++n) {
      data.networks.push_back(NetworkRecord{
          "net-" + std::to_string(n), "x" + std::to_string(n), "mallory",
          "10." + std::to_string(100 + n / 256) + "." + std::to_string(n % 256) + ".0/24", 0});
    }
  });
  Networks networks(store);
  const auto made = networks.create("alice", "dev");
  CHECK(made.subnet == "10.178.33.0/24");  // 20,000 = 78 * 256 + 32, the default took .32
  CHECK(networks.list("alice")[0].record.subnet == "10.178.32.0/24");
}
