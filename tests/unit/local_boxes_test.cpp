// The domain layer's box, snapshot and custom domain rules (boxes.hpp,
// snapshots.hpp, domains.hpp) on the in-memory runtime (fake_runtime.hpp):
// no gRPC, no process, milliseconds per case.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/files.hpp"
#include "fake_runtime.hpp"
#include "local/boxes.hpp"
#include "local/domains.hpp"
#include "local/fault.hpp"
#include "local/snapshots.hpp"
#include "local/store.hpp"
#include "local_fault_support.hpp"
#include "local_test_support.hpp"

using namespace boxd::local;
using boxd::local::test::failure_of;

namespace {

struct Domain {
  test::TempDir dir;
  Store store{dir.path()};
  test::FakeRuntime runtime;
  std::vector<std::string> destroyed;
  int booted = 0;
  Boxes boxes;

  explicit Domain(int max_boxes = 50)
      : boxes(BoxesOptions{dir.path(), max_boxes, 2048}, store, runtime,
              BoxHooks{{},
                       [this](const BoxRecord&, const BoxHandle&) { ++booted; },
                       [this](const BoxRecord& box) { destroyed.push_back(box.name); }}) {}

  BoxRecord create(const std::string& user, const std::string& name) {
    BoxRecord box = boxes.draft(user, BoxDraft{name, {}, {}, {}, {}});
    boxes.create(box);
    return boxes.require(user, name);
  }
};

}  // namespace

TEST_CASE("create boots a running box; names are unique per user and checked") {
  Domain d;
  const auto box = d.create("alice", "web");
  CHECK(box.status == BoxStatus::Running);
  CHECK(d.runtime.boots == 1);
  CHECK(d.booted == 1);
  CHECK(d.runtime.disks.count(box.id) == 1);

  CHECK(failure_of([&] { d.create("alice", "web"); }) ==
        std::pair{Fault::AlreadyExists, std::string("VM name 'web' already exists")});
  CHECK(d.create("bob", "web").owner == "bob");  // another user may reuse it
  CHECK(failure_of([&] { d.create("alice", "Bad_Name"); }).first == Fault::InvalidArgument);
  CHECK(failure_of([&] {
          d.boxes.draft("alice", BoxDraft{"x", "ubuntu", {}, {}, {}});
        }).first == Fault::InvalidArgument);
}

TEST_CASE("the box quota is per user and RESOURCE_EXHAUSTED") {
  Domain d(1);
  d.create("alice", "one");
  CHECK(failure_of([&] { d.create("alice", "two"); }) ==
        std::pair{Fault::ResourceExhausted, std::string("quota exceeded: at most 1 boxes")});
  d.create("bob", "one");
}

TEST_CASE("another user's box is not found") {
  Domain d;
  d.create("alice", "web");
  CHECK(failure_of([&] { d.boxes.require("bob", "web"); }) ==
        std::pair{Fault::NotFound, std::string("VM 'web' not found")});
  CHECK(failure_of([&] { d.boxes.stop("bob", "web"); }).first == Fault::NotFound);
}

TEST_CASE("stop is idempotent; a stopped box is FAILED_PRECONDITION for exec and files") {
  Domain d;
  d.create("alice", "web");
  d.boxes.stop("alice", "web");
  CHECK(d.boxes.require("alice", "web").status == BoxStatus::Stopped);
  const int stops = d.runtime.stops;
  d.boxes.stop("alice", "web");
  CHECK(d.runtime.stops == stops);
  CHECK(failure_of([&] { d.boxes.require_running("alice", "web"); }) ==
        std::pair{Fault::FailedPrecondition, std::string("VM 'web' is stopped")});
  CHECK(failure_of([&] { d.boxes.suspend("alice", "web"); }).first == Fault::FailedPrecondition);
  d.boxes.start("alice", "web");
  CHECK(d.boxes.require_running("alice", "web").status == BoxStatus::Running);
}

