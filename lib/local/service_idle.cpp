// The idle watcher of boxd local: what makes auto-suspend and
// auto-hibernate timeouts real.
//
// How it works: every box has an idle clock (in memory, steady time) that
// inbound traffic restarts: an exec or file call (resolve_exec,
// open_box_root), a request through the HTTP proxy (route_host), and the
// box becoming running (boot, resume, wake) or its timeout being set. Once a
// second a thread looks at every running or suspended box that has a
// timeout: idle for auto_suspend_timeout_secs -> suspended (frozen, exactly
// like SuspendVm); idle for auto_hibernate_timeout_secs -> "hibernated" (its
// processes stopped, its disk kept; WakeVm or StartVm boots it again).
//
// An exec session in flight is traffic too, for as long as it runs: the
// watcher looks for processes in the box's PID namespace whose parent chain
// reaches this server (exec'd commands are our children; daemons they left
// behind are reparented to the box's init and do not count). The process
// runtime has no init to tell boxes apart, so there only the calls count.
//
// What can go wrong: the clocks live in memory, so a restarted server
// starts every box's clock afresh (a box is never suspended early because
// of a restart). The watcher takes a box's operation lock with try_lock and
// skips the box this round when a lifecycle call holds it.
#include <dirent.h>
#include <unistd.h>

#include <fcntl.h>

#include <cstdlib>

#include "local/service.hpp"

namespace boxd::local {

namespace {

using Clock = std::chrono::steady_clock;

std::string ns_of(int pid) {
  char buffer[128];
  const std::string link = "/proc/" + std::to_string(pid) + "/ns/pid";
  const ssize_t n = readlink(link.c_str(), buffer, sizeof buffer - 1);
  return n > 0 ? std::string(buffer, static_cast<std::size_t>(n)) : std::string();
}

int parent_of(int pid) {
  const std::string path = "/proc/" + std::to_string(pid) + "/stat";
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return 0;
  }
  char buffer[512];
  const ssize_t n = read(fd, buffer, sizeof buffer - 1);
  close(fd);
  if (n <= 0) {
    return 0;
  }
  const std::string text(buffer, static_cast<std::size_t>(n));
  const auto paren = text.rfind(')');  // the command name may hold spaces
  if (paren == std::string::npos || paren + 4 >= text.size()) {
    return 0;
  }
  return std::atoi(text.c_str() + paren + 4);  // ") S PPID ..."
}

// True when a process of the box (PID namespace of init_pid) descends from
// this server rather than from the box's init: an exec'd command.
bool exec_in_flight(int init_pid) {
  if (init_pid <= 0) {
    return false;
  }
  const std::string box_ns = ns_of(init_pid);
  if (box_ns.empty()) {
    return false;
  }
  const int self = static_cast<int>(getpid());
  DIR* proc = opendir("/proc");
  if (proc == nullptr) {
    return false;
  }
  bool found = false;
  while (dirent* entry = readdir(proc)) {
    char* end = nullptr;
    const long pid = std::strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0' || pid == init_pid ||
        ns_of(static_cast<int>(pid)) != box_ns) {
      continue;
    }
    int at = static_cast<int>(pid);
    for (int step = 0; step < 64 && at > 1 && at != init_pid; ++step) {
      at = parent_of(at);
      if (at == self) {
        found = true;
        break;
      }
    }
    if (found) {
      break;
    }
  }
  closedir(proc);
  return found;
}

}  // namespace

BoxdService::~BoxdService() {
  stop_idle_watcher();
}

void BoxdService::touch_activity(const std::string& box_id) {
  std::lock_guard lock(m_idle_mutex);
  m_last_activity[box_id] = Clock::now();
}

void BoxdService::start_idle_watcher() {
  std::lock_guard guard(m_idle_mutex);
  if (m_idle_thread.joinable()) {
    return;
  }
  m_idle_stop = false;
  m_idle_thread = std::thread([this] {
    std::unique_lock lock(m_idle_mutex);
    while (!m_idle_stop) {
      m_idle_cv.wait_for(lock, std::chrono::seconds(1));
      if (m_idle_stop) {
        break;
      }
      lock.unlock();
      try {
        idle_tick();
      } catch (const std::exception& e) {
        log(std::string("idle watcher: ") + e.what());
      }
      lock.lock();
    }
  });
}

void BoxdService::stop_idle_watcher() {
  {
    std::lock_guard lock(m_idle_mutex);
    m_idle_stop = true;
  }
  m_idle_cv.notify_all();
  if (m_idle_thread.joinable()) {
    m_idle_thread.join();
  }
}

void BoxdService::idle_tick() {
  const auto now = Clock::now();
  for (const auto& box : m_store.boxes()) {
    const bool watched = (box.status == BoxStatus::Running || box.status == BoxStatus::Suspended) &&
                         (box.auto_suspend_timeout_secs > 0 || box.auto_hibernate_timeout_secs > 0);
    Clock::time_point last;
    {
      std::lock_guard lock(m_idle_mutex);
      if (!watched) {
        m_last_activity.erase(box.id);
        continue;
      }
      auto [it, inserted] = m_last_activity.try_emplace(box.id, now);
      last = it->second;
      if (inserted) {
        continue;
      }
    }
    if (box.status == BoxStatus::Running && exec_in_flight(box.handle.init_pid)) {
      touch_activity(box.id);
      continue;
    }
    const auto idle = std::chrono::duration_cast<std::chrono::seconds>(now - last).count();
    const bool hibernate =
        box.auto_hibernate_timeout_secs > 0 && idle >= box.auto_hibernate_timeout_secs;
    const bool suspend = !hibernate && box.status == BoxStatus::Running &&
                         box.auto_suspend_timeout_secs > 0 && idle >= box.auto_suspend_timeout_secs;
    if (!hibernate && !suspend) {
      continue;
    }
    auto op = m_boxes.op_lock(box.id);
    std::unique_lock guard(*op, std::try_to_lock);
    if (!guard.owns_lock()) {
      continue;
    }
    auto current = m_store.find_box(box.owner, box.id);
    if (!current || current->status != box.status) {
      continue;
    }
    try {
      if (hibernate) {
        m_boxes.stop_and_record(*current, BoxStatus::Hibernated);
        log("box " + box.name + " (" + box.owner + ") hibernated after " + std::to_string(idle) +
            " s idle");
      } else {
        m_runtime.suspend(m_boxes.spec_of(*current), current->handle);
        m_boxes.set_status(box.id, BoxStatus::Suspended);
        log("box " + box.name + " (" + box.owner + ") suspended after " + std::to_string(idle) +
            " s idle");
      }
    } catch (const std::exception& e) {
      log("could not " + std::string(hibernate ? "hibernate" : "suspend") + " idle box " +
          box.name + ": " + e.what());
    }
  }
}

}  // namespace boxd::local
