// The idle watcher of boxd local: what makes auto-suspend and
// auto-hibernate timeouts real. A domain class (no gRPC type here); the
// service owns one, starts it after recovery, stops it at shutdown and
// restarts a box's clock on traffic (BoxHooks::activity, the HTTP proxy).
//
// How it works: every box has an idle clock (in memory, steady time) that
// inbound traffic restarts: an exec or file call (Boxes::require_running), a
// request through the HTTP proxy (Proxies::route), and the box becoming
// running (boot, resume, wake) or its timeout being set. Once a second a
// thread looks at every running or suspended box that has a timeout
// (tick()): idle for auto_suspend_timeout_secs -> suspended (frozen,
// exactly like SuspendVm); idle for auto_hibernate_timeout_secs ->
// "hibernated" (its processes stopped, its disk kept; WakeVm or StartVm
// boots it again). A box seen for the first time gets its clock started
// then.
//
// An exec session in flight is traffic too, for as long as it runs
// (Runtime::exec_in_flight). The process runtime has no init to tell boxes
// apart, so there only the calls count.
//
// What can go wrong: the clocks live in memory, so a restarted server
// starts every box's clock afresh (a box is never suspended early because
// of a restart). The watcher takes a box's operation lock with try_lock and
// skips the box this round when a lifecycle call holds it. A failed
// suspend or hibernate is logged and tried again next round.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "local/boxes.hpp"
#include "local/store.hpp"

namespace boxd::local {

class IdleWatcher {
 public:
  using Clock = std::chrono::steady_clock;

  IdleWatcher(Store& store, Boxes& boxes);
  ~IdleWatcher();
  IdleWatcher(const IdleWatcher&) = delete;
  IdleWatcher& operator=(const IdleWatcher&) = delete;

  // Starts the once-a-second thread (again after stop()); idempotent.
  void start();
  // Stops and joins the thread; idempotent.
  void stop();
  // Inbound traffic for a box at `when`: restarts its idle clock.
  void touch(const std::string& box_id, Clock::time_point when = Clock::now());
  // One round at time `now`: suspends or hibernates every box idle past
  // its timeout (the thread calls it with Clock::now()).
  void tick(Clock::time_point now);

 private:
  // The box's last activity; false when it is not watched or was seen for
  // the first time (its clock starts at `now`).
  bool last_activity(const BoxRecord& box, Clock::time_point now, Clock::time_point& last);
  // Suspends or hibernates the box under its operation lock.
  void put_to_sleep(const BoxRecord& box, bool hibernate, long long idle_secs);

  Store& m_store;
  Boxes& m_boxes;
  std::mutex m_mutex;
  std::condition_variable m_cv;
  bool m_stop = false;
  std::thread m_thread;
  std::map<std::string, Clock::time_point> m_last_activity;
};

}  // namespace boxd::local
