#include "boxd/mcp/tool.hpp"

#include "boxd/box/exec_jsonl.hpp"
#include "common/error.hpp"

namespace boxd::cli::mcp {

json tool_descriptor(const Tool& tool) {
  json annotations = {
      {"title", tool.title},
      {"readOnlyHint", tool.read_only},
      {"destructiveHint", !tool.read_only && tool.destructive},
      {"idempotentHint", tool.read_only || tool.idempotent},
      {"openWorldHint", false},
  };
  return {
      {"name", tool.name},
      {"title", tool.title},
      {"description", tool.description},
      {"inputSchema", tool.input_schema},
      {"outputSchema", tool.output_schema},
      {"annotations", annotations},
  };
}

std::vector<Tool> all_tools() {
  std::vector<Tool> tools;
  add_box_tools(tools);
  add_exec_tool(tools);
  add_file_tools(tools);
  add_lifecycle_tools(tools);
  return tools;
}

namespace {

[[noreturn]] void bad_type(const char* key, const char* type) {
  throw Error(ErrorClass::Usage, std::string("'") + key + "' must be " + type);
}

}  // namespace

std::string arg_string(const json& args, const char* key, bool required) {
  const auto it = args.find(key);
  if (it == args.end() || it->is_null()) {
    if (required) {
      throw Error(ErrorClass::Usage, std::string("'") + key + "' is required");
    }
    return "";
  }
  if (!it->is_string()) {
    bad_type(key, "a string");
  }
  auto value = it->get<std::string>();
  if (required && value.empty()) {
    throw Error(ErrorClass::Usage, std::string("'") + key + "' must not be empty");
  }
  return value;
}

std::optional<std::int64_t> arg_int(const json& args, const char* key) {
  const auto it = args.find(key);
  if (it == args.end() || it->is_null()) {
    return std::nullopt;
  }
  if (it->is_number_integer()) {
    return it->get<std::int64_t>();
  }
  if (it->is_number_float()) {
    const double value = it->get<double>();
    if (value == static_cast<double>(static_cast<std::int64_t>(value))) {
      return static_cast<std::int64_t>(value);
    }
  }
  bad_type(key, "an integer");
}

std::optional<double> arg_number(const json& args, const char* key) {
  const auto it = args.find(key);
  if (it == args.end() || it->is_null()) {
    return std::nullopt;
  }
  if (!it->is_number()) {
    bad_type(key, "a number");
  }
  return it->get<double>();
}

bool arg_bool(const json& args, const char* key, bool fallback) {
  const auto it = args.find(key);
  if (it == args.end() || it->is_null()) {
    return fallback;
  }
  if (!it->is_boolean()) {
    bad_type(key, "true or false");
  }
  return it->get<bool>();
}

json box_arg() {
  return schema_string("Box name or id");
}

json schema_string(const std::string& description) {
  return {{"type", "string"}, {"description", description}};
}

json schema_integer(const std::string& description, std::optional<std::int64_t> minimum) {
  json schema = {{"type", "integer"}, {"description", description}};
  if (minimum) {
    schema["minimum"] = *minimum;
  }
  return schema;
}

json schema_number(const std::string& description) {
  return {{"type", "number"}, {"description", description}};
}

json schema_boolean(const std::string& description) {
  return {{"type", "boolean"}, {"description", description}};
}

json schema_object(json properties, const std::vector<std::string>& required) {
  json schema = {{"type", "object"}, {"properties", std::move(properties)}};
  if (!required.empty()) {
    schema["required"] = required;
  }
  return schema;
}

json box_schema() {
  json schema = schema_object(
      {
          {"name", schema_string("Box name")},
          {"vm_id", schema_string("Box id")},
          {"status", schema_string("running, stopped, suspended, ...")},
      },
      {"name", "status"});
  schema["additionalProperties"] = true;
  return schema;
}

Capped cap_head(std::string data, std::size_t max, bool text) {
  if (data.size() <= max) {
    return {std::move(data), false};
  }
  data.resize(max);
  if (text) {
    data.resize(max - incomplete_utf8_tail(data));  // no half character at the cut
  }
  return {std::move(data), true};
}

Capped cap_tail(std::string data, std::size_t max) {
  if (data.size() <= max) {
    return {std::move(data), false};
  }
  std::size_t start = data.size() - max;
  // Skip continuation bytes so the text starts on a character.
  for (int i = 0;
       i < 3 && start < data.size() && (static_cast<unsigned char>(data[start]) & 0xC0) == 0x80;
       ++i) {
    ++start;
  }
  return {data.substr(start), true};
}

}  // namespace boxd::cli::mcp
