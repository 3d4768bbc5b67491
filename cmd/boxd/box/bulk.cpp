#include "boxd/box/bulk.hpp"

#include "boxd/exit_codes.hpp"
#include "common/error.hpp"

namespace boxd::cli {

CLI::App* define_bulk_command(CLI::App& parent, const std::string& verb, const std::string& description,
                              const std::string& examples, std::vector<std::string>& names) {
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

}  // namespace boxd::cli
