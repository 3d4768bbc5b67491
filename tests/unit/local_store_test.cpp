#include <doctest/doctest.h>
#include <sys/stat.h>

#include "common/error.hpp"
#include "common/files.hpp"
#include "local/service.hpp"
#include "local/store.hpp"
#include "local_test_support.hpp"

using namespace boxd::local;

namespace {

BoxRecord sample_box() {
  BoxRecord b;
  b.id = "1234-abcd";
  b.name = "web-1";
  b.owner = "alice";
  b.status = BoxStatus::Running;
  b.vcpu = 4;
  b.memory_bytes = 16ULL << 30;
  b.env = {{"A", "1"}, {"B", "two words"}};
  b.cmd = {"sleep", "10"};
  b.created_at = 1700000000;
  b.boot_time_ms = 42;
  b.source = "fork/web";
  b.forked_from = "web";
  b.handle.init_pid = 4321;
  b.handle.init_start_time = 987654321ULL;
  return b;
}

}  // namespace

TEST_CASE("store document round-trips every field") {
  StoreData data;
  data.boxes.push_back(sample_box());
  data.tokens.push_back(TokenRecord{"jti1", "alice", 10, 20});
  data.revoked["jti0"] = 99;
  const auto back = store_from_json(store_to_json(data));
  REQUIRE(back.boxes.size() == 1);
  const auto& b = back.boxes[0];
  CHECK(b.id == "1234-abcd");
  CHECK(b.name == "web-1");
  CHECK(b.owner == "alice");
  CHECK(b.status == BoxStatus::Running);
  CHECK(b.vcpu == 4);
  CHECK(b.memory_bytes == (16ULL << 30));
  CHECK(b.env == std::vector<std::pair<std::string, std::string>>{{"A", "1"}, {"B", "two words"}});
  CHECK(b.cmd == std::vector<std::string>{"sleep", "10"});
  CHECK(b.created_at == 1700000000);
  CHECK(b.boot_time_ms == 42);
  CHECK(b.source == "fork/web");
  CHECK(b.forked_from == "web");
  CHECK(b.handle.init_pid == 4321);
  CHECK(b.handle.init_start_time == 987654321ULL);
  REQUIRE(back.tokens.size() == 1);
  CHECK(back.tokens[0].jti == "jti1");
  CHECK(back.tokens[0].expires_at == 20);
  CHECK(back.revoked.at("jti0") == 99);
}

TEST_CASE("a corrupt state document is an error, not an empty state") {
  CHECK_THROWS_AS(store_from_json("{not json"), boxd::Error);
}

TEST_CASE("store persists each update atomically with mode 0600") {
  test::TempDir dir;
  {
    Store store(dir.path());
    store.update([](StoreData& d) { d.boxes.push_back(sample_box()); });
  }
  struct stat st {};
  REQUIRE(::stat((dir.path() / "state.json").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  // No temp file is left behind next to it.
  int files = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    ++files;
  }
  CHECK(files == 1);

  Store reopened(dir.path());
  auto box = reopened.find_box("alice", "web-1");
  REQUIRE(box);
  CHECK(box->id == "1234-abcd");
  CHECK(reopened.find_box("alice", "1234-abcd"));
  CHECK_FALSE(reopened.find_box("bob", "web-1"));
}

TEST_CASE("a failed update leaves the persisted state unchanged") {
  test::TempDir dir;
  Store store(dir.path());
  store.update([](StoreData& d) { d.boxes.push_back(sample_box()); });
  CHECK_THROWS(store.update([](StoreData& d) {
    d.boxes.clear();
    throw std::runtime_error("boom");
  }));
  Store reopened(dir.path());
  CHECK(reopened.boxes().size() == 1);
}

TEST_CASE("generated box names are valid DNS labels") {
  for (int i = 0; i < 50; ++i) {
    const auto name = generate_box_name();
    CHECK(name.size() == 10);
    CHECK(name.rfind("box-", 0) == 0);
    for (char c : name.substr(4)) {
      CHECK(((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')));
    }
  }
}

TEST_CASE("GetVmResponse carries the record and sensible defaults") {
  BoxRecord b;
  b.id = "id-1";
  b.name = "api";
  b.owner = "alice";
  b.status = BoxStatus::Stopped;
  const auto r = to_get_vm_response(b);
  CHECK(r.vm_id() == "id-1");
  CHECK(r.status() == "stopped");
  CHECK(r.vcpu() == 2);
  CHECK(r.memory_bytes() == (8ULL << 30));
  CHECK(r.image_ref() == "host");
  CHECK(r.restart_policy() == "never");
  CHECK(r.access_domain() == "localhost");
  CHECK(r.source() == "standalone");
  CHECK(r.forked_from().empty());
}
