#include "boxd/mcp/calls.hpp"

#include <chrono>
#include <ostream>

#include <fmt/format.h>

#include "common/error.hpp"

namespace boxd::cli::mcp {

json success_result(const json& structured) {
  return {{"content",
           {{{"type", "text"},
             {"text", structured.dump(2, ' ', false, json::error_handler_t::replace)}}}},
          {"structuredContent", structured},
          {"isError", false}};
}

json error_result(const std::string& message) {
  return {{"content", {{{"type", "text"}, {"text", message}}}}, {"isError", true}};
}

namespace {

std::string error_text(const Error& e) {
  std::string text = fmt::format("error: {} ({})", e.what(), error_class_name(e.error_class()));
  if (!e.hint().empty()) {
    text += "\nhint: " + e.hint();
  }
  return text;
}

}  // namespace

void Calls::start(const Tool& tool, const json& id, json arguments, json progress_token) {
  std::lock_guard lock(m_mutex);
  Running& running = m_running.emplace_back();
  running.key = id.dump();
  running.state = std::make_shared<CallState>();
  running.thread = std::thread([this, &tool, id, arguments = std::move(arguments),
                                progress_token = std::move(progress_token),
                                &running] { run(tool, id, arguments, progress_token, running); });
}

json Calls::execute(const Tool& tool, const json& arguments, const json& progress_token,
                    CallState& state) {
  client::ClientApi* client = nullptr;
  {
    std::lock_guard lock(m_client_mutex);
    client = &m_env.client();
  }
  ToolContext context{arguments, *client, m_env.policy, m_env.limits, state, {}};
  if (!progress_token.is_null()) {
    context.progress = [this, &progress_token, &state](double progress,
                                                       const std::string& message) {
      if (!state.cancelled()) {
        m_env.writer.send(rpc_notification(
            "notifications/progress",
            {{"progressToken", progress_token}, {"progress", progress}, {"message", message}}));
      }
    };
  }
  return tool.run(context);
}

void Calls::run(const Tool& tool, const json& id, const json& arguments, const json& progress_token,
                Running& running) {
  const auto started = std::chrono::steady_clock::now();
  json result;
  std::string outcome = "ok";
  try {
    result = success_result(execute(tool, arguments, progress_token, *running.state));
  } catch (const Error& e) {
    result = error_result(error_text(e));
    outcome = std::string(error_class_name(e.error_class()));
  } catch (const std::exception& e) {
    result = error_result(std::string("error: ") + e.what() + " (InternalError)");
    outcome = "InternalError";
  }
  const bool cancelled = running.state->cancelled();
  if (!cancelled) {
    m_env.writer.send(rpc_result(id, std::move(result)));
  }
  if (m_env.verbose > 0) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - started)
                        .count();
    m_env.log << fmt::format("boxd mcp: tools/call {} (id {}): {} in {} ms\n", tool.name,
                             running.key, cancelled ? "cancelled" : outcome, ms)
              << std::flush;
  }
  running.done.store(true);
}

void Calls::cancel(const json& id) {
  const std::string key = id.dump();
  std::lock_guard lock(m_mutex);
  for (auto& running : m_running) {
    if (running.key == key && !running.done.load()) {
      running.state->cancel();
    }
  }
}

void Calls::reap() {
  std::lock_guard lock(m_mutex);
  for (auto it = m_running.begin(); it != m_running.end();) {
    if (it->done.load()) {
      it->thread.join();
      it = m_running.erase(it);
    } else {
      ++it;
    }
  }
}

void Calls::cancel_all() {
  std::lock_guard lock(m_mutex);
  for (auto& running : m_running) {
    running.state->cancel();
  }
  for (auto& running : m_running) {
    running.thread.join();
  }
  m_running.clear();
}

void Calls::drain(std::chrono::milliseconds grace) {
  const auto deadline = std::chrono::steady_clock::now() + grace;
  for (;;) {
    reap();
    if (in_flight() == 0 || std::chrono::steady_clock::now() >= deadline) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  cancel_all();
}

std::size_t Calls::in_flight() {
  std::lock_guard lock(m_mutex);
  return m_running.size();
}

}  // namespace boxd::cli::mcp
