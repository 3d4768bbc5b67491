// Per-user stream slots and the stall watch (stream_limits.hpp).
#include "local/stream_limits.hpp"

#include <utility>
#include <vector>

#include "local/fault.hpp"

namespace boxd::local {

UserSlots::UserSlots(int max, int total_max, std::string what, std::string flag,
                     std::string total_flag)
    : m_max(max),
      m_total_max(total_max),
      m_what(std::move(what)),
      m_flag(std::move(flag)),
      m_total_flag(std::move(total_flag)) {}

UserSlots::Slot::Slot(Slot&& other) noexcept
    : m_owner(std::exchange(other.m_owner, nullptr)), m_user(std::move(other.m_user)) {}

UserSlots::Slot::~Slot() {
  if (m_owner != nullptr) {
    m_owner->give_back(m_user);
  }
}

UserSlots::Slot UserSlots::take(const std::string& user) {
  std::string holder = user;  // copied before anything is counted (a copy may throw)
  std::lock_guard lock(m_mutex);
  int& used = m_in_use[user];
  if (used >= m_max) {
    fail(Fault::ResourceExhausted, "too many " + m_what + " at once: " + std::to_string(m_max) +
                                       " open for this user (the server's " + m_flag +
                                       "); wait for one to end");
  }
  if (m_total >= m_total_max) {
    if (used == 0) {
      m_in_use.erase(user);
    }
    fail(Fault::ResourceExhausted,
         "too many " + m_what + " on this server: " + std::to_string(m_total_max) +
             " open for all users together (the server's " + m_total_flag + "); try again later");
  }
  ++used;
  ++m_total;
  return Slot(this, std::move(holder));
}

int UserSlots::in_use(const std::string& user) const {
  std::lock_guard lock(m_mutex);
  auto it = m_in_use.find(user);
  return it == m_in_use.end() ? 0 : it->second;
}

void UserSlots::give_back(const std::string& user) {
  std::lock_guard lock(m_mutex);
  auto it = m_in_use.find(user);
  if (it != m_in_use.end() && --it->second <= 0) {
    m_in_use.erase(it);
  }
  --m_total;
}

int UserSlots::total_in_use() const {
  std::lock_guard lock(m_mutex);
  return m_total;
}

StallWatch::StallWatch(std::chrono::milliseconds limit, OnStall on_stall)
    : m_limit(limit), m_on_stall(std::move(on_stall)), m_thread([this] { run(); }) {}

StallWatch::~StallWatch() {
  {
    std::lock_guard lock(m_mutex);
    m_stop = true;
  }
  m_cv.notify_all();
  m_thread.join();
}

StallWatch::Wait::Wait(StallWatch& watch, const grpc::ServerContextBase& context, const char* what,
                       const std::string& user)
    : m_watch(watch) {
  bool first;
  {
    std::lock_guard lock(watch.m_mutex);
    m_id = watch.m_next_id++;
    first = watch.m_waits.empty();
    watch.m_waits.emplace(m_id, Entry{Clock::now() + watch.m_limit, &context, what, user});
  }
  if (first) {
    watch.m_cv.notify_all();  // the thread sleeps without a deadline when there is no wait
  }
}

StallWatch::Wait::~Wait() {
  // Under the mutex: once this returns the thread no longer touches the call.
  std::lock_guard lock(m_watch.m_mutex);
  m_watch.m_waits.erase(m_id);
}

std::uint64_t StallWatch::stalls() const {
  std::lock_guard lock(m_mutex);
  return m_stalls;
}

void StallWatch::run() {
  std::unique_lock lock(m_mutex);
  while (!m_stop) {
    if (m_waits.empty()) {
      m_cv.wait(lock);
      continue;
    }
    const auto deadline = m_waits.begin()->second.deadline;
    if (Clock::now() < deadline) {
      m_cv.wait_until(lock, deadline);
      continue;
    }
    // Every overdue call, cancelled while its Wait cannot end (the mutex is
    // held), then forgotten: its Wait's destructor finds nothing to erase.
    std::vector<std::pair<std::string, std::string>> stalled;
    const auto now = Clock::now();
    while (!m_waits.empty() && m_waits.begin()->second.deadline <= now) {
      const Entry& entry = m_waits.begin()->second;
      entry.context->TryCancel();
      stalled.emplace_back(entry.what, entry.user);
      m_waits.erase(m_waits.begin());
      ++m_stalls;
    }
    lock.unlock();
    if (m_on_stall) {
      for (const auto& [what, user] : stalled) {
        m_on_stall(what, user);
      }
    }
    lock.lock();
  }
}

}  // namespace boxd::local
