#include "boxd/whoami.hpp"

#include "boxd/command.hpp"
#include "boxd/output.hpp"

namespace boxd::cli {

CLI::App* define_whoami(CLI::App& parent, WhoamiOptions& options) {
  (void)options;
  CLI::App* cmd = parent.add_subcommand("whoami", "Show the user the credentials belong to");
  cmd->footer(
      "Examples:\n"
      "  boxd whoami\n"
      "  boxd whoami --json | jq -r .user_id");
  return cmd;
}

void add_whoami(CLI::App& root, Context& ctx) {
  add_leaf<WhoamiOptions>(root, ctx, define_whoami, run_whoami);
}

namespace {
std::string join(const google::protobuf::RepeatedPtrField<std::string>& items) {
  std::string out;
  for (const auto& item : items) {
    out += (out.empty() ? "" : ", ") + item;
  }
  return out;
}
}  // namespace

int run_whoami(const WhoamiOptions& options, Context& ctx) {
  const auto response = ctx.client().whoami();
  if (options.json) {
    ctx.out << dump_json(proto_to_json(response));
    return 0;
  }
  render_fields(ctx.out, {
                             {"user_id", response.user_id()},
                             {"display_name", response.display_name()},
                             {"fingerprints", join(response.fingerprints())},
                             {"default_network_id", response.default_network_id()},
                         });
  return 0;
}

}  // namespace boxd::cli
