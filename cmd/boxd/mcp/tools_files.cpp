// File tools over the same streaming calls as `boxd box cp` (the server's
// file helper runs inside the box as its user): box_read_file,
// box_write_file, box_list_dir. Bytes that are not UTF-8 travel as base64.
#include <fmt/format.h>

#include "boxd/box/exec_jsonl.hpp"
#include "boxd/mcp/tool.hpp"
#include "common/base64.hpp"
#include "common/error.hpp"

namespace boxd::cli::mcp {

namespace {

// Thrown from the download's write callback once the cap is reached: the
// client cancels the stream and lets it through.
struct Enough {};

// Standard base64 (common/base64.hpp); anything else is the caller's mistake.
std::string decode_content(std::string_view text) {
  auto bytes = base64_decode(text);
  if (!bytes) {
    throw Error(ErrorClass::Usage, "'content_base64' is not valid base64");
  }
  return std::move(*bytes);
}

std::uint64_t offset_arg(const json& args) {
  const auto offset = arg_int(args, "offset");
  if (offset && *offset < 0) {
    throw Error(ErrorClass::Usage, "'offset' must not be negative");
  }
  return offset ? static_cast<std::uint64_t>(*offset) : 0;
}

json content_fields(const std::string& data, const std::string& encoding) {
  const bool text = encoding == "utf-8" || (encoding == "auto" && is_valid_utf8(data));
  if (text) {
    if (!is_valid_utf8(data)) {
      throw Error(ErrorClass::Usage, "the file is not UTF-8 text", "read it with encoding base64");
    }
    return {{"encoding", "utf-8"}, {"content", data}};
  }
  return {{"encoding", "base64"}, {"content_base64", base64_encode(data)}};
}

json run_read(ToolContext& t) {
  const std::string box = t.policy.resolve(t.client, arg_string(t.args, "box", true));
  const std::string path = arg_string(t.args, "path", true);
  std::string encoding = arg_string(t.args, "encoding");
  encoding = encoding.empty() ? "auto" : encoding;
  if (encoding != "auto" && encoding != "utf-8" && encoding != "base64") {
    throw Error(ErrorClass::Usage, "'encoding' must be auto, utf-8 or base64");
  }
  const std::uint64_t offset = offset_arg(t.args);
  const std::size_t max = t.limits.max_output;
  std::string data;
  std::uint64_t seen = 0;
  std::uint64_t size = 0;
  try {
    t.client.download_file(
        box, path,
        [&](std::string_view chunk) {
          const std::uint64_t skip =
              offset > seen ? std::min<std::uint64_t>(offset - seen, chunk.size()) : 0;
          seen += chunk.size();
          data.append(chunk.substr(skip));
          if (data.size() > max) {
            throw Enough{};
          }
        },
        [&](std::uint64_t, std::uint64_t total) { size = total; }, &t.call.call_cancel());
  } catch (const Enough&) {
  }
  // Text is cut on a character boundary; `offset + bytes` reads on exactly.
  Capped capped = cap_head(std::move(data), max, encoding != "base64");
  json doc = {{"box", box},
              {"path", path},
              {"size", size},
              {"offset", offset},
              {"bytes", capped.data.size()},
              {"truncated", capped.truncated},
              {"output_limit_bytes", max}};
  doc.update(content_fields(capped.data, encoding));
  return doc;
}

std::string write_content(const json& args) {
  const bool has_text = args.contains("content") && !args["content"].is_null();
  const bool has_base64 = args.contains("content_base64") && !args["content_base64"].is_null();
  if (has_text == has_base64) {
    throw Error(ErrorClass::Usage, "give exactly one of 'content' and 'content_base64'");
  }
  return has_text ? arg_string(args, "content")
                  : decode_content(arg_string(args, "content_base64"));
}

json run_write(ToolContext& t) {
  const std::string box = t.policy.resolve(t.client, arg_string(t.args, "box", true));
  const std::string path = arg_string(t.args, "path", true);
  const std::string data = write_content(t.args);
  std::size_t at = 0;
  const std::uint64_t written = t.client.upload_file(
      box, path, data.size(),
      [&](char* buffer, std::size_t size) {
        const std::size_t n = std::min(size, data.size() - at);
        std::copy_n(data.data() + at, n, buffer);
        at += n;
        return n;
      },
      {}, &t.call.call_cancel());
  return {{"box", box}, {"path", path}, {"bytes_written", written}};
}

json run_list_dir(ToolContext& t) {
  const std::string box = t.policy.resolve(t.client, arg_string(t.args, "box", true));
  std::string path = arg_string(t.args, "path");
  const auto listing = t.client.list_dir(box, path.empty() ? "~" : path);
  json entries = json::array();
  for (const auto& entry : listing.entries()) {
    entries.push_back({{"name", entry.name()},
                       {"is_dir", entry.is_dir()},
                       {"size_bytes", entry.size_bytes()},
                       {"permissions", entry.permissions()},
                       {"modified_at", entry.modified_at()}});
  }
  return {{"box", box},
          {"path", path.empty() ? "~" : path},
          {"entries", entries},
          {"truncated", listing.truncated()}};
}

}  // namespace

void add_file_tools(std::vector<Tool>& tools) {
  json box = schema_string("Box name or id");
  json path = schema_string("Path in the box; relative paths are from the home directory");
  tools.push_back(
      {"box_read_file", "Read a file in a box",
       "Read a file from a box. UTF-8 text comes as `content`, anything else as `content_base64` "
       "(byte-exact). At most output_limit_bytes are returned (truncated: true); read the rest "
       "with `offset`.",
       schema_object({{"box", box},
                      {"path", path},
                      {"offset", schema_integer("Start at this byte", 0)},
                      {"encoding",
                       {{"type", "string"},
                        {"enum", {"auto", "utf-8", "base64"}},
                        {"description",
                         "auto (default): utf-8 when the bytes are "
                         "UTF-8 text, else base64"}}}},
                     {"box", "path"}),
       schema_object({{"box", schema_string("")},
                      {"path", schema_string("")},
                      {"size", schema_integer("Size of the whole file")},
                      {"offset", schema_integer("")},
                      {"bytes", schema_integer("Bytes returned")},
                      {"encoding", {{"type", "string"}, {"enum", {"utf-8", "base64"}}}},
                      {"content", schema_string("The bytes as text (encoding utf-8)")},
                      {"content_base64", schema_string("The bytes in base64 (encoding base64)")},
                      {"truncated", schema_boolean("")},
                      {"output_limit_bytes", schema_integer("")}},
                     {"box", "path", "encoding", "truncated", "output_limit_bytes"}),
       true, false, true, run_read});
  tools.push_back(
      {"box_write_file", "Write a file in a box",
       "Create or replace a file in a box with exactly these bytes: `content` for text, "
       "`content_base64` for binary.",
       schema_object({{"box", box},
                      {"path", path},
                      {"content", schema_string("The file's text")},
                      {"content_base64", schema_string("The file's bytes in base64")}},
                     {"box", "path"}),
       schema_object({{"box", schema_string("")},
                      {"path", schema_string("")},
                      {"bytes_written", schema_integer("")}},
                     {"box", "path", "bytes_written"}),
       false, true, true, run_write});
  tools.push_back(
      {"box_list_dir", "List a directory in a box",
       "The entries of a directory in a box: name, whether it is a directory, size, "
       "permissions, modification time (unix seconds).",
       schema_object(
           {{"box", box}, {"path", schema_string("Directory (default: the home directory)")}},
           {"box"}),
       schema_object({{"box", schema_string("")},
                      {"path", schema_string("")},
                      {"entries",
                       {{"type", "array"},
                        {"items", schema_object({{"name", schema_string("")},
                                                 {"is_dir", schema_boolean("")},
                                                 {"size_bytes", schema_integer("")},
                                                 {"permissions", schema_string("")},
                                                 {"modified_at", schema_integer("")}},
                                                {"name", "is_dir"})}}},
                      {"truncated", schema_boolean("")}},
                     {"box", "path", "entries", "truncated"}),
       true, false, true, run_list_dir});
}

}  // namespace boxd::cli::mcp
