// Warm middles kept ready, one per running box (runtime_support.hpp,
// WarmMiddle): an exec into a box that has one skips the cgroup migration
// that dominates its start. One thread makes them once a box has been quiet
// for a moment after it booted or after an exec took (or could not take)
// its middle: an exec after a pause finds one, while a burst of execs into
// the box (where the migration is cheap, as it is back to back) does not
// pay for a fork of the server per exec.
//
// Rules: a middle is only ever used for the init it was made for (a
// rebooted box gets a new one); discard() kills a box's middle and drops
// the request queued for it, and it waits for one being made, so that the
// box's cgroups can be removed right after it. At most `capacity` boxes
// have one; the rest start cold, exactly as before.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "local/runtime.hpp"
#include "local/runtime_support.hpp"

namespace boxd::local {

class WarmPool {
 public:
  // Makes a warm middle for a running box (throws or returns nullptr when it cannot).
  using Maker = std::function<std::unique_ptr<WarmMiddle>(const BoxSpec&, const BoxHandle&)>;

  explicit WarmPool(Maker maker, std::size_t capacity = 64,
                    std::chrono::milliseconds quiet = std::chrono::milliseconds(50));
  ~WarmPool();
  WarmPool(const WarmPool&) = delete;
  WarmPool& operator=(const WarmPool&) = delete;

  // The box's warm middle for this init, or nullptr.
  std::unique_ptr<WarmMiddle> take(const std::string& box_id, const BoxHandle& handle);
  // Asks for one, made once the box has had no refill() for `quiet`
  // (nothing when the box has one).
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
    std::chrono::steady_clock::time_point due;
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
  std::chrono::milliseconds m_quiet;
  std::map<std::string, Request> m_requests;  // by box: at most one each
  std::optional<std::string> m_making;        // the box whose middle is being forked now
  std::condition_variable m_made;             // m_making was cleared
  std::map<std::string, Entry> m_ready;
  std::map<std::string, std::uint64_t> m_generation;  // per box: set by discard()
  std::thread m_thread;                               // last: starts once the rest is built
};

}  // namespace boxd::local
