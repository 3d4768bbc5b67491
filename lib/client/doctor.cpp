// `boxd doctor`'s checks.
//
// Each step proves one thing a real call needs, in the order a call needs
// them, so the first failure names the broken layer:
//
//   dns      the API host resolves (getaddrinfo)
//   tcp      one of its addresses accepts a TCP connection (non-blocking
//            connect with a timeout)
//   tls      a gRPC channel over the configured transport (TLS for https://,
//            h2c for http://, for auto what the server answers to a TLS hello
//            right now, which also refreshes the cached answer) reaches
//            READY: a plaintext client against a TLS server, or the reverse,
//            fails here and not later with a vague UNAVAILABLE
//   exchange the API key buys a JWT at the exchange URL (skipped for a token)
//   token    the JWT's expiry against the local clock
//   clock    the skew between the local clock and the server's, from the
//            "iat" of a token issued just now (the only server time the
//            protocol exposes); unknown for a token given as is
//   whoami   an authenticated call succeeds
//   schema   the server's API, fetched by gRPC reflection, against the
//            contract compiled into this binary (doctor_schema.hpp)
//
// A step whose prerequisite failed is skipped, not failed, so one fault
// gives one FAIL line. The exchanged JWT is used directly for whoami: one
// exchange per run, and the token cache is neither read nor written.
#include "client/doctor.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <grpcpp/grpcpp.h>

#include "boxd/api/v1/api.grpc.pb.h"
#include "client/client.hpp"
#include "client/doctor_schema.hpp"
#include "client/token_cache.hpp"
#include "client/transport.hpp"
#include "common/jwt.hpp"
#include "common/paths.hpp"
#include "common/version.hpp"

namespace boxd::client {

namespace {

constexpr std::int64_t k_skew_ok_seconds = 30;
constexpr std::int64_t k_skew_warn_seconds = 300;

CheckResult ok(std::string name, std::string detail) {
  return {std::move(name), CheckStatus::Ok, std::move(detail), ErrorClass::Internal};
}
CheckResult warn(std::string name, std::string detail) {
  return {std::move(name), CheckStatus::Warn, std::move(detail), ErrorClass::Internal};
}
CheckResult fail(std::string name, std::string detail, ErrorClass error_class) {
  return {std::move(name), CheckStatus::Fail, std::move(detail), error_class};
}
CheckResult skip(std::string name, std::string detail) {
  return {std::move(name), CheckStatus::Skip, std::move(detail), ErrorClass::Internal};
}

std::string source_of(const ResolvedConfig& config, const std::string& key) {
  auto it = config.sources.find(key);
  return describe_source(key, it == config.sources.end() ? Source::None : it->second);
}

// "1h 2m", "59m 58s", "12s"
std::string duration_text(std::int64_t seconds) {
  if (seconds < 0) {
    seconds = -seconds;
  }
  const std::int64_t hours = seconds / 3600;
  const std::int64_t minutes = (seconds % 3600) / 60;
  const std::int64_t secs = seconds % 60;
  if (hours > 0) {
    return std::to_string(hours) + "h " + std::to_string(minutes) + "m";
  }
  if (minutes > 0) {
    return std::to_string(minutes) + "m " + std::to_string(secs) + "s";
  }
  return std::to_string(secs) + "s";
}

std::string ms_text(std::chrono::steady_clock::duration elapsed) {
  const double ms = std::chrono::duration<double, std::milli>(elapsed).count();
  char text[32];
  std::snprintf(text, sizeof text, "%.1f ms", ms);
  return text;
}

// "host:port" or "[v6]:port" -> host (brackets removed) and port.
std::pair<std::string, std::string> split_target(const std::string& target) {
  const auto colon = target.rfind(':');
  std::string host = target.substr(0, colon);
  std::string port = colon == std::string::npos ? "" : target.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return {host, port};
}

std::string address_text(const sockaddr* address) {
  char host[INET6_ADDRSTRLEN] = {};
  int port = 0;
  if (address->sa_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(address);
    ::inet_ntop(AF_INET, &v4->sin_addr, host, sizeof host);
    port = ntohs(v4->sin_port);
    return std::string(host) + ":" + std::to_string(port);
  }
  const auto* v6 = reinterpret_cast<const sockaddr_in6*>(address);
  ::inet_ntop(AF_INET6, &v6->sin6_addr, host, sizeof host);
  port = ntohs(v6->sin6_port);
  return "[" + std::string(host) + "]:" + std::to_string(port);
}

struct Resolved {
  struct addrinfo* list = nullptr;
  ~Resolved() {
    if (list != nullptr) {
      ::freeaddrinfo(list);
    }
  }
};

// Connects to one address within the timeout; "" on success, else why not.
std::string try_connect(const struct addrinfo& address, std::chrono::milliseconds timeout) {
  const int fd = ::socket(address.ai_family, address.ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                          address.ai_protocol);
  if (fd < 0) {
    return std::strerror(errno);
  }
  std::string error;
  if (::connect(fd, address.ai_addr, address.ai_addrlen) != 0) {
    if (errno != EINPROGRESS) {
      error = std::strerror(errno);
    } else {
      struct pollfd pfd {
        fd, POLLOUT, 0
      };
      const int ready = ::poll(&pfd, 1, static_cast<int>(timeout.count()));
      if (ready == 0) {
        error = "timed out after " + std::to_string(timeout.count()) + " ms";
      } else if (ready < 0) {
        error = std::strerror(errno);
      } else {
        int so_error = 0;
        socklen_t length = sizeof so_error;
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &length);
        if (so_error != 0) {
          error = std::strerror(so_error);
        }
      }
    }
  }
  ::close(fd);
  return error;
}

}  // namespace

