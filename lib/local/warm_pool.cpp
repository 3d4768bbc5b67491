// See warm_pool.hpp.
#include "local/warm_pool.hpp"

#include <algorithm>
#include <utility>

namespace boxd::local {

WarmPool::WarmPool(Maker maker, std::size_t capacity, std::chrono::milliseconds quiet)
    : m_maker(std::move(maker)),
      m_capacity(capacity),
      m_quiet(quiet),
      m_thread([this] { run(); }) {}

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
    if (m_stop || m_ready.contains(box.id) || m_making == box.id) {
      return;
    }
    // One request per box; asking again moves it later (a burst of execs
    // into the box asks for one middle, after the burst).
    m_requests[box.id] =
        Request{box, handle, m_generation[box.id], std::chrono::steady_clock::now() + m_quiet};
  }
  m_cv.notify_one();
}

void WarmPool::discard(const std::string& box_id) {
  std::unique_ptr<WarmMiddle> middle;
  {
    std::unique_lock lock(m_mutex);
    m_generation[box_id] = ++m_discards;
    m_requests.erase(box_id);
    auto found = m_ready.find(box_id);
    if (found != m_ready.end()) {
      middle = std::move(found->second.middle);
      m_ready.erase(found);
    }
    // One being forked into the box's cgroups now is waited for (and then
    // dropped by its generation), so the caller may remove them after this.
    m_made.wait(lock, [&] { return m_making != box_id; });
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
    auto next =
        std::min_element(m_requests.begin(), m_requests.end(),
                         [](const auto& a, const auto& b) { return a.second.due < b.second.due; });
    // A copy: the request may be erased (discard, destructor) while this waits.
    const auto due = next->second.due;
    if (due > std::chrono::steady_clock::now()) {
      m_cv.wait_until(lock, due);  // or a new request, a discard, the end
      continue;
    }
    Request request = std::move(next->second);
    m_requests.erase(next);
    if (!wanted(request)) {
      continue;
    }
    // Forked without the lock, so take() and refill() never wait behind a
    // fork; discard() waits for it through m_making.
    m_making = request.box.id;
    lock.unlock();
    std::unique_ptr<WarmMiddle> middle;
    try {
      middle = m_maker(request.box, request.handle);
    } catch (const std::exception&) {
      // The box stopped meanwhile, or fork failed: its next exec starts cold.
    }
    lock.lock();
    m_making.reset();
    if (middle && !m_stop && m_generation[request.box.id] == request.generation &&
        m_ready.size() < m_capacity) {
      m_ready[request.box.id] = Entry{request.handle, std::move(middle)};
    }
    m_made.notify_all();
    if (middle) {
      lock.unlock();
      middle.reset();  // not wanted any more (discarded meanwhile): killed outside the lock
      lock.lock();
    }
  }
}

bool WarmPool::wanted(const Request& request) {
  const std::string& id = request.box.id;
  return !m_ready.contains(id) && m_ready.size() < m_capacity &&
         m_generation[id] == request.generation;
}

}  // namespace boxd::local
