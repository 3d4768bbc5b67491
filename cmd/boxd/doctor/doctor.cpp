#include "boxd/doctor/doctor.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "boxd/auth/credentials_store.hpp"
#include "boxd/command.hpp"
#include "boxd/doctor/local_server.hpp"
#include "boxd/exit_codes.hpp"
#include "boxd/output.hpp"
#include "client/doctor.hpp"

namespace boxd::cli {

CLI::App* define_doctor(CLI::App& parent, DoctorOptions& options) {
  CLI::App* cmd = parent.add_subcommand(
      "doctor", "Check the configuration, the connection, the credentials and the API schema");
  cmd->add_option("--timeout", options.timeout_secs, "Seconds to wait for each network step")
      ->capture_default_str()
      ->check(CLI::Range(1, 300));
  cmd->footer(
      "Checks, one line each: the configuration in effect and where each value came\n"
      "from; for an API URL on this machine, which local server serves it (the\n"
      "boxd-local systemd service or 'boxd local start'); DNS and TCP reach of the API\n"
      "endpoint; the transport (TLS or plaintext,\n"
      "as the URL says); the API key exchange; the token's expiry and the clock skew;\n"
      "whoami; and the server's API (gRPC reflection) against the contract compiled\n"
      "into this boxd. Exits 0 when no check failed, else with the exit code of the\n"
      "first failure (8 for a connection problem, 3 for credentials, ...).\n"
      "\n"
      "Examples:\n"
      "  boxd doctor\n"
      "  boxd --environment local doctor\n"
      "  boxd --profile staging doctor --json | jq '.checks[] | select(.status != \"ok\")'");
  return cmd;
}

void add_doctor(CLI::App& root, Context& ctx) {
  add_leaf<DoctorOptions>(root, ctx, define_doctor, run_doctor);
}

namespace {

class Report {
 public:
  Report(Context& ctx, bool json) : m_ctx(ctx), m_json(json) {}

  void add(const client::CheckResult& result) {
    if (result.status == client::CheckStatus::Fail && m_exit == k_exit_ok) {
      m_exit = exit_code_for(result.error_class);
    }
    if (m_json) {
      m_checks.push_back({{"check", result.name},
                          {"status", client::status_label(result.status)},
                          {"detail", result.detail}});
      return;
    }
    std::string label = client::status_label(result.status);
    label.resize(5, ' ');
    if (m_ctx.color_stdout()) {
      const char* colour = result.status == client::CheckStatus::Ok     ? "\x1b[32m"
                           : result.status == client::CheckStatus::Warn ? "\x1b[33m"
                           : result.status == client::CheckStatus::Fail ? "\x1b[31m"
                                                                        : "\x1b[2m";
      label = colour + label + "\x1b[0m";
    }
    std::string name = result.name;
    name.resize(std::max<std::size_t>(name.size(), 13), ' ');
    m_ctx.out << label << " " << name << result.detail << "\n";
    m_ctx.out.flush();  // one line as each check finishes
  }

  int finish() {
    if (m_json) {
      m_ctx.out << dump_json({{"ok", m_exit == k_exit_ok}, {"checks", m_checks}});
    }
    return m_exit;
  }

 private:
  Context& m_ctx;
  bool m_json;
  nlohmann::json m_checks = nlohmann::json::array();
  int m_exit = k_exit_ok;
};

}  // namespace

int run_doctor(const DoctorOptions& options, Context& ctx) {
  Report report(ctx, options.json);
  const client::ResolvedConfig* config = nullptr;
  try {
    config = &ctx.config();
  } catch (const Error& e) {
    report.add({"config", client::CheckStatus::Fail,
                std::string(e.what()) + (e.hint().empty() ? "" : " (" + e.hint() + ")"),
                e.error_class()});
    return report.finish();
  }
  for (const auto& result : client::describe_config(*config)) {
    report.add(result);
  }
  if (auto problem = credentials_permission_problem(credentials_path())) {
    report.add({"permissions", client::CheckStatus::Warn, *problem, ErrorClass::Internal});
  }
  if (auto local = check_local_server(config->api_url)) {
    report.add(*local);
  }
  client::DoctorOptions doctor_options;
  doctor_options.timeout = std::chrono::seconds(options.timeout_secs);
  client::run_network_checks(
      *config, [&report](const client::CheckResult& r) { report.add(r); }, doctor_options);
  return report.finish();
}

}  // namespace boxd::cli
