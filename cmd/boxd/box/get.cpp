#include "boxd/box/get.hpp"

#include "boxd/command.hpp"
#include "boxd/output.hpp"
#include "common/sizes.hpp"

#include <cstdio>
#include <string>
#include <vector>

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
std::string seconds_or_off(std::uint32_t secs) {
  return secs == 0 ? "off" : std::to_string(secs) + "s";
}
}  // namespace

std::string enforced_text(const api::v1::EnforcedLimits& limits) {
  std::vector<std::string> parts;
  if (limits.memory_bytes() != 0) {
    parts.push_back("memory " + format_size(limits.memory_bytes()));
  }
  if (limits.vcpu() > 0) {
    char vcpu[32];
    std::snprintf(vcpu, sizeof vcpu, "%g", limits.vcpu());
    parts.push_back(std::string("cpu ") + vcpu + " vcpu");
  }
  if (limits.pids() != 0) {
    parts.push_back("pids " + std::to_string(limits.pids()));
  }
  std::string text;
  for (const auto& part : parts) {
    text += (text.empty() ? "" : ", ") + part;
  }
  return text.empty() ? "no limits" : text;
}

int run_get(const GetOptions& options, Context& ctx) {
  const api::v1::GetVmResponse box = ctx.client().get_vm(options.name);
  if (options.json) {
    nlohmann::json json = proto_to_json(box);
    json["url"] = box_url(box);
    if (!box.has_enforced()) {
      json["enforced"] = nullptr;  // not reported (not running, or not this server's feature)
    }
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
  if (box.has_enforced()) {
    fields.emplace_back("enforced", enforced_text(box.enforced()));
  }
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
