#include "boxd/box/get.hpp"

#include "boxd/command.hpp"
#include "boxd/output.hpp"
#include "common/sizes.hpp"

namespace boxd::cli {

CLI::App* define_box_get(CLI::App& parent, GetOptions& options) {
  CLI::App* cmd = parent.add_subcommand("get", "Show one box");
  cmd->add_option("NAME", options.name, "Box name or id")->required();
  cmd->footer(
      "Examples:\n"
      "  boxd box get web\n"
      "  boxd box get web --json | jq -r .status");
  return cmd;
}

void add_box_get(CLI::App& parent, Context& ctx) {
  add_leaf<GetOptions>(parent, ctx, define_box_get, run_get);
}

std::string box_url(const api::v1::GetVmResponse& box) {
  if (box.access_domain().empty()) {
    return "";
  }
  // boxd local reports "<user>.localhost:<proxy port>": its proxy speaks plain HTTP.
  const std::string& domain = box.access_domain();
  const bool local = domain.rfind("localhost", 0) == 0 ||
                     domain.find(".localhost:") != std::string::npos ||
                     domain.ends_with(".localhost");
  return (local ? "http://" : "https://") + box.name() + "." + box.access_domain();
}

namespace {
std::string seconds_or_off(std::uint32_t secs) { return secs == 0 ? "off" : std::to_string(secs) + "s"; }
}  // namespace

int run_get(const GetOptions& options, Context& ctx) {
  const api::v1::GetVmResponse box = ctx.client().get_vm(options.name);
  if (options.json) {
    nlohmann::json json = proto_to_json(box);
    json["url"] = box_url(box);
    ctx.out << dump_json(json);
    return 0;
  }
  std::vector<std::pair<std::string, std::string>> fields = {
      {"name", box.name()},
      {"id", box.vm_id()},
      {"status", ctx.color_stdout() ? colorize_status(box.status()) : box.status()},
      {"image", box.image_ref()},
      {"vcpu", std::to_string(box.vcpu())},
      {"memory", format_size(box.memory_bytes())},
      {"disk", format_size(box.disk_bytes())},
      {"url", box_url(box)},
      {"public_ip", box.public_ip()},
      {"restart_policy", box.restart_policy()},
      {"auto_suspend", seconds_or_off(box.auto_suspend_timeout_secs())},
      {"auto_destroy", seconds_or_off(box.auto_destroy_timeout_secs())},
      {"created", format_timestamp(box.created_at(), false, 0)},
  };
  if (!box.source().empty()) {
    fields.emplace_back("source", box.source());
  }
  if (!box.forked_from().empty()) {
    fields.emplace_back("forked_from", box.forked_from());
  }
  render_fields(ctx.out, fields);
  return 0;
}

}  // namespace boxd::cli
