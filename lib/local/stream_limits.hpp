// What one user's streams may hold of the server. A sync gRPC stream
// (uploads, downloads, listings, log streams) holds a server thread for as
// long as it is open, most of them a file helper process in the box too; an
// Exec holds a pump thread, a wakeup pipe and the command's descriptors. A
// tenant who opens streams and then never feeds them would otherwise pin
// threads, processes and descriptors without bound and starve the other
// tenants (tests/security/test_dos.py has the attacks). Two defences:
//
//  - UserSlots: at most N open streams of a kind per user; past it a call
//    fails at once with RESOURCE_EXHAUSTED (no helper started, the thread
//    freed). Each user counts alone: one tenant at its cap leaves the
//    others untouched. A second, server-wide cap bounds all users together
//    (the server's descriptors and threads are one pool: with many users,
//    the per-user caps alone would let them exhaust it, and every call
//    would then fail in some worse way).
//  - StallWatch: a call that waits on its client for the next message
//    (an upload's next chunk) longer than a limit is cancelled. One thread
//    for the server; a Wait registers the call while it blocks. Waits on
//    the client taking output (downloads, exec output, log streams) are not
//    watched: a client paused in a pager is legitimate, and the slots bound
//    what those hold.
#pragma once

#include <grpcpp/server_context.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>

namespace boxd::local {

class UserSlots {
 public:
  // `what`: the kind of stream, plural ("file transfers"); `flag` and
  // `total_flag`: the server flags that set max (per user) and total_max
  // (all users together), for the error messages.
  UserSlots(int max, int total_max, std::string what, std::string flag, std::string total_flag);

  class Slot {
   public:
    Slot(Slot&& other) noexcept;
    Slot& operator=(Slot&&) = delete;
    Slot(const Slot&) = delete;
    ~Slot();

   private:
    friend class UserSlots;
    Slot(UserSlots* owner, std::string user) : m_owner(owner), m_user(std::move(user)) {}
    UserSlots* m_owner;
    std::string m_user;
  };

  // One slot of `user`, held until the Slot is destroyed; fails with
  // Fault::ResourceExhausted when the user holds max already, or all users
  // hold total_max.
  Slot take(const std::string& user);
  // Slots `user` holds now, and all users (tests).
  int in_use(const std::string& user) const;
  int total_in_use() const;

 private:
  void give_back(const std::string& user);

  const int m_max;
  const int m_total_max;
  const std::string m_what;
  const std::string m_flag;
  const std::string m_total_flag;
  mutable std::mutex m_mutex;
  std::map<std::string, int> m_in_use;
  int m_total = 0;
};

class StallWatch {
 public:
  using Clock = std::chrono::steady_clock;
  // on_stall(what, user): a call was cancelled (for the log).
  using OnStall = std::function<void(const std::string& what, const std::string& user)>;

  StallWatch(std::chrono::milliseconds limit, OnStall on_stall);
  ~StallWatch();
  StallWatch(const StallWatch&) = delete;
  StallWatch& operator=(const StallWatch&) = delete;

  std::chrono::milliseconds limit() const { return m_limit; }

  // While a Wait lives, its call is cancelled (TryCancel) once the Wait is
  // `limit` old. Make one around each blocking read of a client message.
  class Wait {
   public:
    Wait(StallWatch& watch, const grpc::ServerContextBase& context, const char* what,
         const std::string& user);
    ~Wait();
    Wait(const Wait&) = delete;
    Wait& operator=(const Wait&) = delete;

   private:
    StallWatch& m_watch;
    std::uint64_t m_id;
  };

  // Calls cancelled so far (tests, the log).
  std::uint64_t stalls() const;

 private:
  struct Entry {
    Clock::time_point deadline;
    const grpc::ServerContextBase* context;
    const char* what;
    std::string user;
  };

  void run();

  const std::chrono::milliseconds m_limit;
  const OnStall m_on_stall;
  mutable std::mutex m_mutex;
  std::condition_variable m_cv;
  bool m_stop = false;
  std::uint64_t m_next_id = 0;
  std::uint64_t m_stalls = 0;
  // By id, which is also by deadline: the limit is the same for every Wait.
  std::map<std::uint64_t, Entry> m_waits;
  std::thread m_thread;
};

}  // namespace boxd::local
