// The domain layer's disk rules (disks.hpp) on the in-memory runtime
// (fake_runtime.hpp): sizes and quotas, attach and detach, what a boot and
// a destroy of the box do to its disks. Disks are plain directories here
// (prepare_images() is never called), as on a host without loop devices.
#include <doctest/doctest.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/files.hpp"
#include "fake_runtime.hpp"
#include "local/boxes.hpp"
#include "local/disks.hpp"
#include "local/fault.hpp"
#include "local/snapshots.hpp"
#include "local/store.hpp"
#include "local_fault_support.hpp"
#include "local_test_support.hpp"

using namespace boxd::local;
using boxd::local::test::failure_of;

namespace {

constexpr std::uint64_t k_mib = 1ULL << 20;

struct DiskWorld {
  test::TempDir dir;
  Store store{dir.path()};
  test::FakeRuntime runtime;
  Boxes boxes;
  Disks disks;

  explicit DiskWorld(int max_disks = 20, std::uint64_t max_disk_bytes = 64 * k_mib)
      : boxes(BoxesOptions{dir.path(), 50, 2048}, store, runtime,
              BoxHooks{{},
                       [this](const BoxRecord& box, const BoxHandle& handle) {
                         disks.apply(box, handle);
                       },
                       [this](const BoxRecord& box) { disks.forget(box); }}),
        disks(DisksOptions{dir.path(), max_disks, max_disk_bytes}, store, boxes) {}

  BoxRecord create_box(const std::string& user, const std::string& name) {
    BoxRecord box = boxes.draft(user, BoxDraft{name, {}, {}, {}, {}});
    box.disk_bytes = k_mib;  // boxes' disks count against the disk quota too
    boxes.create(box);
    return boxes.require(user, name);
  }

  // The quota the service wires (service.cpp): Boxes and Disks share it.
  void wire_quota() {
    const DiskQuota quota{
        [this](const std::string& user) { return disks.bytes_of(user); },
        [this](std::uint64_t in_use, std::uint64_t adding) { disks.check_bytes(in_use, adding); },
        std::make_shared<std::mutex>()};
    disks.set_quota_lock(quota.lock);
    boxes.set_disk_quota(quota);
  }

  // A record put straight into the store: a snapshot or a box of
  // `bytes` (its copy, its disk) that `owner` has.
  void add_snapshot(const std::string& id, const std::string& owner, std::uint64_t bytes) {
    store.update([&](StoreData& data) {
      SnapshotRecord snap;
      snap.id = id;
      snap.owner = owner;
      snap.size_bytes = bytes;
      data.snapshots.push_back(snap);
    });
  }
  void add_box_record(const std::string& id, const std::string& owner, std::uint64_t bytes) {
    store.update([&](StoreData& data) {
      BoxRecord box;
      box.id = id;
      box.owner = owner;
      box.disk_bytes = bytes;
      data.boxes.push_back(box);
    });
  }

  // Whether the runtime has a disk mounted at `target` of the box.
  bool mounted(const BoxRecord& box, const std::string& target) const {
    return runtime.mounts.count(box.id + ":" + target) != 0;
  }
};

}  // namespace

TEST_CASE("disks: sizes below 4 MiB are INVALID_ARGUMENT, above the limit RESOURCE_EXHAUSTED") {
  DiskWorld w;
  CHECK(failure_of([&] { w.disks.create("alice", "tiny", k_mib); }) ==
        std::pair{Fault::InvalidArgument,
                  std::string("disk size 1MiB is too small: at least 4 MiB")});
  // 0 = the default, 10 GiB: more than this server allows.
  CHECK(failure_of([&] { w.disks.create("alice", "big", 0); }) ==
        std::pair{Fault::ResourceExhausted,
                  std::string("quota exceeded: disk size 10GiB is more than this server's limit "
                              "of 64MiB per user")});
  CHECK(failure_of([&] { w.disks.check_size(65 * k_mib, "disk size"); }).first ==
        Fault::ResourceExhausted);
  w.disks.check_size(0, "disk size");  // the default of a box: not checked
  w.disks.check_size(64 * k_mib, "disk size");
  CHECK(w.disks.list("alice").empty());
}