TEST_CASE("suspend freezes, start and resume thaw, resume on a running box is a no-op") {
  Domain d;
  const auto box = d.create("alice", "nap");
  d.boxes.suspend("alice", "nap");
  CHECK(d.runtime.frozen.count(box.id) == 1);
  CHECK(failure_of([&] { d.boxes.require_running("alice", "nap"); }) ==
        std::pair{Fault::FailedPrecondition, std::string("VM 'nap' is suspended")});
  d.boxes.start("alice", "nap");
  CHECK(d.runtime.frozen.count(box.id) == 0);
  CHECK(d.runtime.boots == 1);  // resumed, not rebooted
  d.boxes.resume("alice", "nap");
  CHECK(d.boxes.require("alice", "nap").status == BoxStatus::Running);
}

TEST_CASE("a box whose init died is seen as stopped") {
  Domain d;
  const auto box = d.create("alice", "web");
  d.runtime.kill_init(box.id);
  CHECK(d.boxes.require("alice", "web").status == BoxStatus::Stopped);
  CHECK(d.store.find_box("alice", "web")->status == BoxStatus::Stopped);
}

TEST_CASE("a failed boot leaves nothing at create and 'failed' at start") {
  Domain d;
  d.runtime.fail_next_boot = true;
  CHECK_THROWS(d.create("alice", "web"));
  CHECK_FALSE(d.store.find_box("alice", "web").has_value());
  CHECK(d.runtime.disks.empty());

  d.create("alice", "web");
  d.boxes.stop("alice", "web");
  d.runtime.fail_next_boot = true;
  CHECK_THROWS(d.boxes.start("alice", "web"));
  CHECK(d.store.find_box("alice", "web")->status == BoxStatus::Failed);
}

TEST_CASE("fork copies the disk with the source frozen, then thaws it") {
  Domain d;
  const auto source = d.create("alice", "src");
  d.runtime.disks[source.id] = "source files";
  BoxRecord fork;
  d.boxes.fork("alice", "src", "", {}, fork);
  CHECK(fork.name == "src-fork");
  CHECK(fork.forked_from == "src");
  CHECK(d.runtime.disks[fork.id] == "source files");
  REQUIRE(d.runtime.copies_while_frozen.size() == 1);
  CHECK(d.runtime.copies_while_frozen[0]);
  CHECK(d.runtime.frozen.empty());
  CHECK(d.boxes.require("alice", "src-fork").status == BoxStatus::Running);
}

TEST_CASE("destroy removes the record and the disk and tells the other areas") {
  Domain d;
  const auto box = d.create("alice", "gone");
  d.boxes.destroy("alice", "gone");
  CHECK_FALSE(d.store.find_box("alice", "gone").has_value());
  CHECK(d.runtime.disks.count(box.id) == 0);
  CHECK(d.destroyed == std::vector<std::string>{"gone"});
}

TEST_CASE("resize checks sizes and records the new limits") {
  Domain d;
  d.create("alice", "big");
  CHECK(failure_of([&] { d.boxes.resize("alice", "big", 0, 0); }).first == Fault::InvalidArgument);
  const auto resized = d.boxes.resize("alice", "big", 4, 0);
  CHECK(resized.vcpu == 4);
  CHECK(d.store.find_box("alice", "big")->vcpu == 4);
}

TEST_CASE("recover reboots what should run and settles transient statuses") {
  Domain d;
  const auto running = d.create("alice", "up");
  const auto dying = d.create("alice", "dying");
  const auto halting = d.create("alice", "halting");
  d.runtime.kill_init(running.id);  // e.g. the machine rebooted
  d.boxes.set_status(dying.id, BoxStatus::Destroying);
  d.boxes.set_status(halting.id, BoxStatus::Stopping);
  const int boots = d.runtime.boots;
  d.boxes.recover();
  CHECK(d.runtime.boots == boots + 1);
  CHECK(d.store.find_box("alice", "up")->status == BoxStatus::Running);
  CHECK_FALSE(d.store.find_box("alice", "dying").has_value());
  CHECK(d.store.find_box("alice", "halting")->status == BoxStatus::Stopped);
}

