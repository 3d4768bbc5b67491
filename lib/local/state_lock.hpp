// The lock that keeps two servers off one state dir: <state>/server.lock,
// held for the server's life.
//
// A POSIX record lock (fcntl F_SETLK), not flock(): a record lock belongs
// to the process that took it and is not inherited across fork(). The
// server forks (the warm middles, runtime_warm.cpp); a forked child shares
// the server's open file descriptions until its first instructions close
// them, so with flock() a server killed at that moment left its lock held by
// a child that had not run yet, and a restart right after the kill was
// refused ("another boxd local server is using ..."). A record lock goes
// with the server. What it costs: closing any descriptor of the lock file
// in the server would drop the lock, so nothing else in the server opens it.
#pragma once

#include <filesystem>

namespace boxd::local {

class StateLock {
 public:
  // Takes the lock of `dir` or throws (InvalidArgument: another server
  // holds it; Internal: the file cannot be opened).
  explicit StateLock(const std::filesystem::path& dir);
  ~StateLock();
  StateLock(const StateLock&) = delete;
  StateLock& operator=(const StateLock&) = delete;

 private:
  int m_fd = -1;
};

}  // namespace boxd::local
