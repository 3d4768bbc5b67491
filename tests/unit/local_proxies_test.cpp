// The domain layer's proxy rules and Host-header routing (proxies.hpp) on
// the in-memory runtime (fake_runtime.hpp), whose boxes are reached on the
// host's loopback: the server's own ports are refused, a host routes only
// to its owner's box, traffic wakes a box suspended for being idle.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "fake_runtime.hpp"
#include "local/boxes.hpp"
#include "local/fault.hpp"
#include "local/proxies.hpp"
#include "local/store.hpp"
#include "local_fault_support.hpp"
#include "local_test_support.hpp"

using namespace boxd::local;
using boxd::local::test::failure_of;

namespace {

struct ProxyWorld {
  test::TempDir dir;
  Store store{dir.path()};
  test::FakeRuntime runtime;
  Boxes boxes{BoxesOptions{dir.path(), 50, 2048}, store, runtime};
  std::vector<std::string> traffic;  // box ids the proxy routed to
  Proxies proxies{ProxiesOptions{9480, "http"}, store, boxes,
                  [this](const std::string& id) { traffic.push_back(id); }};

  ProxyWorld() { proxies.set_server_ports({{9443, "gRPC"}, {9444, "key exchange"}}); }

  BoxRecord create_box(const std::string& user, const std::string& name) {
    BoxRecord box = boxes.draft(user, BoxDraft{name, {}, {}, {}, {}});
    boxes.create(box);
    return boxes.require(user, name);
  }
};

}  // namespace

TEST_CASE("proxies: a box's URL and access domain name its owner") {
  ProxyWorld w;
  const auto box = w.create_box("alice", "web");
  CHECK(w.proxies.url_of(box) == "http://web.alice.localhost:9480");
  const auto access = w.proxies.access_of(box.id);
  CHECK(access.access_domain == "alice.localhost:9480");
  CHECK(access.custom_domains.empty());
  CHECK_FALSE(w.proxies.access_of("no-such-id").access_domain.has_value());
}

TEST_CASE("proxies: a port of the server itself is refused, INVALID_ARGUMENT") {
  ProxyWorld w;
  w.create_box("alice", "web");
  CHECK(failure_of([&] { w.proxies.create("alice", "web", "api", 9480); }) ==
        std::pair{Fault::InvalidArgument,
                  std::string("port 9480 is this boxd server's own port (HTTP proxy), not a port "
                              "of VM 'web': use another port")});
  CHECK(failure_of([&] { w.proxies.set_port("alice", "web", "", "9443"); }).first ==
        Fault::InvalidArgument);
  CHECK(failure_of([&] { w.proxies.expose("alice", "web", "tcp", 9444); }).first ==
        Fault::InvalidArgument);
  CHECK(w.proxies.list("alice", "web").size() == 1);  // nothing was recorded
}

TEST_CASE("proxies: ports and names are checked") {
  ProxyWorld w;
  w.create_box("alice", "web");
  CHECK(failure_of([&] { w.proxies.create("alice", "web", "api", 0); }) ==
        std::pair{Fault::InvalidArgument, std::string("invalid port 0: use 1-65535")});
  CHECK(failure_of([&] { w.proxies.create("alice", "web", "", 3000); }).first ==
        Fault::InvalidArgument);
  CHECK(failure_of([&] { w.proxies.create("alice", "web", "Bad_Name", 3000); }).first ==
        Fault::InvalidArgument);
  CHECK(
      failure_of([&] { w.proxies.set_port("alice", "web", "", "http"); }) ==
      std::pair{Fault::InvalidArgument, std::string("invalid port 'http': use 1-65535 or 'auto'")});
  CHECK(failure_of([&] { w.proxies.set_port("alice", "web", "", "65536"); }).first ==
        Fault::InvalidArgument);
  w.proxies.create("alice", "web", "api", 3000);
  CHECK(failure_of([&] { w.proxies.set_port("alice", "web", "api", "auto"); }).first ==
        Fault::InvalidArgument);
  CHECK(failure_of([&] { w.proxies.create("alice", "web", "api", 3001); }) ==
        std::pair{Fault::AlreadyExists, std::string("proxy 'api' already exists on VM 'web'")});
  CHECK(failure_of([&] { w.proxies.set_port("alice", "web", "nope", "3002"); }) ==
        std::pair{Fault::NotFound, std::string("proxy 'nope' not found on VM 'web'")});
  CHECK(failure_of([&] { w.proxies.remove("alice", "web", ""); }).first ==
        Fault::FailedPrecondition);
  CHECK(failure_of([&] { w.proxies.create("bob", "web", "x", 3000); }) ==
        std::pair{Fault::NotFound, std::string("VM 'web' not found")});
}

TEST_CASE("proxies: the list has the default proxy (auto until set), then the named ones") {
  ProxyWorld w;
  w.create_box("alice", "web");
  w.create_box("alice", "zdb");  // after "web" by time or, in one second, by name
  w.proxies.create("alice", "web", "zeta", 3002);
  w.proxies.create("alice", "web", "alpha", 3001);
  auto all = w.proxies.list("alice", "");
  REQUIRE(all.size() == 4);
  CHECK(all[0].is_default);
  CHECK(all[0].box_name == "web");
  CHECK(all[0].port == 8080);
  CHECK_FALSE(all[0].locked);
  CHECK(all[0].domain == "web.alice.localhost:9480");
  CHECK(all[1].name == "alpha");
  CHECK(all[1].domain == "alpha.web.alice.localhost:9480");
  CHECK(all[2].name == "zeta");
  CHECK(all[3].box_name == "zdb");

  w.proxies.set_port("alice", "web", "", "5000");
  all = w.proxies.list("alice", "web");
  CHECK(all[0].port == 5000);
  CHECK(all[0].locked);
  w.proxies.set_port("alice", "web", "", "auto");
  CHECK_FALSE(w.proxies.list("alice", "web")[0].locked);
  w.proxies.remove("alice", "web", "zeta");
  CHECK(w.proxies.list("alice", "web").size() == 2);
  CHECK(w.proxies.list("bob", "").empty());
}

