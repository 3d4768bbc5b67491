#include "local/spare_images.hpp"

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <system_error>
#include <utility>

#include "common/log.hpp"
#include "local/disk_images.hpp"

namespace boxd::local {

namespace fs = std::filesystem;

constexpr auto k_refill_delay = std::chrono::milliseconds(60);

SpareImages::SpareImages(fs::path dir, std::uint64_t size, std::size_t count)
    : m_dir(std::move(dir)), m_size(size), m_count(count) {
  std::error_code ec;
  fs::remove_all(m_dir, ec);
  fs::create_directories(m_dir, ec);
  m_thread = std::jthread([this](const std::stop_token& stop) { run(stop); });
}

SpareImages::~SpareImages() {
  m_thread.request_stop();
  m_wake.notify_all();
}

bool SpareImages::take(const fs::path& image) {
  // Never waits: the thread holding the lock runs at idle priority and may
  // not get a CPU soon on a busy host; the caller then makes an image.
  std::unique_lock lock(m_mutex, std::try_to_lock);
  if (!lock.owns_lock()) {
    return false;
  }
  while (!m_ready.empty()) {
    const fs::path spare = std::move(m_ready.back());
    m_ready.pop_back();
    if (::rename(spare.c_str(), image.c_str()) == 0) {
      m_wake.notify_all();
      return true;
    }
  }
  return false;
}

void SpareImages::run(const std::stop_token& stop) {
  // Idle priority for this thread and the mkfs it runs (a child inherits
  // it): the spare made after a take must not slow the boot that took it.
  sched_param idle{};
  pthread_setschedparam(pthread_self(), SCHED_IDLE, &idle);
  syscall(SYS_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */, static_cast<int>(gettid()),
          3 << 13 /* IOPRIO_CLASS_IDLE */);
  bool failed_before = false;
  while (!stop.stop_requested()) {
    fs::path name;
    {
      std::unique_lock lock(m_mutex);
      m_wake.wait(lock, stop, [this] { return m_ready.size() < m_count; });
      // Not at once: the box that took one is still booting, and its
      // fsyncs would wait for mkfs's writes (one journal on the state dir's
      // file system). A box create takes ~20 ms.
      m_wake.wait_for(lock, stop, k_refill_delay, [] { return false; });
      if (stop.stop_requested()) {
        return;
      }
      name = m_dir / (std::to_string(m_made++) + ".img");
    }
    const fs::path partial = m_dir / "partial";
    try {
      std::error_code ec;
      fs::remove(DiskImages::image_of(partial), ec);
      DiskImages::make_image(DiskImages::image_of(partial), m_size, 0, 0);
      fs::rename(DiskImages::image_of(partial), name);
      std::lock_guard lock(m_mutex);
      m_ready.push_back(name);
      failed_before = false;
    } catch (const std::exception& e) {
      if (!failed_before) {
        logging::warn(std::string("could not make a spare box disk: ") + e.what());
      }
      failed_before = true;
      std::unique_lock lock(m_mutex);
      m_wake.wait_for(lock, stop, std::chrono::seconds(30), [] { return false; });
    }
  }
}

}  // namespace boxd::local
