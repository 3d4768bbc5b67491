// The domain layer's template rules (templates.hpp): what a template may
// hold, and how a box made from one merges the request's overrides.
#include <doctest/doctest.h>

#include <string>

#include "fake_runtime.hpp"
#include "local/boxes.hpp"
#include "local/disks.hpp"
#include "local/fault.hpp"
#include "local/store.hpp"
#include "local/templates.hpp"
#include "local_fault_support.hpp"
#include "local_test_support.hpp"

using namespace boxd::local;
using boxd::local::test::failure_of;

namespace {

struct TemplateWorld {
  test::TempDir dir;
  Store store{dir.path()};
  test::FakeRuntime runtime;
  Boxes boxes{BoxesOptions{dir.path(), 50, 2048}, store, runtime};
  Disks disks{DisksOptions{dir.path(), 20, 1ULL << 30}, store, boxes};
  Templates templates{store, disks};
};

}  // namespace

TEST_CASE("templates: image, sizes and disk size are checked when a template is made") {
  TemplateWorld w;
  CHECK(failure_of([&] { w.templates.create("alice", "", "", {}); }) ==
        std::pair{Fault::InvalidArgument, std::string("a template name is required")});
  CHECK(failure_of([&] { w.templates.create("alice", "small", "ubuntu", {}); }) ==
        std::pair{Fault::InvalidArgument,
                  std::string("unknown image 'ubuntu': boxd local has only the image 'host'")});
  CHECK(failure_of([&] { w.templates.create("alice", "small", "", VmSettings{2000}); }).first ==
        Fault::InvalidArgument);
  CHECK(failure_of([&] {
          w.templates.create("alice", "small", "", VmSettings{1, 0, 2ULL << 30});
        }).first == Fault::ResourceExhausted);  // more than --max-disk-bytes
  const auto t = w.templates.create("alice", "small", "", VmSettings{1, 0, 64ULL << 20});
  CHECK(t.image_ref == "host");
  CHECK(t.disk_bytes == 64ULL << 20);
  CHECK(failure_of([&] { w.templates.create("alice", "small", "host", {}); }) ==
        std::pair{Fault::AlreadyExists, std::string("template name 'small' already exists")});
  w.templates.create("bob", "small", "host", {});
  CHECK(w.templates.list("alice").size() == 1);
}

TEST_CASE("templates: another user's template is NOT_FOUND; delete by name or id") {
  TemplateWorld w;
  const auto t = w.templates.create("alice", "small", "", {});
  CHECK(w.templates.get("alice", t.id).name == "small");
  CHECK(failure_of([&] { w.templates.get("bob", "small"); }) ==
        std::pair{Fault::NotFound, std::string("template 'small' not found")});
  CHECK(failure_of([&] { w.templates.remove("bob", t.id); }).first == Fault::NotFound);
  CHECK(failure_of([&] { w.templates.get("alice", ""); }).first == Fault::NotFound);
  w.templates.remove("alice", t.id);
  CHECK(w.templates.list("alice").empty());
}

TEST_CASE("templates: a nonzero override wins, the template fills the rest") {
  TemplateRecord t;
  t.vcpu = 2;
  t.memory_bytes = 1ULL << 30;
  t.disk_bytes = 8ULL << 30;
  t.auto_suspend_timeout_secs = 300;
  t.auto_destroy_timeout_secs = 3600;

  auto merged = Templates::settings_for(t, VmSettings{4});
  CHECK(merged.vcpu == 4);
  CHECK(merged.memory_bytes == 1ULL << 30);
  CHECK(merged.disk_bytes == 8ULL << 30);
  CHECK(merged.has_srf);
  CHECK(merged.auto_suspend_timeout_secs == 300U);
  CHECK(merged.auto_destroy_timeout_secs == 3600);

  VmSettings overrides;
  overrides.has_srf = true;
  overrides.auto_suspend_timeout_secs = 0;  // given: off
  merged = Templates::settings_for(t, overrides);
  CHECK(merged.auto_suspend_timeout_secs == 0U);
  CHECK(merged.auto_destroy_timeout_secs == 3600);  // 0 = not given

  merged = Templates::settings_for(TemplateRecord{}, VmSettings{});
  CHECK_FALSE(merged.has_srf);
  CHECK(merged.vcpu == 0);
}
