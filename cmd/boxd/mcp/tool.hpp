// What a tool is: its MCP descriptor (name, JSON Schemas for input and
// output, annotations) and the function that runs it. A tool returns its
// structured result; throwing boxd::Error makes an error result
// (isError: true) the model can read and act on.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "boxd/mcp/call_state.hpp"
#include "boxd/mcp/policy.hpp"
#include "client/client_api.hpp"

namespace boxd::cli::mcp {

using json = nlohmann::json;

struct Limits {
  std::size_t max_output = 256 * 1024;  // bytes per output (exec stream, file, log)
  double exec_timeout_secs = 600;       // box_exec's default timeout; 0 = none
};

struct ToolContext {
  const json& args;
  client::ClientApi& client;
  Policy& policy;
  const Limits& limits;
  CallState& call;
  // Set when the client asked for progress (a progressToken): sends one
  // notifications/progress. `progress` must grow from call to call.
  std::function<void(double progress, const std::string& message)> progress;
};

struct Tool {
  std::string name;
  std::string title;
  std::string description;
  json input_schema;
  json output_schema;
  bool read_only = false;
  bool destructive = false;
  bool idempotent = false;
  std::function<json(ToolContext&)> run;
};

// The tools/list entry.
json tool_descriptor(const Tool& tool);

// Every tool, in the order tools/list shows them.
std::vector<Tool> all_tools();
void add_box_tools(std::vector<Tool>& tools);
void add_lifecycle_tools(std::vector<Tool>& tools);
void add_exec_tool(std::vector<Tool>& tools);
void add_file_tools(std::vector<Tool>& tools);

// Arguments, checked: a wrong type or a missing required one is a Usage error.
std::string arg_string(const json& args, const char* key, bool required = false);
std::optional<std::int64_t> arg_int(const json& args, const char* key);
std::optional<double> arg_number(const json& args, const char* key);
bool arg_bool(const json& args, const char* key, bool fallback = false);

// Schema builders: {"type": ...} with a description.
json schema_string(const std::string& description);
json schema_integer(const std::string& description, std::optional<std::int64_t> minimum = {});
json schema_number(const std::string& description);
json schema_boolean(const std::string& description);
json schema_object(json properties, const std::vector<std::string>& required = {});
// The "box" argument every box tool takes.
json box_arg();
// The output schema of a box document (box_get, box_create...).
json box_schema();

// The output cap, applied to one byte string: the first (or last) max
// bytes; text is cut on a UTF-8 boundary, bytes (text=false) exactly.
struct Capped {
  std::string data;
  bool truncated = false;
};
Capped cap_head(std::string data, std::size_t max, bool text);
Capped cap_tail(std::string data, std::size_t max);

}  // namespace boxd::cli::mcp
