#include "local/idle.hpp"

#include <exception>

#include "common/log.hpp"

namespace boxd::local {

IdleWatcher::IdleWatcher(Store& store, Boxes& boxes) : m_store(store), m_boxes(boxes) {}

IdleWatcher::~IdleWatcher() {
  stop();
}

void IdleWatcher::touch(const std::string& box_id, Clock::time_point when) {
  std::lock_guard lock(m_mutex);
  m_last_activity[box_id] = when;
}

void IdleWatcher::start() {
  std::lock_guard guard(m_mutex);
  if (m_thread.joinable()) {
    return;
  }
  m_stop = false;
  m_thread = std::thread([this] {
    std::unique_lock lock(m_mutex);
    while (!m_stop) {
      m_cv.wait_for(lock, std::chrono::seconds(1));
      if (m_stop) {
        break;
      }
      lock.unlock();
      try {
        tick(Clock::now());
      } catch (const std::exception& e) {
        logging::info(std::string("idle watcher: ") + e.what());
      }
      lock.lock();
    }
  });
}

void IdleWatcher::stop() {
  {
    std::lock_guard lock(m_mutex);
    m_stop = true;
  }
  m_cv.notify_all();
  if (m_thread.joinable()) {
    m_thread.join();
  }
}

bool IdleWatcher::last_activity(const BoxRecord& box, Clock::time_point now,
                                Clock::time_point& last) {
  const bool watched = (box.status == BoxStatus::Running || box.status == BoxStatus::Suspended) &&
                       (box.auto_suspend_timeout_secs > 0 || box.auto_hibernate_timeout_secs > 0);
  std::lock_guard lock(m_mutex);
  if (!watched) {
    m_last_activity.erase(box.id);
    return false;
  }
  auto [it, inserted] = m_last_activity.try_emplace(box.id, now);
  last = it->second;
  return !inserted;
}

void IdleWatcher::tick(Clock::time_point now) {
  for (const auto& box : m_store.boxes()) {
    Clock::time_point last;
    if (!last_activity(box, now, last)) {
      continue;
    }
    if (box.status == BoxStatus::Running &&
        m_boxes.runtime().exec_in_flight(m_boxes.spec_of(box), box.handle)) {
      touch(box.id, now);  // busy for this whole round
      continue;
    }
    const auto idle = std::chrono::duration_cast<std::chrono::seconds>(now - last).count();
    const bool hibernate =
        box.auto_hibernate_timeout_secs > 0 && idle >= box.auto_hibernate_timeout_secs;
    const bool suspend = !hibernate && box.status == BoxStatus::Running &&
                         box.auto_suspend_timeout_secs > 0 && idle >= box.auto_suspend_timeout_secs;
    if (hibernate || suspend) {
      put_to_sleep(box, hibernate, static_cast<long long>(idle));
    }
  }
}

void IdleWatcher::put_to_sleep(const BoxRecord& box, bool hibernate, long long idle_secs) {
  auto op = m_boxes.op_lock(box.id);
  std::unique_lock guard(*op, std::try_to_lock);
  if (!guard.owns_lock()) {
    return;
  }
  auto current = m_store.find_box(box.owner, box.id);
  if (!current || current->status != box.status) {
    return;
  }
  const std::string what = "box " + box.name + " (" + box.owner + ") ";
  try {
    if (hibernate) {
      m_boxes.stop_and_record(*current, BoxStatus::Hibernated);
      logging::info(what + "hibernated after " + std::to_string(idle_secs) + " s idle");
    } else {
      m_boxes.runtime().suspend(m_boxes.spec_of(*current), current->handle);
      m_boxes.set_status(box.id, BoxStatus::Suspended);
      logging::info(what + "suspended after " + std::to_string(idle_secs) + " s idle");
    }
  } catch (const std::exception& e) {
    logging::info("could not " + std::string(hibernate ? "hibernate" : "suspend") + " idle box " +
                  box.name + ": " + e.what());
  }
}

}  // namespace boxd::local
