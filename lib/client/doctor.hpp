// `boxd doctor`: checks, in order, everything a call depends on, and reports
// one result per check. No printing here: the CLI renders the results.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "client/config.hpp"
#include "common/error.hpp"

namespace boxd::client {

enum class CheckStatus { Ok, Warn, Fail, Skip };
// "ok", "warn", "FAIL", "skip"
const char* status_label(CheckStatus status);

struct CheckResult {
  std::string name;  // "config", "api_url", "dns", "tcp", "tls", ...
  CheckStatus status = CheckStatus::Ok;
  std::string detail;                             // one line; never a credential
  ErrorClass error_class = ErrorClass::Internal;  // for Fail: the exit code
};

// The configuration in effect, where each value came from (pure): lines
// "config", "api_url", "exchange_url", "credential" (Fail when there is no
// credential at all).
std::vector<CheckResult> describe_config(const ResolvedConfig& config);

// How far the local clock is from the server's, from a token's "iat" claim
// when the token was issued between local times `before` and `after` (unix
// seconds): iat - midpoint. Ok within 30 s, Warn within 5 min, else Fail
// (tokens are refreshed 5 min before expiry, so more breaks the cache).
CheckResult judge_clock_skew(std::int64_t issued_at, std::int64_t before, std::int64_t after);

// Token expiry against the local clock: Fail when expired, Warn when not a
// JWT (expiry unknown), else Ok with the time left.
CheckResult judge_token_expiry(const std::string& token, std::int64_t now);

// One isolation layer a boxd local server reports (GetConfig's isolation).
struct IsolationEntry {
  std::string name;
  bool enforced = false;
  std::string detail;
};

// "isolation": Ok when every layer is in force, Warn naming each one that is
// not (with why), Warn when the server reports none.
CheckResult judge_isolation(const std::vector<IsolationEntry>& layers);

struct DoctorOptions {
  std::chrono::milliseconds timeout{5000};  // per network step
};

using ReportFn = std::function<void(const CheckResult&)>;

// The network checks after the configuration: dns, tcp, tls (the gRPC
// channel over the configured transport), exchange, token, clock, whoami
// isolation (environment local only: the layers the server has in force)
// and schema (reflection against the compiled contract). Calls `report` as
// each finishes (so a slow step shows where it is) and returns them all.
// A check whose prerequisite failed is reported as Skip.
std::vector<CheckResult> run_network_checks(const ResolvedConfig& config, const ReportFn& report,
                                            const DoctorOptions& options = {});

}  // namespace boxd::client