TEST_CASE("disks: the count and byte quotas are per user") {
  DiskWorld w(2, 64 * k_mib);
  w.disks.create("alice", "one", 8 * k_mib);
  w.disks.create("alice", "two", 8 * k_mib);
  CHECK(failure_of([&] { w.disks.create("alice", "three", 8 * k_mib); }) ==
        std::pair{Fault::ResourceExhausted, std::string("quota exceeded: at most 2 disks")});
  w.disks.create("bob", "one", 40 * k_mib);
  CHECK(failure_of([&] { w.disks.create("bob", "two", 32 * k_mib); }) ==
        std::pair{Fault::ResourceExhausted,
                  std::string("quota exceeded: your disks, boxes' disks and snapshots would "
                              "total 72MiB, at most 64MiB (40MiB in use)")});
  CHECK(w.disks.list("alice").size() == 2);
  CHECK(w.disks.list("bob").size() == 1);
}

TEST_CASE("disks: a user's snapshots and boxes' disks take from the same --max-disk-bytes") {
  DiskWorld w(20, 64 * k_mib);
  w.add_snapshot("snap-1", "alice", 40 * k_mib);
  CHECK(failure_of([&] { w.disks.create("alice", "big", 32 * k_mib); }) ==
        std::pair{Fault::ResourceExhausted,
                  std::string("quota exceeded: your disks, boxes' disks and snapshots would "
                              "total 72MiB, at most 64MiB (40MiB in use)")});
  w.disks.create("alice", "small", 16 * k_mib);
  w.disks.create("bob", "big", 64 * k_mib);  // alice's snapshots are not bob's
  CHECK(w.disks.bytes_of("alice") == 16 * k_mib);
  // What a snapshot save checks (Snapshots::save through DiskQuota):
  // alice's disks and her other snapshots, plus the new copy.
  const auto in_use =
      w.store.read([](const StoreData& data) { return disk_bytes_in_store(data, "alice"); });
  CHECK(in_use == 40 * k_mib);
  CHECK(w.store.read([](const StoreData& data) {
    return disk_bytes_in_store(data, "alice", "snap-1");
  }) == 0);  // the snapshot a save replaces does not count
  CHECK(failure_of([&] {
          w.disks.check_bytes(w.disks.bytes_of("alice") + in_use, 9 * k_mib);
        }).first == Fault::ResourceExhausted);
  w.disks.check_bytes(w.disks.bytes_of("alice") + in_use, 8 * k_mib);
  // A box's disk counts by its size, from the moment its record exists.
  w.add_box_record("box-1", "alice", 4 * k_mib);
  CHECK(w.store.read([](const StoreData& data) { return disk_bytes_in_store(data, "alice"); }) ==
        44 * k_mib);
  CHECK(failure_of([&] { w.disks.create("alice", "more", 5 * k_mib); }).first ==
        Fault::ResourceExhausted);
  w.disks.create("alice", "last", 4 * k_mib);  // 16 + 4 + 40 + 4 = 64
}

TEST_CASE("boxes: a new box's disk size takes from --max-disk-bytes") {
  DiskWorld w(20, 64 * k_mib);
  w.wire_quota();
  w.disks.create("alice", "data", 32 * k_mib);
  BoxRecord box = w.boxes.draft("alice", BoxDraft{"one", {}, {}, {}, {}});
  box.disk_bytes = 24 * k_mib;
  w.boxes.create(box);
  BoxRecord big = w.boxes.draft("alice", BoxDraft{"two", {}, {}, {}, {}});
  big.disk_bytes = 16 * k_mib;
  CHECK(failure_of([&] { w.boxes.create(big); }) ==
        std::pair{Fault::ResourceExhausted,
                  std::string("quota exceeded: your disks, boxes' disks and snapshots would "
                              "total 72MiB, at most 64MiB (56MiB in use)")});
  CHECK_FALSE(w.store.find_box("alice", big.id));  // nothing reserved
  big.disk_bytes = 8 * k_mib;
  w.boxes.create(big);
  BoxRecord bobs = w.boxes.draft("bob", BoxDraft{"one", {}, {}, {}, {}});
  bobs.disk_bytes = 64 * k_mib;
  w.boxes.create(bobs);  // bob's own quota
}