TEST_CASE("a copy the server did not finish is failed at recovery; a source it froze is thawed") {
  Domain d;
  const auto src = d.create("alice", "src");
  BoxRecord fork;
  d.boxes.fork("alice", "src", "copy", {}, fork);
  const auto fork_dir = d.boxes.spec_of(fork).dir;
  const auto src_dir = d.boxes.spec_of(src).dir;
  CHECK_FALSE(std::filesystem::exists(fork_dir / k_disk_copy_marker));  // a finished copy
  CHECK_FALSE(std::filesystem::exists(src_dir / k_frozen_for_copy_marker));
  CHECK(d.runtime.frozen.empty());

  // What a server stopped in the middle of a fork leaves: the new box
  // recorded "starting" with its copy marked unfinished, the source frozen.
  std::filesystem::create_directories(fork_dir);
  boxd::write_file_atomic(fork_dir / k_disk_copy_marker, "", 0600);
  d.boxes.set_status(fork.id, BoxStatus::Starting);
  d.runtime.kill_init(fork.id);
  d.runtime.suspend(d.boxes.spec_of(src), src.handle);
  std::filesystem::create_directories(src_dir);
  boxd::write_file_atomic(src_dir / k_frozen_for_copy_marker, "", 0600);
  // A box its user froze (a stopped job, say) has no marker.
  const auto other = d.create("alice", "other");
  d.runtime.suspend(d.boxes.spec_of(other), other.handle);
  const int boots = d.runtime.boots;
  d.boxes.recover();
  CHECK(d.runtime.boots == boots);  // not booted on a fresh disk
  CHECK(d.store.find_box("alice", "copy")->status == BoxStatus::Failed);
  CHECK(failure_of([&] { d.boxes.start("alice", "copy"); }).first == Fault::FailedPrecondition);
  CHECK(d.runtime.frozen.count(src.id) == 0);
  CHECK_FALSE(std::filesystem::exists(src_dir / k_frozen_for_copy_marker));
  CHECK(d.runtime.frozen.count(other.id) == 1);
  // A box booted again is not frozen: a marker left from before goes.
  const auto other_dir = d.boxes.spec_of(other).dir;
  std::filesystem::create_directories(other_dir);
  boxd::write_file_atomic(other_dir / k_frozen_for_copy_marker, "", 0600);
  d.boxes.stop("alice", "other");
  d.boxes.start("alice", "other");
  CHECK_FALSE(std::filesystem::exists(other_dir / k_frozen_for_copy_marker));
}

TEST_CASE("a snapshot copies the frozen box; saving the name again bumps its version") {
  Domain d;
  Snapshots snapshots(d.dir.path(), d.store, d.boxes);
  const auto box = d.create("alice", "src");
  d.runtime.disks[box.id] = "v1 files";
  const auto first = snapshots.save("alice", "src", "");
  CHECK(first.name == "src");
  CHECK(first.version == 1);
  CHECK(first.status == SnapshotStatus::Ready);
  CHECK(d.runtime.disks[first.id] == "v1 files");
  REQUIRE(d.runtime.copies_while_frozen.size() == 1);
  CHECK(d.runtime.copies_while_frozen[0]);
  CHECK(d.runtime.frozen.empty());

  d.runtime.disks[box.id] = "v2 files";
  const auto second = snapshots.save("alice", "src", "src");
  CHECK(second.id == first.id);
  CHECK(second.version == 2);
  CHECK(snapshots.list("alice").size() == 1);
  CHECK(snapshots.list("bob").empty());
  CHECK(failure_of([&] { snapshots.get("bob", "src"); }) ==
        std::pair{Fault::NotFound, std::string("snapshot 'src' not found")});
}

