#include "boxd/output.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <ctime>
#include <ostream>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/reflection.h>

#include "boxd/context.hpp"
#include "common/base64.hpp"

namespace boxd::cli {

namespace pb = google::protobuf;

namespace {

nlohmann::json field_value(const pb::Message& message, const pb::FieldDescriptor* field,
                           int index) {
  const pb::Reflection* r = message.GetReflection();
  const bool repeated = index >= 0;
  switch (field->cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_INT32:
      return repeated ? r->GetRepeatedInt32(message, field, index) : r->GetInt32(message, field);
    case pb::FieldDescriptor::CPPTYPE_INT64:
      return repeated ? r->GetRepeatedInt64(message, field, index) : r->GetInt64(message, field);
    case pb::FieldDescriptor::CPPTYPE_UINT32:
      return repeated ? r->GetRepeatedUInt32(message, field, index) : r->GetUInt32(message, field);
    case pb::FieldDescriptor::CPPTYPE_UINT64:
      return repeated ? r->GetRepeatedUInt64(message, field, index) : r->GetUInt64(message, field);
    case pb::FieldDescriptor::CPPTYPE_DOUBLE:
      return repeated ? r->GetRepeatedDouble(message, field, index) : r->GetDouble(message, field);
    case pb::FieldDescriptor::CPPTYPE_FLOAT:
      return repeated ? r->GetRepeatedFloat(message, field, index) : r->GetFloat(message, field);
    case pb::FieldDescriptor::CPPTYPE_BOOL:
      return repeated ? r->GetRepeatedBool(message, field, index) : r->GetBool(message, field);
    case pb::FieldDescriptor::CPPTYPE_ENUM: {
      const pb::EnumValueDescriptor* value =
          repeated ? r->GetRepeatedEnum(message, field, index) : r->GetEnum(message, field);
      return value->name();
    }
    case pb::FieldDescriptor::CPPTYPE_STRING: {
      std::string text =
          repeated ? r->GetRepeatedString(message, field, index) : r->GetString(message, field);
      if (field->type() == pb::FieldDescriptor::TYPE_BYTES) {
        return base64_encode(text);
      }
      return text;
    }
    case pb::FieldDescriptor::CPPTYPE_MESSAGE:
      return proto_to_json(repeated ? r->GetRepeatedMessage(message, field, index)
                                    : r->GetMessage(message, field));
  }
  return nullptr;
}

std::string flatten_field(const std::string& text) {
  std::string out = text;
  std::replace_if(
      out.begin(), out.end(), [](char c) { return c == '\t' || c == '\n' || c == '\r'; }, ' ');
  return out;
}

// Display width: counts UTF-8 code points, not bytes.
std::size_t display_width(const std::string& text) {
  std::size_t width = 0;
  for (unsigned char c : text) {
    if ((c & 0xC0) != 0x80) {
      ++width;
    }
  }
  return width;
}

std::string upper(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return text;
}

}  // namespace

nlohmann::json proto_to_json(const pb::Message& message) {
  nlohmann::json object = nlohmann::json::object();
  const pb::Descriptor* descriptor = message.GetDescriptor();
  const pb::Reflection* reflection = message.GetReflection();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const pb::FieldDescriptor* field = descriptor->field(i);
    if (field->is_repeated()) {
      nlohmann::json array = nlohmann::json::array();
      const int size = reflection->FieldSize(message, field);
      for (int j = 0; j < size; ++j) {
        array.push_back(field_value(message, field, j));
      }
      object[field->name()] = std::move(array);
    } else {
      object[field->name()] = field_value(message, field, -1);
    }
  }
  return object;
}