TEST_CASE("disks and boxes created at once stay within --max-disk-bytes together") {
  for (int round = 0; round < 5; ++round) {
    DiskWorld w(50, 64 * k_mib);
    w.wire_quota();
    std::atomic<int> made{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 12; ++i) {
      threads.emplace_back([&, i] {
        try {
          if (i % 2 == 0) {
            w.disks.create("alice", "d" + std::to_string(i), 16 * k_mib);
          } else {
            BoxRecord box =
                w.boxes.draft("alice", BoxDraft{"b" + std::to_string(i), {}, {}, {}, {}});
            box.disk_bytes = 16 * k_mib;
            w.boxes.create(box);
          }
          ++made;
        } catch (const std::exception&) {
        }
      });
    }
    for (auto& thread : threads) {
      thread.join();
    }
    CHECK(made.load() == 4);  // 4 x 16 MiB = the whole 64 MiB
    const auto stored =
        w.store.read([](const StoreData& data) { return disk_bytes_in_store(data, "alice"); });
    CHECK(stored + w.disks.bytes_of("alice") == 64 * k_mib);
  }
}

TEST_CASE("disks: names are unique per user and checked; a new disk is a directory") {
  DiskWorld w;
  const auto disk = w.disks.create("alice", "data", 8 * k_mib);
  CHECK(disk.size_bytes == 8 * k_mib);
  CHECK(disk.vm_id.empty());
  CHECK(std::filesystem::is_directory(w.disks.data_dir(disk.id)));
  CHECK(failure_of([&] { w.disks.create("alice", "data", 8 * k_mib); }) ==
        std::pair{Fault::AlreadyExists, std::string("disk name 'data' already exists")});
  CHECK(w.disks.create("bob", "data", 8 * k_mib).owner == "bob");
  CHECK(failure_of([&] { w.disks.create("alice", "Bad_Name", 8 * k_mib); }).first ==
        Fault::InvalidArgument);
  CHECK(failure_of([&] { w.disks.destroy("bob", disk.id); }) ==
        std::pair{Fault::NotFound, std::string("disk '" + disk.id + "' not found")});
}

TEST_CASE("disks: attaching to another user's box, or another user's disk, is NOT_FOUND") {
  DiskWorld w;
  w.create_box("alice", "web");
  w.create_box("bob", "api");
  w.disks.create("alice", "data", 8 * k_mib);
  w.disks.create("bob", "stuff", 8 * k_mib);
  CHECK(failure_of([&] {
          w.disks.attach("alice", {"data", "api", "data"});
        }) == std::pair{Fault::NotFound, std::string("VM 'api' not found")});
  CHECK(failure_of([&] {
          w.disks.attach("alice", {"stuff", "web", "data"});
        }) == std::pair{Fault::NotFound, std::string("disk 'stuff' not found")});
  CHECK(w.runtime.mounts.empty());
  CHECK(w.disks.list("alice")[0].vm_id.empty());
}

TEST_CASE("disks: attach mounts into a running box at once; twice is FAILED_PRECONDITION") {
  DiskWorld w;
  const auto box = w.create_box("alice", "web");
  const auto disk = w.disks.create("alice", "data", 8 * k_mib);
  w.disks.create("alice", "more", 8 * k_mib);
  const auto attached = w.disks.attach("alice", {"data", "web", "data", true});
  CHECK(attached.vm_id == box.id);
  CHECK(attached.mount_path == "/home/boxd/data");
  CHECK(attached.read_only);
  CHECK(w.runtime.mounts.at(box.id + ":/home/boxd/data") == w.disks.data_dir(disk.id).string());

  CHECK(failure_of([&] {
          w.disks.attach("alice", {"data", "web", "/srv"});
        }) == std::pair{Fault::FailedPrecondition,
                        std::string("disk 'data' is already attached to VM 'web'")});
  CHECK(failure_of([&] {
          w.disks.attach("alice", {"more", "web", "/home/boxd/./data/"});
        }) == std::pair{Fault::FailedPrecondition,
                        std::string("VM 'web' already has disk 'data' at /home/boxd/data")});
}