TEST_CASE("a snapshot saved again is checked after its copy; refused, its old version stays") {
  Domain d;
  Snapshots snapshots(d.dir.path(), d.store, d.boxes);
  std::vector<std::uint64_t> added;
  snapshots.set_quota(DiskQuota{[](const std::string&) { return std::uint64_t{0}; },
                                [&](std::uint64_t, std::uint64_t adding) {
                                  added.push_back(adding);
                                  if (adding > (1U << 20)) {  // room for 1 MiB more
                                    fail(Fault::ResourceExhausted, "quota exceeded");
                                  }
                                },
                                std::make_shared<std::mutex>()});
  d.create("alice", "src");
  d.runtime.copy_bytes = 64 * 1024;
  const auto first = snapshots.save("alice", "src", "keep");
  // The box wrote more between the estimate before the copy (its disk as
  // it was) and the copy: the copy's real size is what counts.
  d.runtime.copy_bytes = 2U << 20;
  CHECK(failure_of([&] { snapshots.save("alice", "src", "keep"); }) ==
        std::pair{Fault::ResourceExhausted, std::string("quota exceeded")});
  REQUIRE_FALSE(added.empty());
  CHECK(added.back() >= (2U << 20));
  CHECK(snapshots.get("alice", "keep").version == 1);
  CHECK(std::filesystem::file_size(snapshots.dir(first.id) / "data") == 64 * 1024);
  CHECK_FALSE(std::filesystem::exists(snapshots.dir(first.id + ".new")));
  CHECK_FALSE(std::filesystem::exists(snapshots.dir(first.id + ".old")));
  d.runtime.copy_bytes = 128 * 1024;
  CHECK(snapshots.save("alice", "src", "keep").version == 2);
  CHECK(std::filesystem::file_size(snapshots.dir(first.id) / "data") == 128 * 1024);
  CHECK_FALSE(std::filesystem::exists(snapshots.dir(first.id + ".new")));
}

TEST_CASE("a snapshot of a failed box is refused; a box made from one has its data") {
  Domain d;
  Snapshots snapshots(d.dir.path(), d.store, d.boxes);
  const auto box = d.create("alice", "src");
  d.runtime.disks[box.id] = "saved files";
  const auto snap = snapshots.save("alice", "src", "keep");
  d.boxes.set_status(box.id, BoxStatus::Failed);
  CHECK(failure_of([&] { snapshots.save("alice", "src", "again"); }) ==
        std::pair{Fault::FailedPrecondition, std::string("VM 'src' is failed")});

  BoxRecord made;
  snapshots.create_box("alice", "keep", "copy", {}, made);
  CHECK(made.source == "snapshot/keep");
  CHECK(d.runtime.disks[made.id] == "saved files");
  CHECK(d.boxes.require("alice", "copy").status == BoxStatus::Running);
  CHECK(snapshots.get("alice", snap.id).use_count == 1);

  snapshots.remove("alice", "keep");
  CHECK(failure_of([&] { snapshots.get("alice", "keep"); }).first == Fault::NotFound);
  CHECK(failure_of([&] { snapshots.create_box("alice", "keep", "", {}, made); }).first ==
        Fault::NotFound);
}

TEST_CASE("a domain binds to one box server-wide and only its owner unbinds it") {
  Domain d;
  Domains domains(d.store, d.boxes);
  d.create("alice", "web");
  d.create("bob", "api");
  const auto bound = domains.bind("alice", "App.Example.com.", "web");
  CHECK(bound.domain == "app.example.com");
  CHECK(bound.box_name == "web");
  CHECK(failure_of([&] { domains.bind("bob", "app.example.com", "api"); }) ==
        std::pair{Fault::AlreadyExists, std::string("domain 'app.example.com' is already bound")});
  CHECK(failure_of([&] { domains.bind("bob", "x.example.com", "web"); }).first ==
        Fault::NotFound);  // alice's box
  CHECK(failure_of([&] { domains.bind("alice", "web.alice.localhost", "web"); }).first ==
        Fault::InvalidArgument);
  CHECK(failure_of([&] { domains.bind("alice", "nodot", "web"); }).first == Fault::InvalidArgument);
  CHECK(domains.list("bob").empty());
  CHECK(failure_of([&] { domains.unbind("bob", "app.example.com"); }) ==
        std::pair{Fault::NotFound, std::string("domain 'app.example.com' not found")});

  d.boxes.destroy("alice", "web");
  CHECK(domains.list("alice").empty());  // the binding went with its box
  domains.bind("bob", "app.example.com", "api");
  domains.unbind("bob", "APP.example.com");
  CHECK(domains.list("bob").empty());
}

