// See warm_pool.hpp.
#include "local/warm_pool.hpp"

#include <utility>

namespace boxd::local {

WarmPool::WarmPool(Maker maker, std::size_t capacity)
    : m_maker(std::move(maker)), m_capacity(capacity), m_thread([this] { run(); }) {}

WarmPool::~WarmPool() {
  {
    std::lock_guard lock(m_mutex);
    m_stop = true;
    m_requests.clear();
  }
  m_cv.notify_all();
  m_thread.join();
  std::lock_guard lock(m_mutex);
  m_ready.clear();
}

std::unique_ptr<WarmMiddle> WarmPool::take(const std::string& box_id, const BoxHandle& handle) {
  std::unique_ptr<WarmMiddle> middle;
  bool same = false;
  {
    std::lock_guard lock(m_mutex);
    auto found = m_ready.find(box_id);
    if (found == m_ready.end()) {
      return nullptr;
    }
    middle = std::move(found->second.middle);
    same = found->second.handle.init_pid == handle.init_pid &&
           found->second.handle.init_start_time == handle.init_start_time;
    m_ready.erase(found);
  }
  if (!same) {
    return nullptr;  // made for an init that is gone: killed here, outside the lock
  }
  return middle;
}

void WarmPool::refill(const BoxSpec& box, const BoxHandle& handle) {
  {
    std::lock_guard lock(m_mutex);
    if (m_stop || m_ready.contains(box.id)) {
      return;
    }
    m_requests.push_back(Request{box, handle, m_generation[box.id]});
  }
  m_cv.notify_one();
}

void WarmPool::discard(const std::string& box_id) {
  std::unique_ptr<WarmMiddle> middle;
  {
    std::lock_guard lock(m_mutex);
    m_generation[box_id] = ++m_discards;
    auto found = m_ready.find(box_id);
    if (found != m_ready.end()) {
      middle = std::move(found->second.middle);
      m_ready.erase(found);
    }
  }
  // Killed and reaped here, outside the lock.
}

std::size_t WarmPool::ready() const {
  std::lock_guard lock(m_mutex);
  return m_ready.size();
}

void WarmPool::run() {
  std::unique_lock lock(m_mutex);
  while (true) {
    m_cv.wait(lock, [this] { return m_stop || !m_requests.empty(); });
    if (m_stop) {
      return;
    }
    Request request = std::move(m_requests.front());
    m_requests.pop_front();
    // Made under the lock: discard() waits for it, so a box's cgroups are
    // never removed while its middle is being forked into them.
    make(request);
  }
}

void WarmPool::make(const Request& request) {
  const std::string& id = request.box.id;
  if (m_ready.contains(id) || m_ready.size() >= m_capacity ||
      m_generation[id] != request.generation) {
    return;
  }
  try {
    auto middle = m_maker(request.box, request.handle);
    if (middle) {
      m_ready[id] = Entry{request.handle, std::move(middle)};
    }
  } catch (const std::exception&) {
    // The box stopped meanwhile, or fork failed: its next exec starts cold.
  }
}

}  // namespace boxd::local