TEST_CASE("proxies: expose makes a port-N proxy once; udp is refused") {
  ProxyWorld w;
  w.create_box("alice", "web");
  CHECK(failure_of([&] { w.proxies.expose("alice", "web", "udp", 53); }).first ==
        Fault::InvalidArgument);
  CHECK(failure_of([&] { w.proxies.expose("alice", "web", "sctp", 53); }).first ==
        Fault::InvalidArgument);
  const auto exposed = w.proxies.expose("alice", "web", "", 3000);
  CHECK(exposed.dns == "port-3000.web.alice.localhost");
  CHECK(exposed.public_port == 9480);
  CHECK(exposed.protocol == "tcp");
  w.proxies.expose("alice", "web", "tcp", 3000);
  CHECK(w.proxies.list("alice", "web").size() == 2);
}

TEST_CASE("proxies: a host routes only to its owner's box") {
  ProxyWorld w;
  const auto alices = w.create_box("alice", "web");
  w.create_box("bob", "web");
  w.proxies.set_port("alice", "web", "", "5001");
  w.proxies.set_port("bob", "web", "", "6001");
  w.proxies.create("alice", "web", "api", 5002);
  CHECK(w.proxies.route("web.alice.localhost").port == 5001);
  CHECK(w.proxies.route("web.bob.localhost").port == 6001);
  CHECK(w.proxies.route("web.alice.localhost").address == "127.0.0.1");
  CHECK(w.proxies.route("api.web.alice.localhost").port == 5002);
  const auto missing = w.proxies.route("api.web.bob.localhost");
  CHECK(missing.port == 0);
  CHECK(missing.status == 404);
  CHECK(missing.message == "no proxy 'api' on box 'web'");
  for (const char* host : {"web.localhost", "web.carol.localhost", "alice.localhost",
                           "x.api.web.alice.localhost", "app.example.com"}) {
    CAPTURE(host);
    CHECK(w.proxies.route(host).status == 404);
  }
  CHECK(w.traffic.size() == 5);  // each routed request restarted its box's idle clock
  CHECK(w.traffic[0] == alices.id);

  w.boxes.stop("alice", "web");
  const auto stopped = w.proxies.route("web.alice.localhost");
  CHECK(stopped.port == 0);
  CHECK(stopped.status == 503);
  CHECK(stopped.message == "box 'web' is stopped");
}

TEST_CASE("proxies: a port that became the server's own is refused when routed (403)") {
  ProxyWorld w;
  w.create_box("alice", "web");
  w.proxies.set_port("alice", "web", "", "7000");
  w.proxies.set_server_ports({{7000, "gRPC"}});
  const auto route = w.proxies.route("web.alice.localhost");
  CHECK(route.port == 0);
  CHECK(route.status == 403);
  CHECK(route.message == "port 7000 of box 'web' is this boxd server's own port (gRPC)");
}

TEST_CASE("proxies: traffic wakes a box suspended for being idle, not one suspended by hand") {
  ProxyWorld w;
  const auto box = w.create_box("alice", "web");
  w.boxes.suspend("alice", "web");
  CHECK(w.proxies.route("web.alice.localhost").status == 503);
  CHECK(w.runtime.frozen.count(box.id) == 1);

  w.boxes.set_auto_suspend("alice", "web", 60);
  const auto route = w.proxies.route("web.alice.localhost");
  CHECK(route.port == 8080);
  CHECK(w.runtime.frozen.count(box.id) == 0);
  CHECK(w.boxes.require("alice", "web").status == BoxStatus::Running);
}

TEST_CASE("proxies: bot protection is a flag of the box the route carries") {
  ProxyWorld w;
  w.create_box("alice", "web");
  CHECK_FALSE(w.proxies.route("web.alice.localhost").refuse_bots);
  w.proxies.set_bot_protection("alice", "web", true);
  CHECK(w.proxies.route("web.alice.localhost").refuse_bots);
  CHECK(w.proxies.list("alice", "web")[0].bot_protection);
  CHECK(failure_of([&] { w.proxies.set_bot_protection("bob", "web", true); }).first ==
        Fault::NotFound);
}

TEST_CASE("proxies: a bound domain routes to its box and shows in its access data") {
  ProxyWorld w;
  w.create_box("alice", "web");
  const auto bobs = w.create_box("bob", "web");
  w.proxies.set_port("bob", "web", "", "6001");
  w.store.update([&](StoreData& data) {
    data.domains.push_back(DomainRecord{"app.example.com", "bob", bobs.id, 0});
  });
  CHECK(w.proxies.route("app.example.com").port == 6001);
  CHECK(w.proxies.access_of(bobs.id).custom_domains == std::vector<std::string>{"app.example.com"});
  // ListVms' one pass over all boxes says the same as access_of() per box.
  const auto all = w.proxies.access_of_all();
  CHECK(all.size() == 2);
  for (const auto& [id, access] : all) {
    const auto one = w.proxies.access_of(id);
    CHECK(access.access_domain == one.access_domain);
    CHECK(access.custom_domains == one.custom_domains);
  }
  CHECK(all.at(bobs.id).custom_domains == std::vector<std::string>{"app.example.com"});
}
