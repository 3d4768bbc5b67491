// The idle watcher (idle.hpp) on the in-memory runtime (fake_runtime.hpp):
// which boxes a round suspends or hibernates, at times the test chooses
// (IdleWatcher::tick), and which it leaves alone.
#include <doctest/doctest.h>

#include <chrono>
#include <mutex>
#include <string>

#include "fake_runtime.hpp"
#include "local/boxes.hpp"
#include "local/idle.hpp"
#include "local/store.hpp"
#include "local_test_support.hpp"

using namespace boxd::local;
using namespace std::chrono_literals;

namespace {

struct IdleWorld {
  test::TempDir dir;
  Store store{dir.path()};
  test::FakeRuntime runtime;
  Boxes boxes{BoxesOptions{dir.path(), 50, 2048}, store, runtime,
              BoxHooks{[this](const std::string& id) { watcher.touch(id); }, {}, {}}};
  IdleWatcher watcher{store, boxes};

  // A running box of alice's; its boot starts its idle clock.
  std::string create_box(const std::string& name) {
    BoxRecord box = boxes.draft("alice", BoxDraft{name, {}, {}, {}, {}});
    boxes.create(box);
    return box.id;
  }

  BoxStatus status(const std::string& name) { return boxes.require("alice", name).status; }
};

}  // namespace

TEST_CASE("idle: a running box is suspended once idle for its auto-suspend timeout, not before") {
  IdleWorld w;
  const auto id = w.create_box("web");
  w.boxes.set_auto_suspend("alice", "web", 60);  // restarts the clock
  const auto start = IdleWatcher::Clock::now();
  w.watcher.tick(start + 30s);
  CHECK(w.status("web") == BoxStatus::Running);
  CHECK(w.runtime.frozen.empty());
  w.watcher.tick(start + 61s);
  CHECK(w.status("web") == BoxStatus::Suspended);
  CHECK(w.runtime.frozen.count(id) == 1);
}

TEST_CASE("idle: a box with an exec in flight is busy: never suspended while it runs") {
  IdleWorld w;
  const auto id = w.create_box("web");
  w.boxes.set_auto_suspend("alice", "web", 60);
  w.boxes.set_auto_hibernate("alice", "web", 120);
  w.runtime.busy.insert(id);
  const auto start = IdleWatcher::Clock::now();
  w.watcher.tick(start + 61s);
  w.watcher.tick(start + 3600s);
  CHECK(w.status("web") == BoxStatus::Running);
  CHECK(w.runtime.frozen.empty());
  CHECK(w.runtime.stops == 0);
  w.runtime.busy.clear();  // the command ended: the clock runs from the last busy round
  w.watcher.tick(start + 3630s);
  CHECK(w.status("web") == BoxStatus::Running);
  w.watcher.tick(start + 3661s);
  CHECK(w.status("web") == BoxStatus::Suspended);
}

TEST_CASE("idle: traffic restarts the clock") {
  IdleWorld w;
  const auto id = w.create_box("web");
  w.boxes.set_auto_suspend("alice", "web", 60);
  const auto start = IdleWatcher::Clock::now();
  w.watcher.touch(id, start + 50s);  // an exec, a file call or a proxied request
  w.watcher.tick(start + 61s);
  CHECK(w.status("web") == BoxStatus::Running);
  w.watcher.tick(start + 111s);
  CHECK(w.status("web") == BoxStatus::Suspended);
}

TEST_CASE(
    "idle: past its auto-hibernate timeout a box is stopped as hibernated, suspended or not") {
  IdleWorld w;
  const auto id = w.create_box("web");
  w.boxes.set_auto_suspend("alice", "web", 60);
  w.boxes.set_auto_hibernate("alice", "web", 120);
  const auto start = IdleWatcher::Clock::now();
  w.watcher.tick(start + 61s);
  CHECK(w.status("web") == BoxStatus::Suspended);
  w.watcher.tick(start + 121s);
  CHECK(w.status("web") == BoxStatus::Hibernated);
  CHECK(w.runtime.running.count(id) == 0);
  CHECK(w.runtime.stops == 1);
  w.watcher.tick(start + 3600s);  // no longer watched
  CHECK(w.runtime.stops == 1);
}

TEST_CASE("idle: boxes without a timeout, or not running, are left alone") {
  IdleWorld w;
  w.create_box("plain");
  w.create_box("stopped");
  w.boxes.set_auto_suspend("alice", "stopped", 60);
  w.boxes.stop("alice", "stopped");
  const auto stops = w.runtime.stops;
  w.watcher.tick(IdleWatcher::Clock::now() + 24h);
  CHECK(w.status("plain") == BoxStatus::Running);
  CHECK(w.status("stopped") == BoxStatus::Stopped);
  CHECK(w.runtime.frozen.empty());
  CHECK(w.runtime.stops == stops);
}

TEST_CASE("idle: a box whose operation lock is held is skipped this round") {
  IdleWorld w;
  const auto id = w.create_box("web");
  w.boxes.set_auto_suspend("alice", "web", 60);
  const auto late = IdleWatcher::Clock::now() + 61s;
  {
    auto lock = w.boxes.op_lock(id);
    std::lock_guard held(*lock);  // a lifecycle call in progress
    w.watcher.tick(late);
    CHECK(w.status("web") == BoxStatus::Running);
  }
  w.watcher.tick(late);
  CHECK(w.status("web") == BoxStatus::Suspended);
}

TEST_CASE("idle: the watcher thread starts and stops, more than once") {
  IdleWorld w;
  w.create_box("web");
  w.watcher.start();
  w.watcher.start();
  w.watcher.stop();
  w.watcher.stop();
  w.watcher.start();
  w.watcher.stop();
  CHECK(w.status("web") == BoxStatus::Running);
}
