// The tools/call requests in flight: each on its own thread, findable by
// request id for notifications/cancelled, joined when done.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <iosfwd>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "boxd/mcp/call_state.hpp"
#include "boxd/mcp/json_rpc.hpp"
#include "boxd/mcp/policy.hpp"
#include "boxd/mcp/tool.hpp"

namespace boxd::cli::mcp {

struct CallEnv {
  Writer& writer;
  Policy& policy;
  const Limits& limits;
  std::function<client::ClientApi&()> client;  // serialised by the caller
  std::ostream& log;
  int verbose = 0;
};

class Calls {
 public:
  static constexpr std::size_t k_max_in_flight = 64;

  explicit Calls(CallEnv env) : m_env(std::move(env)) {}
  ~Calls() { cancel_all(); }
  Calls(const Calls&) = delete;
  Calls& operator=(const Calls&) = delete;

  // Starts `tool` for request `id` (arguments already checked to be an object).
  void start(const Tool& tool, const json& id, json arguments, json progress_token);
  // notifications/cancelled: cancels the call with this id, if still running.
  void cancel(const json& id);
  // Joins the calls that are done.
  void reap();
  // Cancels every call and joins them all.
  void cancel_all();
  // EOF on stdin: lets the calls in flight finish (and answer) for up to
  // `grace`, then cancels the rest.
  void drain(std::chrono::milliseconds grace);
  std::size_t in_flight();

 private:
  struct Running {
    std::string key;  // the request id, serialised
    std::shared_ptr<CallState> state;
    std::thread thread;
    std::atomic<bool> done{false};
  };
  void run(const Tool& tool, const json& id, const json& arguments, const json& progress_token,
           Running& running);
  json execute(const Tool& tool, const json& arguments, const json& progress_token,
               CallState& state);

  CallEnv m_env;
  std::mutex m_mutex;
  std::mutex m_client_mutex;
  std::list<Running> m_running;
};

// The tools/call result for a structured result / for a failure.
json success_result(const json& structured);
json error_result(const std::string& message);

}  // namespace boxd::cli::mcp
