#include "boxd/term/spinner.hpp"

#include <chrono>
#include <iterator>

namespace boxd::cli {

namespace {
constexpr const char* k_frames[] = {"|", "/", "-", "\\"};
constexpr auto k_frame_interval = std::chrono::milliseconds(100);
}  // namespace

Spinner::Spinner(std::ostream& err, bool enabled, std::string label)
    : m_err(err), m_label(std::move(label)) {
  if (enabled) {
    // The first frame at once, so even a fast call shows what it did.
    m_err << "\r" << k_frames[0] << " " << m_label << std::flush;
    m_thread = std::thread([this] { run(); });
  }
}

Spinner::~Spinner() {
  stop();
}

void Spinner::stop() {
  if (!m_thread.joinable()) {
    return;
  }
  {
    std::lock_guard lock(m_mutex);
    m_stopping = true;
  }
  m_wake.notify_all();
  m_thread.join();
  // Carriage return, then erase to the end of the line.
  m_err << "\r\x1b[K" << std::flush;
}

void Spinner::run() {
  std::unique_lock lock(m_mutex);
  for (std::size_t frame = 1;; ++frame) {
    if (m_wake.wait_for(lock, k_frame_interval, [this] { return m_stopping; })) {
      return;
    }
    m_err << "\r" << k_frames[frame % std::size(k_frames)] << " " << m_label << std::flush;
  }
}

}  // namespace boxd::cli
