#include "boxd/mcp/server.hpp"

#include <chrono>
#include <ostream>

#include <fmt/format.h>

#include "boxd/mcp/calls.hpp"
#include "boxd/mcp/json_rpc.hpp"
#include "common/version.hpp"

namespace boxd::cli::mcp {

namespace {

// After EOF on stdin, how long calls in flight may still finish and answer
// (a piped script gets its results) before they are cancelled (an agent
// that went away leaves no command running).
constexpr std::chrono::milliseconds k_eof_grace{5000};
constexpr std::size_t k_max_line = 256u << 20;  // a message (a file to write, in base64)

std::string instructions(const Policy& policy, const ServeOptions& options) {
  std::string text =
      "boxd boxes are Linux machines: box_create makes one, box_exec runs shell commands in it, "
      "box_read_file/box_write_file/box_list_dir move files, box_destroy removes it. Outputs "
      "longer than " +
      std::to_string(options.limits.max_output) + " bytes are cut (truncated: true).";
  if (policy.read_only()) {
    text += " This server is read-only: it only offers tools that change nothing.";
  }
  if (policy.restricts_names()) {
    text += " Only boxes matching " + policy.describe() +
            " are visible; new boxes need a name that matches.";
  }
  if (options.policy.max_boxes) {
    text += fmt::format(" At most {} box(es) created through this server may exist at once.",
                        *options.policy.max_boxes);
  }
  return text;
}

class Server {
 public:
  Server(const ServeOptions& options, const std::function<client::ClientApi&()>& client,
         std::ostream& log)
      : m_options(options),
        m_log(log),
        m_writer(options.out_fd),
        m_policy(options.policy),
        m_tools(all_tools()),
        m_calls({m_writer, m_policy, m_options.limits, client, log, options.verbose}) {}

  int run();

 private:
  void handle(const json& message);
  void handle_request(const json& id, const std::string& method, const json& params);
  void handle_notification(const std::string& method, const json& params);
  json initialize(const json& params);
  json list_tools() const;
  void call_tool(const json& id, const json& params);
  const Tool* find_tool(const std::string& name) const;
  bool offered(const Tool& tool) const { return !m_policy.read_only() || tool.read_only; }

  const ServeOptions& m_options;
  std::ostream& m_log;
  Writer m_writer;
  Policy m_policy;
  std::vector<Tool> m_tools;
  Calls m_calls;
};

int Server::run() {
  LineReader reader(m_options.in_fd, k_max_line);
  std::string line;
  for (;;) {
    const auto status = reader.next(line);
    m_calls.reap();
    if (status == LineReader::Status::End) {
      break;
    }
    if (status == LineReader::Status::TooLong) {
      m_writer.send(rpc_error(nullptr, k_invalid_request, "message too long"));
      continue;
    }
    json message = json::parse(line, nullptr, false);
    if (message.is_discarded()) {
      m_writer.send(rpc_error(nullptr, k_parse_error, "parse error: not one JSON document"));
      continue;
    }
    try {
      handle(message);
    } catch (const json::exception&) {  // a field of the wrong type
      m_writer.send(
          rpc_error(message.value("id", json(nullptr)), k_invalid_request, "malformed request"));
    }
  }
  m_calls.drain(k_eof_grace);
  return 0;
}

void Server::handle(const json& message) {
  if (!message.is_object() || message.value("jsonrpc", "") != "2.0") {
    m_writer.send(rpc_error(nullptr, k_invalid_request, "not a JSON-RPC 2.0 message"));
    return;
  }
  const auto method = message.find("method");
  if (method == message.end()) {
    return;  // a response: we send no requests
  }
  const json params = message.value("params", json::object());
  if (!method->is_string() || !params.is_object()) {
    m_writer.send(rpc_error(message.value("id", json(nullptr)), k_invalid_request,
                            "method must be a string and params an object"));
    return;
  }
  if (message.contains("id")) {
    handle_request(message["id"], method->get<std::string>(), params);
  } else {
    handle_notification(method->get<std::string>(), params);
  }
}

void Server::handle_request(const json& id, const std::string& method, const json& params) {
  if (m_options.verbose > 1) {
    m_log << "boxd mcp: " << method << " (id " << id.dump() << ")\n" << std::flush;
  }
  if (method == "initialize") {
    m_writer.send(rpc_result(id, initialize(params)));
  } else if (method == "ping") {
    m_writer.send(rpc_result(id, json::object()));
  } else if (method == "tools/list") {
    m_writer.send(rpc_result(id, list_tools()));
  } else if (method == "tools/call") {
    call_tool(id, params);
  } else {
    m_writer.send(rpc_error(id, k_method_not_found, "method not found: " + method));
  }
}

void Server::handle_notification(const std::string& method, const json& params) {
  if (method == "notifications/cancelled") {
    const auto id = params.find("requestId");
    if (id != params.end()) {
      m_calls.cancel(*id);
    }
  }
  // notifications/initialized and anything else: nothing to do.
}

json Server::initialize(const json& params) {
  const std::string version = negotiate_version(params.value("protocolVersion", json(nullptr)));
  if (m_options.verbose > 0) {
    const json info = params.value("clientInfo", json::object());
    m_log << fmt::format("boxd mcp: client {} {} asked for protocol {}, answering {}\n",
                         info.value("name", "?"), info.value("version", "?"),
                         params.value("protocolVersion", json("?")).dump(), version)
          << std::flush;
  }
  return {
      {"protocolVersion", version},
      {"capabilities", {{"tools", {{"listChanged", false}}}}},
      {"serverInfo", {{"name", "boxd"}, {"title", "boxd"}, {"version", k_version}}},
      {"instructions", instructions(m_policy, m_options)},
  };
}

json Server::list_tools() const {
  json tools = json::array();
  for (const auto& tool : m_tools) {
    if (offered(tool)) {
      tools.push_back(tool_descriptor(tool));
    }
  }
  return {{"tools", tools}};
}

const Tool* Server::find_tool(const std::string& name) const {
  for (const auto& tool : m_tools) {
    if (tool.name == name) {
      return &tool;
    }
  }
  return nullptr;
}

void Server::call_tool(const json& id, const json& params) {
  const json name = params.value("name", json(nullptr));
  const Tool* tool = name.is_string() ? find_tool(name.get<std::string>()) : nullptr;
  if (tool == nullptr) {
    m_writer.send(rpc_error(id, k_invalid_params, "unknown tool: " + name.dump()));
    return;
  }
  if (!offered(*tool)) {
    m_writer.send(rpc_result(
        id, error_result("error: " + tool->name +
                         " is not available: this server runs with --read-only (only tools "
                         "that change nothing) (UsageError)")));
    return;
  }
  json arguments = params.value("arguments", json::object());
  if (!arguments.is_object()) {
    m_writer.send(rpc_error(id, k_invalid_params, "arguments must be an object"));
    return;
  }
  if (m_calls.in_flight() >= Calls::k_max_in_flight) {
    m_writer.send(rpc_error(id, k_internal_error, "too many tool calls in flight"));
    return;
  }
  json token = params.value("_meta", json::object()).value("progressToken", json(nullptr));
  m_calls.start(*tool, id, std::move(arguments), std::move(token));
}

}  // namespace

int serve(const ServeOptions& options, const std::function<client::ClientApi&()>& client,
          std::ostream& log) {
  Server server(options, client, log);
  return server.run();
}

}  // namespace boxd::cli::mcp
