// How commands print data: one helper for lists (aligned table on a
// terminal, tab-separated rows when piped, names only with -q, JSON with
// --json), key: value blocks for single objects, and proto -> JSON with the
// proto field names, every field present and 64-bit integers as numbers.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <utility>
#include <vector>

#include <google/protobuf/message.h>
#include <nlohmann/json.hpp>

namespace boxd::cli {

class Context;

// A proto message as a JSON object (docs/design.md, section 4): snake_case proto
// field names, all fields present (defaults included, unset sub-messages as
// their default object), int64/uint64 as JSON numbers, enums by name, bytes
// as base64.
nlohmann::json proto_to_json(const google::protobuf::Message& message);

// Pretty JSON (2-space indent) plus a newline; invalid UTF-8 is replaced
// with U+FFFD rather than failing.
std::string dump_json(const nlohmann::json& document);

struct Table {
  std::vector<std::string> columns;            // printed upper-cased on a terminal
  std::vector<std::vector<std::string>> rows;  // column 0 is the name (for -q)
  int status_column = -1;                      // coloured on a terminal
};

enum class ListFormat { Table, Tsv, Names, Json };

// --json > -q > terminal table > tab-separated.
ListFormat list_format(bool json, bool quiet, bool stdout_tty);

// Table: header row and columns padded to width, separated by 3 spaces.
// Tsv: rows only, fields joined with tabs (tabs/newlines inside a field
// become spaces). Names: column 0, one per line.
void render_table(std::ostream& out, const Table& table, ListFormat format, bool color);

// Picks the format from the context's flags and terminal, prints `json`
// for --json and the table otherwise.
void print_list(Context& ctx, const Table& table, const nlohmann::json& json);

// "key: value" lines, keys padded so the values line up.
void render_fields(std::ostream& out,
                   const std::vector<std::pair<std::string, std::string>>& fields);

// ANSI colour for a box status (running green, failed red, suspended
// yellow, transitions cyan, stopped dim); other statuses unchanged.
std::string colorize_status(const std::string& status);

// Timestamps: created_at may be unix seconds or milliseconds.
// human: "3 minutes ago"; otherwise RFC 3339 UTC ("2026-01-02T03:04:05Z").
// 0 gives "" (unknown).
std::string format_timestamp(std::int64_t value, bool human, std::int64_t now_unix_s);
std::int64_t now_unix_seconds();

}  // namespace boxd::cli