const char* status_label(CheckStatus status) {
  switch (status) {
    case CheckStatus::Ok:
      return "ok";
    case CheckStatus::Warn:
      return "warn";
    case CheckStatus::Fail:
      return "FAIL";
    case CheckStatus::Skip:
      return "skip";
  }
  return "?";
}

std::vector<CheckResult> describe_config(const ResolvedConfig& config) {
  std::vector<CheckResult> results;
  std::string summary =
      "environment " + config.environment + " (" + source_of(config, "environment") + "), ";
  if (config.profile.empty()) {
    summary += "no profile";
  } else {
    summary += "profile " + config.profile + " (" + source_of(config, "profile") + ")";
  }
  summary += ", config dir " + config_dir().string();
  results.push_back(ok("config", summary));
  const TransportMode mode = transport_mode(config);
  results.push_back(ok("api_url", config.api_url + " (" + source_of(config, "api_url") + "), " +
                                      (mode.auto_transport ? "transport auto (TLS or h2c)"
                                       : mode.tls          ? "TLS"
                                                           : "plaintext")));
  results.push_back(
      ok("exchange_url", config.exchange_url + " (" + source_of(config, "exchange_url") + ")"));
  if (!config.token.empty()) {
    results.push_back(ok("credential", "token (" + source_of(config, "token") + ")"));
  } else if (!config.api_key.empty()) {
    results.push_back(ok("credential", "API key (" + source_of(config, "api_key") + ")"));
  } else {
    results.push_back(fail("credential", "none: run 'boxd auth login' or set BOXD_API_KEY",
                           ErrorClass::Authentication));
  }
  return results;
}

CheckResult judge_clock_skew(std::int64_t issued_at, std::int64_t before, std::int64_t after) {
  const std::int64_t midpoint = before + (after - before) / 2;
  const std::int64_t skew = issued_at - midpoint;
  const std::int64_t size = skew < 0 ? -skew : skew;
  // iat has whole seconds: a skew of a second or two is rounding.
  const std::string detail =
      size <= 1 ? std::string("local clock agrees with the server's (token issued just now)")
                : "local clock is " + duration_text(size) +
                      (skew > 0 ? " behind the server's" : " ahead of the server's");
  if (size <= k_skew_ok_seconds) {
    return ok("clock", detail);
  }
  if (size <= k_skew_warn_seconds) {
    return warn("clock", detail + "; fix the system clock (NTP)");
  }
  return fail("clock", detail + "; tokens will look expired or fresh when they are not",
              ErrorClass::Authentication);
}

CheckResult judge_token_expiry(const std::string& token, std::int64_t now) {
  const auto claims = jwt_decode_unverified(token);
  if (!claims || claims->expires_at == 0) {
    return warn("token", "not a JWT with an expiry: cannot tell when it expires");
  }
  const std::int64_t left = claims->expires_at - now;
  if (left <= 0) {
    return fail("token", "expired " + duration_text(left) + " ago", ErrorClass::Authentication);
  }
  return ok("token", "valid, expires in " + duration_text(left));
}

namespace {

// The isolation layers of a boxd local server (GetConfig).
CheckResult check_isolation(const ResolvedConfig& config) {
  try {
    Client client(config);
    const auto response = client.get_config();
    std::vector<IsolationEntry> layers;
    for (const auto& layer : response.isolation()) {
      layers.push_back({layer.name(), layer.enforced(), layer.detail()});
    }
    return judge_isolation(layers);
  } catch (const Error& e) {
    return fail("isolation", e.what(), e.error_class());
  }
}

}  // namespace

CheckResult judge_isolation(const std::vector<IsolationEntry>& layers) {
  if (layers.empty()) {
    return warn("isolation", "the server reports no isolation layers");
  }
  std::string off;
  std::string on;
  for (const auto& layer : layers) {
    if (layer.enforced) {
      on += (on.empty() ? "" : ", ") + layer.name;
    } else {
      off += (off.empty() ? "" : "; ") + layer.name + " (" + layer.detail + ")";
    }
  }
  if (off.empty()) {
    return ok("isolation", "all " + std::to_string(layers.size()) + " layers in force: " + on);
  }
  return warn("isolation", "not in force: " + off + (on.empty() ? "" : "; in force: " + on));
}