TEST_CASE("disks: mount paths are absolute, without '..', never over / or the kernel's") {
  DiskWorld w;
  w.create_box("alice", "web");
  w.disks.create("alice", "data", 8 * k_mib);
  CHECK(failure_of([&] {
          w.disks.attach("alice", {"data", "web", ""});
        }) == std::pair{Fault::InvalidArgument, std::string("mount_path is required")});
  CHECK(failure_of([&] {
          w.disks.attach("alice", {"data", "web", "a/../../etc"});
        }) == std::pair{Fault::InvalidArgument,
                        std::string("mount path 'a/../../etc' must not contain '..'")});
  CHECK(failure_of([&] {
          w.disks.attach("alice", {"data", "web", "/"});
        }) == std::pair{Fault::InvalidArgument, std::string("cannot mount a disk over '/'")});
  CHECK(failure_of([&] {
          w.disks.attach("alice", {"data", "web", "/proc/x"});
        }) == std::pair{Fault::InvalidArgument, std::string("cannot mount a disk at '/proc/x'")});
  CHECK(w.disks.list("alice")[0].vm_id.empty());
}

TEST_CASE("disks: an attached disk is not destroyed; detach unmounts, then it can be") {
  DiskWorld w;
  const auto box = w.create_box("alice", "web");
  const auto disk = w.disks.create("alice", "data", 8 * k_mib);
  w.disks.attach("alice", {"data", "web", "/data"});
  CHECK(failure_of([&] { w.disks.destroy("alice", "data"); }) ==
        std::pair{Fault::FailedPrecondition,
                  std::string("disk 'data' is attached to VM 'web': detach it first")});

  w.create_box("alice", "other");
  CHECK(failure_of([&] { w.disks.detach("alice", "data", "other"); }) ==
        std::pair{Fault::FailedPrecondition,
                  std::string("disk 'data' is not attached to VM 'other'")});
  const auto detached = w.disks.detach("alice", "data", "web");
  CHECK(detached.vm_id.empty());
  CHECK(detached.mount_path.empty());
  CHECK_FALSE(w.mounted(box, "/data"));
  w.disks.destroy("alice", disk.id);
  CHECK(w.disks.list("alice").empty());
  CHECK_FALSE(std::filesystem::exists(w.disks.data_dir(disk.id)));
}

TEST_CASE("disks: a failed mount rolls the attachment back") {
  DiskWorld w;
  w.create_box("alice", "web");
  w.disks.create("alice", "data", 8 * k_mib);
  w.runtime.fail_next_mount = true;
  CHECK(failure_of([&] {
          w.disks.attach("alice", {"data", "web", "/data"});
        }).first == Fault::FailedPrecondition);
  CHECK(w.disks.list("alice")[0].vm_id.empty());
  w.disks.attach("alice", {"data", "web", "/data"});  // the path is free again
}

TEST_CASE("disks: a stopped box gets its disks at its next boot; a destroyed one loses them") {
  DiskWorld w;
  const auto box = w.create_box("alice", "web");
  w.boxes.stop("alice", "web");
  w.disks.create("alice", "data", 8 * k_mib);
  const auto attached = w.disks.attach("alice", {"data", "web", "/data"});
  CHECK(attached.vm_id == box.id);
  CHECK_FALSE(w.mounted(box, "/data"));
  w.boxes.start("alice", "web");
  CHECK(w.mounted(box, "/data"));

  w.boxes.destroy("alice", "web");
  const auto left = w.disks.list("alice");
  REQUIRE(left.size() == 1);
  CHECK(left[0].vm_id.empty());  // disks outlive boxes
  w.disks.destroy("alice", "data");
}

TEST_CASE("disks: a mount that fails at boot is written to the box's console, the boot goes on") {
  DiskWorld w;
  const auto box = w.create_box("alice", "web");
  w.boxes.stop("alice", "web");
  w.disks.create("alice", "data", 8 * k_mib);
  w.disks.attach("alice", {"data", "web", "/data"});
  const auto box_dir = w.boxes.spec_of(box).dir;  // the real runtimes make it, the fake does not
  std::filesystem::create_directories(box_dir);
  w.runtime.fail_next_mount = true;
  w.boxes.start("alice", "web");
  CHECK(w.boxes.require("alice", "web").status == BoxStatus::Running);
  CHECK_FALSE(w.mounted(box, "/data"));
  CHECK(w.disks.list("alice")[0].vm_id == box.id);  // tried again at the next boot
  const auto console = boxd::read_file(box_dir / "console.log");
  REQUIRE(console.has_value());
  CHECK(*console == "boxd: could not mount disk data at /data: cannot mount /data: told to\n");
}