std::string dump_json(const nlohmann::json& document) {
  return document.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

ListFormat list_format(bool json, bool quiet, bool stdout_tty) {
  if (json) {
    return ListFormat::Json;
  }
  if (quiet) {
    return ListFormat::Names;
  }
  return stdout_tty ? ListFormat::Table : ListFormat::Tsv;
}

void render_table(std::ostream& out, const Table& table, ListFormat format, bool color) {
  if (format == ListFormat::Names) {
    for (const auto& row : table.rows) {
      if (!row.empty()) {
        out << row[0] << "\n";
      }
    }
    return;
  }
  if (format == ListFormat::Tsv || format == ListFormat::Json) {
    for (const auto& row : table.rows) {
      for (std::size_t i = 0; i < row.size(); ++i) {
        out << (i == 0 ? "" : "\t") << flatten_field(row[i]);
      }
      out << "\n";
    }
    return;
  }
  std::vector<std::size_t> widths(table.columns.size(), 0);
  for (std::size_t i = 0; i < table.columns.size(); ++i) {
    widths[i] = display_width(table.columns[i]);
  }
  for (const auto& row : table.rows) {
    for (std::size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], display_width(flatten_field(row[i])));
    }
  }
  auto print_row = [&](const std::vector<std::string>& row, bool header) {
    std::string line;
    for (std::size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      const std::string text = header ? upper(row[i]) : flatten_field(row[i]);
      const bool last = i + 1 == row.size() || i + 1 == widths.size();
      const bool coloured = !header && color && static_cast<int>(i) == table.status_column;
      line += coloured ? colorize_status(text) : text;
      if (!last) {
        line.append(widths[i] - display_width(text) + 3, ' ');
      }
    }
    out << line << "\n";
  };
  print_row(table.columns, true);
  for (const auto& row : table.rows) {
    print_row(row, false);
  }
}

void print_list(Context& ctx, const Table& table, const nlohmann::json& json) {
  const ListFormat format = list_format(ctx.global.json, ctx.global.quiet, ctx.stdout_tty);
  if (format == ListFormat::Json) {
    ctx.out << dump_json(json);
    return;
  }
  render_table(ctx.out, table, format, ctx.color_stdout());
}

void render_fields(std::ostream& out,
                   const std::vector<std::pair<std::string, std::string>>& fields) {
  std::size_t width = 0;
  for (const auto& [key, value] : fields) {
    width = std::max(width, key.size());
  }
  for (const auto& [key, value] : fields) {
    out << key << ":" << std::string(width - key.size() + 1, ' ') << value << "\n";
  }
}

std::string colorize_status(const std::string& status) {
  const char* code = nullptr;
  if (status == "running") {
    code = "32";
  } else if (status == "failed") {
    code = "31";
  } else if (status == "suspended" || status == "standby" || status == "hibernated") {
    code = "33";
  } else if (status == "starting" || status == "stopping" || status == "destroying" ||
             status == "creating" || status == "resuming" || status == "suspending") {
    code = "36";
  } else if (status == "stopped" || status == "destroyed") {
    code = "2";
  }
  if (code == nullptr) {
    return status;
  }
  return std::string("\x1b[") + code + "m" + status + "\x1b[0m";
}

std::int64_t now_unix_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string format_timestamp(std::int64_t value, bool human, std::int64_t now_unix_s) {
  if (value <= 0) {
    return "";
  }
  // Anything past the year 33658 in seconds is a millisecond timestamp.
  const std::int64_t seconds = value > 999'999'999'999 ? value / 1000 : value;
  if (human) {
    const std::int64_t ago = now_unix_s - seconds;
    auto plural = [](std::int64_t n, const char* unit) {
      return std::to_string(n) + " " + unit + (n == 1 ? "" : "s") + " ago";
    };
    if (ago < 0) {
      return "just now";
    }
    if (ago < 60) {
      return ago < 5 ? "just now" : plural(ago, "second");
    }
    if (ago < 3600) {
      return plural(ago / 60, "minute");
    }
    if (ago < 86400) {
      return plural(ago / 3600, "hour");
    }
    if (ago < 86400 * 60) {
      return plural(ago / 86400, "day");
    }
  }
  const std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buffer;
}

}  // namespace boxd::cli