namespace {

// The "tls" check: the transport (auto endpoints ask the server afresh and
// update the cache) and a gRPC channel over it that reaches READY.
std::shared_ptr<grpc::Channel> check_channel(const ResolvedConfig& config,
                                             const DoctorOptions& options,
                                             const std::function<bool(CheckResult)>& add) {
  using Clock = std::chrono::steady_clock;
  const TransportMode mode = transport_mode(config);
  const TransportChoice choice = choose_transport(config, TransportCache::default_cache(), true,
                                                  std::min(options.timeout, k_tls_probe_timeout));
  grpc::ChannelArguments args;
  args.SetString(GRPC_ARG_PRIMARY_USER_AGENT_STRING, std::string("boxd-cli/") + k_version);
  const auto credentials = choice.tls ? grpc::SslCredentials(grpc::SslCredentialsOptions())
                                      : grpc::InsecureChannelCredentials();
  auto candidate = grpc::CreateCustomChannel(config.endpoint.target, credentials, args);
  const auto start = Clock::now();
  const std::string transport = choice.tls ? "TLS" : "plaintext (h2c)";
  if (candidate->WaitForConnected(std::chrono::system_clock::now() + options.timeout)) {
    add(ok("tls", transport + " HTTP/2 channel up in " + ms_text(Clock::now() - start) + " (" +
                      choice.reason + ")"));
    return candidate;
  }
  std::string advice;
  if (mode.auto_transport) {
    advice =
        choice.tls
            ? "if it speaks TLS, is its certificate trusted (GRPC_DEFAULT_SSL_ROOTS_FILE_PATH)?"
            : "is it a gRPC server?";
  } else {
    advice = choice.tls ? "does the server serve TLS? (use http:// for plaintext)"
                        : "does the server expect TLS? (use https://)";
  }
  add(fail("tls",
           "no " + transport + " HTTP/2 connection to " + config.endpoint.target + " within " +
               std::to_string(options.timeout.count()) + " ms (" + choice.reason + "); " + advice,
           ErrorClass::Connection));
  return nullptr;
}

using AddFn = std::function<bool(CheckResult)>;

// "dns" and "tcp": true when a TCP connection to the endpoint was made.
bool check_reachable(const ResolvedConfig& config, const DoctorOptions& options, const AddFn& add) {
  using Clock = std::chrono::steady_clock;
  const auto [host, port] = split_target(config.endpoint.target);
  Resolved resolved;
  struct addrinfo hints {};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  const int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &resolved.list);
  if (rc != 0) {
    add(fail("dns", "cannot resolve " + host + ": " + ::gai_strerror(rc), ErrorClass::Connection));
    add(skip("tcp", "no address"));
    return false;
  }
  std::string addresses;
  for (const auto* a = resolved.list; a != nullptr; a = a->ai_next) {
    const std::string text = address_text(a->ai_addr);
    if (addresses.find(text) == std::string::npos) {
      addresses += (addresses.empty() ? "" : ", ") + text;
    }
  }
  add(ok("dns", host + " -> " + addresses));

  std::string errors;
  for (const auto* a = resolved.list; a != nullptr; a = a->ai_next) {
    const auto start = Clock::now();
    const std::string error = try_connect(*a, options.timeout);
    if (error.empty()) {
      return add(ok("tcp", "connected to " + address_text(a->ai_addr) + " in " +
                               ms_text(Clock::now() - start)));
    }
    errors += (errors.empty() ? "" : "; ") + address_text(a->ai_addr) + ": " + error;
  }
  add(fail("tcp", "cannot connect to " + config.endpoint.target + " (" + errors + ")",
           ErrorClass::Connection));
  return false;
}

struct TokenOutcome {
  std::string token;  // the configured or exchanged token ("" if none)
  bool usable = false;
};

