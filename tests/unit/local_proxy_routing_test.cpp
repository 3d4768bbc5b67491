// BoxdService::route_host (Proxies::route, proxies.cpp) on the process
// runtime, through the service as the HTTP proxy calls it: box URLs name
// the owner, a URL reaches only its owner's box, the server's own ports are
// refused.
#include <doctest/doctest.h>

#include "local/auth.hpp"
#include "local/service.hpp"
#include "local/store.hpp"
#include "local_test_support.hpp"

using namespace boxd::local;

namespace {

struct Routing {
  test::TempDir dir;
  Store store{dir.path()};
  Auth auth{store, {{"bxd_alice", "alice"}, {"bxd_bob", "bob"}}, 600};
  std::unique_ptr<Runtime> runtime = make_runtime("process");
  std::unique_ptr<BoxdService> service;

  Routing() {
    ServiceOptions options;
    options.state_dir = dir.path();
    options.proxy_port = 9480;
    service = std::make_unique<BoxdService>(options, store, auth, *runtime);
    service->set_server_ports({{9443, "gRPC"}, {9444, "key exchange"}, {9480, "HTTP proxy"}});
  }

  // A box record as the store keeps it, with its default proxy locked to `port`.
  void add(const std::string& id, const std::string& owner, const std::string& name,
           const std::string& status, std::uint32_t port) {
    store.update([&](StoreData& data) {
      BoxRecord box;
      box.id = id;
      box.owner = owner;
      box.name = name;
      box.status = parse_box_status(status).value();
      box.created_at = static_cast<std::int64_t>(data.boxes.size());
      data.boxes.push_back(box);
      data.proxies.push_back(ProxyRecord{id, "", port});
      data.proxies.push_back(ProxyRecord{id, "api", port + 1});
    });
  }
};

}  // namespace

TEST_CASE("routing: the same box name of two users routes to each owner's box") {
  Routing r;
  r.add("vm-a", "alice", "web", "running", 5001);
  r.add("vm-b", "bob", "web", "running", 6001);
  CHECK(r.service->route_host("web.alice.localhost").port == 5001);
  CHECK(r.service->route_host("web.bob.localhost").port == 6001);
  CHECK(r.service->route_host("api.web.alice.localhost").port == 5002);
  CHECK(r.service->route_host("api.web.bob.localhost").port == 6002);
  CHECK(r.service->route_host("web.alice.localhost").address == "127.0.0.1");
  // The box name alone, an unknown owner, or too many labels: nobody's box.
  for (const char* host : {"web.localhost", "web.carol.localhost", "x.api.web.alice.localhost",
                           "alice.localhost", "localhost", "web.alice.example.com"}) {
    CAPTURE(host);
    const auto route = r.service->route_host(host);
    CHECK(route.port == 0);
    CHECK(route.status == 404);
  }
}

TEST_CASE("routing: a stopped box's URL never falls through to another user's box") {
  Routing r;
  r.add("vm-a", "alice", "web", "stopped", 5001);
  r.add("vm-b", "bob", "web", "running", 6001);
  const auto route = r.service->route_host("web.alice.localhost");
  CHECK(route.port == 0);
  CHECK(route.status == 503);
  CHECK(r.service->route_host("web.bob.localhost").port == 6001);
}

TEST_CASE("routing: the server's own ports are refused on the loopback") {
  Routing r;
  r.add("vm-a", "alice", "web", "running", 9443);
  r.add("vm-b", "alice", "db", "running", 9479);  // its "api" proxy: 9480, the proxy itself
  auto route = r.service->route_host("web.alice.localhost");
  CHECK(route.port == 0);
  CHECK(route.status == 403);
  CHECK(route.message.find("gRPC") != std::string::npos);
  route = r.service->route_host("api.db.alice.localhost");
  CHECK(route.port == 0);
  CHECK(route.message.find("HTTP proxy") != std::string::npos);
  CHECK(r.service->route_host("db.alice.localhost").port == 9479);
}

TEST_CASE("routing: a bound domain routes to its box, not a namesake") {
  Routing r;
  r.add("vm-a", "alice", "web", "running", 5001);
  r.add("vm-b", "bob", "web", "running", 6001);
  r.store.update([](StoreData& data) {
    data.domains.push_back(DomainRecord{"app.example.com", "bob", "vm-b", 0});
  });
  CHECK(r.service->route_host("app.example.com").port == 6001);
  CHECK(r.service->route_host("other.example.com").status == 404);
}
