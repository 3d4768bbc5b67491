// Warm middles kept ready, one per running box (runtime_support.hpp,
// WarmMiddle): an exec into a box that has one skips the cgroup migration
// that dominates its start. One thread makes them, after a box boots and
// after each start that used (or could not use) one, so the next exec
// finds one; a box that is never exec'd into costs one idle process.
//
// Rules: a middle is only ever used for the init it was made for (a
// rebooted box gets a new one); discard() kills a box's middle and drops
// requests still queued for it, and it waits for one being made, so that
// the box's cgroups can be removed right after it. At most `capacity`
// boxes have one; the rest start cold, exactly as before.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "local/runtime.hpp"
#include "local/runtime_support.hpp"

namespace boxd::local {

class WarmPool {
 public:
  // Makes a warm middle for a running box (throws or returns nullptr when it cannot).
  using Maker = std::function<std::unique_ptr<WarmMiddle>(const BoxSpec&, const BoxHandle&)>;

  explicit WarmPool(Maker maker, std::size_t capacity = 64);
  ~WarmPool();
  WarmPool(const WarmPool&) = delete;
  WarmPool& operator=(const WarmPool&) = delete;

  // The box's warm middle for this init, or nullptr.
  std::unique_ptr<WarmMiddle> take(const std::string& box_id, const BoxHandle& handle);
  // Asks for one in the background (nothing when the box has one).
  void refill(const BoxSpec& box, const BoxHandle& handle);
  // Kills the box's warm middle and forgets what was asked for it.
  void discard(const std::string& box_id);
  // Boxes with a warm middle now (tests, doctor).
  std::size_t ready() const;

 private:
  struct Request {
    BoxSpec box;
    BoxHandle handle;
    std::uint64_t generation = 0;
  };
  struct Entry {
    BoxHandle handle;
    std::unique_ptr<WarmMiddle> middle;
  };

  void run();
  bool wanted(const Request& request);

  Maker m_maker;
  std::size_t m_capacity;
  mutable std::mutex m_mutex;
  std::condition_variable m_cv;
  bool m_stop = false;
  std::uint64_t m_discards = 0;
  std::deque<Request> m_requests;
  std::set<std::string> m_queued;       // boxes with a request in m_requests
  std::optional<std::string> m_making;  // the box whose middle is being forked now
  std::condition_variable m_made;       // m_making was cleared
  std::map<std::string, Entry> m_ready;
  std::map<std::string, std::uint64_t> m_generation;  // per box: set by discard()
  std::thread m_thread;                               // last: starts once the rest is built
};

}  // namespace boxd::local