// "exchange", "token" and "clock".
TokenOutcome check_token(const ResolvedConfig& config, const DoctorOptions& options,
                         const AddFn& add) {
  using Clock = std::chrono::steady_clock;
  TokenOutcome outcome{config.token, false};
  bool fresh = false;
  std::int64_t before = 0;
  std::int64_t after = 0;
  if (!config.token.empty()) {
    add(skip("exchange", "a token is configured (" + source_of(config, "token") + ")"));
  } else if (config.api_key.empty()) {
    add(skip("exchange", "no API key"));
  } else {
    const auto start = Clock::now();
    before = unix_now();
    try {
      const ExchangeResult exchanged =
          exchange_api_key(config.exchange_url, config.api_key, options.timeout * 2);
      after = unix_now();
      outcome.token = exchanged.token;
      fresh = true;
      add(ok("exchange", "API key exchanged at " + config.exchange_url + " in " +
                             ms_text(Clock::now() - start)));
    } catch (const Error& e) {
      add(fail("exchange", std::string(e.what()), e.error_class()));
    }
  }
  if (outcome.token.empty()) {
    add(skip("token", "no token"));
    add(skip("clock", "no token"));
    return outcome;
  }
  outcome.usable = add(judge_token_expiry(outcome.token, unix_now()));
  const auto claims = jwt_decode_unverified(outcome.token);
  if (fresh && claims && claims->issued_at != 0) {
    add(judge_clock_skew(claims->issued_at, before, after));
  } else if (claims && claims->issued_at > unix_now() + k_skew_ok_seconds) {
    add(warn("clock", "the token was issued " + duration_text(claims->issued_at - unix_now()) +
                          " in the future: the local clock is behind the server's"));
  } else {
    add(skip("clock", "not measurable: the token was not issued just now"));
  }
  return outcome;
}

// "whoami" (and "isolation" for the local server), with the token as is.
void check_whoami(const ResolvedConfig& config, const std::string& token, const AddFn& add) {
  ResolvedConfig direct = config;
  direct.token = token;
  direct.api_key.clear();
  try {
    Client client(direct);
    const auto who = client.whoami();
    add(ok("whoami", "user " + who.user_id() +
                         (who.display_name().empty() ? "" : " (" + who.display_name() + ")")));
  } catch (const Error& e) {
    add(fail("whoami", e.what(), e.error_class()));
  }
  if (config.environment == "local") {
    add(check_isolation(direct));
  }
}

// The "schema" check's verdict on a comparison.
CheckResult schema_result(const SchemaDiff& diff) {
  if (diff.problems.empty()) {
    std::string detail = std::to_string(diff.rpcs_compared) + " RPCs and " +
                         std::to_string(diff.messages_compared) +
                         " messages match the compiled contract";
    if (!diff.notes.empty()) {
      detail += " (the server has " + std::to_string(diff.notes.size()) + " more RPCs)";
    }
    return ok("schema", detail);
  }
  std::string detail = std::to_string(diff.problems.size()) +
                       (diff.problems.size() == 1 ? " difference" : " differences") +
                       " from the compiled contract: ";
  for (std::size_t i = 0; i < diff.problems.size(); ++i) {
    detail += (i == 0 ? "" : "; ") + diff.problems[i];
  }
  return fail("schema", detail, ErrorClass::Internal);
}

// "schema": the server's reflected service against the compiled one.
void check_schema(const std::shared_ptr<grpc::Channel>& channel, const std::string& token,
                  const DoctorOptions& options, const AddFn& add) {
  const std::string service = api::BoxdApi::service_full_name();
  const auto* ours = google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(service);
  std::vector<std::pair<std::string, std::string>> metadata{
      {"x-boxd-client", std::string("boxd-cli/") + k_version}};
  if (!token.empty()) {
    metadata.emplace_back("authorization", "Bearer " + token);
  }
  try {
    const ReflectedSchema schema =
        fetch_reflected_schema(channel, service, metadata, options.timeout * 2);
    google::protobuf::DescriptorPool pool;
    const auto* theirs = build_service(pool, schema, service);
    if (ours == nullptr || theirs == nullptr) {
      add(fail("schema", "the server's reflection does not describe " + service,
               ErrorClass::Internal));
      return;
    }
    add(schema_result(diff_service(*ours, *theirs)));
  } catch (const Error& e) {
    add(fail("schema", e.what(), e.error_class()));
  }
}

}  // namespace

std::vector<CheckResult> run_network_checks(const ResolvedConfig& config, const ReportFn& report,
                                            const DoctorOptions& options) {
  std::vector<CheckResult> results;
  const AddFn add = [&results, &report](CheckResult result) {
    if (report) {
      report(result);
    }
    results.push_back(std::move(result));
    return results.back().status != CheckStatus::Fail;
  };

  const bool reachable = check_reachable(config, options, add);
  if (!reachable) {
    add(skip("tls", "no TCP connection"));
  }
  // tls: the gRPC channel over the configured transport.
  const std::shared_ptr<grpc::Channel> channel =
      reachable ? check_channel(config, options, add) : nullptr;
  const TokenOutcome token = check_token(config, options, add);
  if (!channel) {
    add(skip("whoami", "no gRPC channel"));
  } else if (!token.usable) {
    add(skip("whoami", "no usable token"));
  } else {
    check_whoami(config, token.token, add);
  }
  if (!channel) {
    add(skip("schema", "no gRPC channel"));
    return results;
  }
  check_schema(channel, token.token, options, add);
  return results;
}

}  // namespace boxd::client
