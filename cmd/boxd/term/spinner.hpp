// A spinner on stderr for calls that take a while (box create, box fork).
//
// A thread redraws one line ("\r<frame> <label>") every 100 ms; stop() (or
// the destructor) wakes it, joins it and erases the line, so whatever is
// printed next starts on a clean line. It draws only when stderr is a
// terminal: piped or redirected, nothing at all is written. The cursor is
// left visible and the terminal's modes untouched, so a spinner killed by a
// signal leaves at worst a stale line, never a broken terminal. Stop it
// before anything else writes to stderr or the terminal goes raw.
#pragma once

#include <condition_variable>
#include <mutex>
#include <ostream>
#include <string>
#include <thread>

namespace boxd::cli {

class Spinner {
 public:
  // enabled false (stderr not a terminal, -q): does nothing at all.
  Spinner(std::ostream& err, bool enabled, std::string label);
  ~Spinner();
  Spinner(const Spinner&) = delete;
  Spinner& operator=(const Spinner&) = delete;

  // Stops drawing and erases the line (idempotent).
  void stop();

 private:
  void run();

  std::ostream& m_err;
  std::string m_label;
  std::mutex m_mutex;
  std::condition_variable m_wake;
  bool m_stopping = false;
  std::thread m_thread;
};

}  // namespace boxd::cli
