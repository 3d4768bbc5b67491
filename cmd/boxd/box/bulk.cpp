#include "boxd/box/bulk.hpp"

#include <fmt/format.h>

#include "boxd/exit_codes.hpp"
#include "boxd/output.hpp"
#include "common/error.hpp"

namespace boxd::cli {

CLI::App* define_bulk_command(CLI::App& parent, const std::string& verb,
                              const std::string& description, const std::string& examples,
                              std::vector<std::string>& names) {
  CLI::App* cmd = parent.add_subcommand(verb, description);
  cmd->add_option("NAME", names, "Box names or ids")->required();
  cmd->footer("Examples:\n" + examples);
  return cmd;
}

int for_each_box(Context& ctx, const std::vector<std::string>& names,
                 const std::function<void(const std::string&)>& one) {
  int first_failure = 0;
  for (const auto& name : names) {
    try {
      one(name);
    } catch (const Error& e) {
      ctx.print_error(e.what(), e.hint());
      if (first_failure == 0) {
        first_failure = exit_code_for(e.error_class());
      }
    }
  }
  return first_failure;
}

void report_timed(Context& ctx, const BulkOptions& options, const std::string& name,
                  const google::protobuf::Message& response, const std::string& done,
                  std::uint64_t micros) {
  if (options.json) {
    nlohmann::json json = proto_to_json(response);
    json["name"] = name;
    ctx.out << json.dump() << "\n";
    ctx.out.flush();
  } else if (!options.quiet) {
    ctx.err << fmt::format("{} box '{}' in {:.1f} ms\n", done, name,
                           static_cast<double>(micros) / 1000.0);
  }
}

}  // namespace boxd::cli
