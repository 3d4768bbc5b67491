#include "boxd/config.hpp"

#include <nlohmann/json.hpp>

#include "boxd/command.hpp"
#include "boxd/output.hpp"
#include "common/error.hpp"
#include "common/files.hpp"
#include "common/paths.hpp"

namespace boxd::cli {

CLI::App* define_config(CLI::App& parent, ConfigOptions& options) {
  (void)options;
  CLI::App* cmd =
      parent.add_subcommand("config", "Show the server's defaults (default image, zone)");
  cmd->footer(
      "Examples:\n"
      "  boxd config\n"
      "  boxd config --json | jq -r .default_image\n"
      "  boxd config profiles");
  return cmd;
}

CLI::App* define_config_profiles(CLI::App& parent, ConfigProfilesOptions& options) {
  (void)options;
  CLI::App* cmd =
      parent.add_subcommand("profiles", "List the profiles in config.json, the active one marked");
  cmd->footer(
      "Profiles live in $BOXD_CONFIG_DIR/config.json:\n"
      "  {\"profiles\": {\"dev\": {\"environment\": \"local\"},\n"
      "                \"work\": {\"environment\": \"production\", \"api_url\": \"...\",\n"
      "                         \"exchange_url\": \"...\"}},\n"
      "   \"default_profile\": \"dev\"}\n"
      "The active one is chosen by --profile, else BOXD_PROFILE, else default_profile.\n"
      "Credentials are stored per profile ('boxd --profile work auth login').\n"
      "\n"
      "Examples:\n"
      "  boxd config profiles\n"
      "  boxd --profile work whoami\n"
      "  boxd config profiles --json | jq -r '.[] | select(.active) | .name'");
  return cmd;
}

void add_config(CLI::App& root, Context& ctx) {
  auto options = std::make_shared<ConfigOptions>();
  CLI::App* cmd = define_config(root, *options);
  add_leaf<ConfigProfilesOptions>(*cmd, ctx, define_config_profiles, run_config_profiles);
  // CLI11 runs a parent's callback after its subcommand's: `boxd config`
  // alone is GetConfig, `boxd config profiles` keeps the action it set.
  cmd->callback([cmd, options, &ctx] {
    if (!cmd->get_subcommands().empty()) {
      return;
    }
    options->json = options->json || ctx.global.json;
    ctx.action = [options, &ctx] { return run_config(*options, ctx); };
  });
}

int run_config(const ConfigOptions& options, Context& ctx) {
  const auto response = ctx.client().get_config();
  if (options.json) {
    ctx.out << dump_json(proto_to_json(response));
    return 0;
  }
  render_fields(ctx.out, {{"default_image", response.default_image()}, {"zone", response.zone()}});
  return 0;
}

namespace {

std::string string_field(const nlohmann::json& object, const char* key) {
  if (!object.is_object()) {
    return {};
  }
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

int run_config_profiles(const ConfigProfilesOptions& options, Context& ctx) {
  const auto path = config_dir() / "config.json";
  const std::string text = read_file(path).value_or("");
  nlohmann::json doc = nlohmann::json::object();
  if (text.find_first_not_of(" \t\r\n") != std::string::npos) {
    doc = nlohmann::json::parse(text, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) {
      throw Error(ErrorClass::Usage, path.string() + " is not a valid JSON object",
                  "fix or remove the file");
    }
  }
  // The active profile exactly as every other command resolves it; a
  // --profile/BOXD_PROFILE naming no profile is reported, not fatal here.
  std::string active;
  try {
    active = ctx.config().profile;
  } catch (const Error& e) {
    ctx.warn(e.what());
  }
  const std::string default_profile = string_field(doc, "default_profile");

  Table table;
  table.columns = {"name", "environment", "api_url", "exchange_url", "active"};
  nlohmann::json json = nlohmann::json::array();
  const auto profiles = doc.find("profiles");
  if (profiles != doc.end() && profiles->is_object()) {
    for (const auto& [name, profile] : profiles->items()) {
      const std::string environment = string_field(profile, "environment");
      const std::string api_url = string_field(profile, "api_url");
      const std::string exchange_url = string_field(profile, "exchange_url");
      const bool is_active = name == active;
      const auto shown = [&ctx](const std::string& value) {
        return value.empty() && ctx.stdout_tty ? std::string("-") : value;
      };
      table.rows.push_back({name, shown(environment), shown(api_url), shown(exchange_url),
                            is_active ? "yes" : "no"});
      json.push_back({{"name", name},
                      {"environment", environment},
                      {"api_url", api_url},
                      {"exchange_url", exchange_url},
                      {"active", is_active},
                      {"default", name == default_profile}});
    }
  }
  (void)options;
  print_list(ctx, table, json);
  if (table.rows.empty() && !ctx.global.json && !ctx.global.quiet) {
    ctx.err << "No profiles in " << path.string()
            << " ('boxd config profiles --help' shows the format)\n";
  }
  return 0;
}

}  // namespace boxd::cli
