// UserSlots (stream_limits.hpp): per-user and server-wide caps on open
// streams. The stall
// watch needs a live gRPC call; tests/security/test_dos.py drives it.
#include <doctest/doctest.h>

#include <list>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "local/server.hpp"
#include "local/stream_limits.hpp"
#include "local_fault_support.hpp"

namespace boxd::local {
namespace {

TEST_CASE("user slots: each user has its own cap, and a slot given back is free again") {
  UserSlots slots(2, 100, "file transfers", "--max-user-streams", "--max-streams");
  std::vector<UserSlots::Slot> alice;
  alice.push_back(slots.take("alice"));
  alice.push_back(slots.take("alice"));
  CHECK(slots.in_use("alice") == 2);

  CHECK(test::failure_of([&] { slots.take("alice"); }) ==
        std::pair<Fault, std::string>{Fault::ResourceExhausted,
                                      "too many file transfers at once: 2 open for this user (the "
                                      "server's --max-user-streams); wait for one to end"});
  CHECK(slots.in_use("alice") == 2);  // the refused take holds nothing

  {
    const auto bob = slots.take("bob");  // alice at her cap does not touch bob
    CHECK(slots.in_use("bob") == 1);
  }
  CHECK(slots.in_use("bob") == 0);

  alice.pop_back();
  CHECK(slots.in_use("alice") == 1);
  alice.push_back(slots.take("alice"));
  CHECK(slots.in_use("alice") == 2);
  alice.clear();
  CHECK(slots.in_use("alice") == 0);
}

TEST_CASE("user slots: all users together stop at the server-wide cap") {
  UserSlots slots(2, 3, "exec sessions", "--max-user-execs", "--max-execs");
  std::list<UserSlots::Slot> held;
  held.push_back(slots.take("alice"));
  held.push_back(slots.take("alice"));
  held.push_back(slots.take("bob"));
  CHECK(slots.total_in_use() == 3);
  // bob holds one of his two, but the server holds three of three.
  CHECK(test::failure_of([&] { slots.take("bob"); }) ==
        std::pair<Fault, std::string>{Fault::ResourceExhausted,
                                      "too many exec sessions on this server: 3 open for all users "
                                      "together (the server's --max-execs); try again later"});
  CHECK(test::failure_of([&] { slots.take("carol"); }).first == Fault::ResourceExhausted);
  CHECK(slots.in_use("bob") == 1);  // refused takes hold nothing
  CHECK(slots.in_use("carol") == 0);
  CHECK(slots.total_in_use() == 3);
  // The user's own cap still speaks first.
  CHECK(test::failure_of([&] { slots.take("alice"); }).second.find("for this user") !=
        std::string::npos);
  held.erase(held.begin());  // one of alice's
  CHECK(slots.total_in_use() == 2);
  held.push_back(slots.take("carol"));
  CHECK(slots.in_use("carol") == 1);
  held.clear();
  CHECK(slots.total_in_use() == 0);
}

TEST_CASE("stream caps: decided by the descriptor limit, given ones lowered to fit it") {
  const ServeOptions defaults;  // --max-execs and --max-streams 0: the server decides
  // The caps' descriptors (8 per exec, 6 per stream of either pool, 256
  // more), twice over: within the systemd unit's LimitNOFILE=65536.
  CHECK(wanted_fd_limit(defaults) == 2 * (8 * 2048 + 2 * 6 * 1024 + 256));
  CHECK(wanted_fd_limit(defaults) <= 65536);
  const ServeOptions full = fit_stream_caps(defaults, 65536);
  CHECK(full.max_execs == 2048);
  CHECK(full.max_streams == 1024);
  CHECK(full.max_user_execs == defaults.max_user_execs);
  CHECK(full.max_user_streams == defaults.max_user_streams);
  // A limit of 1024 (sudo, no unit): half of it, less 256, for streams.
  const ServeOptions low = fit_stream_caps(defaults, 1024);
  CHECK(8 * low.max_execs + 12 * low.max_streams <= 1024 / 2 - 256);
  CHECK(low.max_execs >= 1);
  CHECK(low.max_streams >= 1);
  CHECK(low.max_user_execs <= low.max_execs);
  CHECK(low.max_user_streams <= low.max_streams);
  // Given caps are kept when they fit, lowered when they do not.
  ServeOptions given;
  given.max_execs = 100;
  given.max_streams = 10;
  CHECK(fit_stream_caps(given, 65536).max_execs == 100);
  CHECK(fit_stream_caps(given, 65536).max_user_execs == 100);  // at most the server's
  CHECK(fit_stream_caps(given, 1024).max_execs < 100);
  // Nothing left but the caps' floor of one each.
  const ServeOptions none = fit_stream_caps(defaults, 100);
  CHECK(none.max_execs == 1);
  CHECK(none.max_streams == 1);
  CHECK(none.max_user_execs == 1);
}

TEST_CASE("user slots: a moved slot is given back once") {
  UserSlots slots(1, 100, "exec sessions", "--max-user-execs", "--max-execs");
  std::optional<UserSlots::Slot> moved;
  {
    auto slot = slots.take("alice");
    moved.emplace(std::move(slot));
  }
  CHECK(slots.in_use("alice") == 1);
  moved.reset();
  CHECK(slots.in_use("alice") == 0);
  CHECK_NOTHROW(slots.take("alice"));
}

TEST_CASE("connection caps: a quarter of the descriptor limit, at most 4096; one user's within") {
  const ServeOptions defaults;  // --max-connections 0: the server decides
  const ServeOptions full = fit_stream_caps(defaults, 65536);
  CHECK(full.max_connections == 4096);
  CHECK(full.max_user_connections == defaults.max_user_connections);
  const ServeOptions low = fit_stream_caps(defaults, 1024);
  CHECK(low.max_connections == 256);
  CHECK(low.max_user_connections == 128);  // half of a total the limit lowered
  ServeOptions given;
  given.max_connections = 100;
  given.max_user_connections = 10;
  CHECK(fit_stream_caps(given, 65536).max_connections == 100);
  CHECK(fit_stream_caps(given, 65536).max_user_connections == 10);
  CHECK(fit_stream_caps(given, 200).max_connections == 50);
  CHECK(fit_stream_caps(given, 200).max_user_connections == 10);
  given.max_user_connections = 100;
  CHECK(fit_stream_caps(given, 65536).max_user_connections == 100);  // all of a given total
  CHECK(fit_stream_caps(given, 200).max_user_connections == 25);
  CHECK(fit_stream_caps(defaults, 3).max_connections == 1);
}

}  // namespace
}  // namespace boxd::local