TEST_CASE("shutdown stops every running box, several at a time, and keeps their statuses") {
  Domain d;
  for (int i = 0; i < 20; ++i) {
    d.create("alice", "box" + std::to_string(i));
  }
  d.boxes.stop("alice", "box3");
  const int stops_before = d.runtime.stops;
  // Each stop waits until a second one has started: one at a time, the first
  // would give up after 2 s, the rest not wait, and `overlapped` stay 0.
  std::mutex mutex;
  std::condition_variable changed;
  int in_flight = 0;
  int most = 0;
  bool gave_up = false;
  std::atomic<int> overlapped{0};
  d.runtime.on_stop = [&](const BoxSpec&) {
    std::unique_lock lock(mutex);
    most = std::max(most, ++in_flight);
    changed.notify_all();
    if (changed.wait_for(lock, std::chrono::seconds(2), [&] { return most >= 2 || gave_up; }) &&
        !gave_up) {
      ++overlapped;
    } else {
      gave_up = true;
    }
    --in_flight;
  };
  d.boxes.shutdown();
  CHECK(d.runtime.stops - stops_before == 19);  // not the stopped one
  CHECK(d.runtime.running.empty());
  CHECK(most >= 2);
  CHECK(most <= static_cast<int>(Boxes::k_shutdown_workers));
  CHECK(overlapped.load() == 19);
  // The stored status is kept, so that recover boots the box again at the next start.
  int kept_running = 0;
  for (const auto& box : d.store.boxes()) {
    kept_running += box.status == BoxStatus::Running ? 1 : 0;
  }
  CHECK(kept_running == 19);
}

TEST_CASE("shutdown stops a box with the handle it has once its lock is held") {
  // shutdown lists the boxes, then takes each one's lock: a reboot holding
  // the lock meanwhile gives the box a new init, which must be the one
  // stopped (the listed handle's init is gone already).
  Domain d;
  d.create("alice", "first");
  const auto web = d.create("alice", "web");
  std::mutex mutex;
  std::condition_variable changed;
  bool listed = false;
  d.runtime.on_stop = [&](const BoxSpec& box) {
    if (box.name == "first") {  // shutdown has its list by now
      std::lock_guard lock(mutex);
      listed = true;
      changed.notify_all();
    }
  };
  auto web_lock = d.boxes.op_lock(web.id);
  std::unique_lock held(*web_lock);
  std::jthread shutdown([&] { d.boxes.shutdown(); });
  {
    std::unique_lock lock(mutex);
    REQUIRE(changed.wait_for(lock, std::chrono::seconds(10), [&] { return listed; }));
  }
  d.boxes.stop_and_record(web, BoxStatus::Stopped);  // what reboot does under the lock
  d.boxes.boot_and_record(d.boxes.require("alice", "web"));
  const int new_init = d.boxes.require("alice", "web").handle.init_pid;
  REQUIRE(new_init != web.handle.init_pid);
  held.unlock();
  shutdown.join();
  CHECK(d.runtime.running.empty());
  CHECK(std::count(d.runtime.stopped_inits.begin(), d.runtime.stopped_inits.end(), new_init) == 1);
  CHECK(std::count(d.runtime.stopped_inits.begin(), d.runtime.stopped_inits.end(),
                   web.handle.init_pid) == 1);  // only the reboot's stop
}
