// The client: credentials, the channel, and every call's failure path.
//
// Credentials. A direct token (--token, BOXD_TOKEN, credentials.json) is sent
// as is. An API key is traded for a JWT: first the in-memory token, then the
// on-disk cache (token_cache.hpp), then one exchange whose result is cached.
// A token is only used while it has more than five minutes left. When the
// server answers UNAUTHENTICATED to a token this process did not just obtain
// (a cached one, possibly revoked or signed by a since-restarted server), the
// cache entry is dropped, the key is exchanged once more and the call is
// retried exactly once; UNAUTHENTICATED means the server refused the call
// before doing anything, so even CreateVm is safe to retry then.
//
// The channel is created lazily (`boxd --help` and config-only commands never
// touch the network) and calls do not use wait_for_ready, so a dead endpoint
// gives UNAVAILABLE at once instead of hanging until the deadline. Keepalive
// pings every 5 s (also without calls and without data) detect a vanished
// peer during a long, quiet exec within about 10 s. Every unary call gets a
// 60 s deadline. Each stream has a fixed 4 MiB HTTP/2 receive window (no BDP
// auto-tuning), so a download never buffers more than that plus a message.
//
// Exec lives in client_exec.cpp, files/logs/disks in client_files.cpp, the
// other resources in client_net.cpp; all of them use Impl (client_impl.hpp).
#include "client/client.hpp"

#include <grpcpp/grpcpp.h>

#include <mutex>

#include "client/call_error.hpp"
#include "client/client_impl.hpp"
#include "client/client_log.hpp"
#include "client/token_cache.hpp"
#include "client/transport.hpp"
#include "common/error.hpp"
#include "common/log.hpp"
#include "common/version.hpp"

namespace boxd::client {

namespace {

constexpr int k_keepalive_time_ms = 5000;
constexpr int k_keepalive_timeout_ms = 5000;
constexpr int k_max_receive_bytes = 16 * 1024 * 1024;
constexpr int k_stream_window_bytes = 4 * 1024 * 1024;

// No credential at all. For the local environment the likelier story is
// that no local server runs (it logs the CLI in when started): a quick
// loopback connect tells which.
Error not_logged_in(const ResolvedConfig& config) {
  if (config.environment == "local") {
    const std::string why =
        tcp_connect_error(config.endpoint.target, std::chrono::milliseconds(300));
    if (!why.empty()) {
      return Error(ErrorClass::Connection,
                   "no local server is running at " + config.endpoint.target + " (" + why + ")",
                   "start one with 'boxd local start' (it also logs the CLI in)");
    }
    return Error(ErrorClass::Authentication,
                 "not logged in to the local server at " + config.endpoint.target,
                 "run 'boxd local start' (it logs the CLI in to a running server too) or set "
                 "BOXD_API_KEY");
  }
  return Error(ErrorClass::Authentication, "not logged in",
               "run 'boxd auth login' or set BOXD_API_KEY");
}

// A key exchange that could not connect: say where to look.
Error exchange_unreachable(const Error& e, const ResolvedConfig& config) {
  if (e.error_class() != ErrorClass::Connection || !e.hint().empty()) {
    return e;
  }
  return Error(e.error_class(), e.what(),
               config.environment == "local"
                   ? "is the local server running? start it with 'boxd local start'"
                   : "check your network and --exchange-url / BOXD_EXCHANGE_URL",
               e.grpc_code());
}

grpc::ChannelArguments channel_arguments() {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, k_keepalive_time_ms);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, k_keepalive_timeout_ms);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  args.SetMaxReceiveMessageSize(k_max_receive_bytes);
  args.SetString(GRPC_ARG_PRIMARY_USER_AGENT_STRING, client_id());
  // A fixed 4 MiB receive window per stream instead of the BDP probe's
  // auto-tuning, which grows the window (and what gRPC buffers for a
  // reader slower than the sender) to tens of MiB: a 1 GiB download
  // peaked at 74-161 MiB RSS with it, ~29 MiB without, same speed on
  // loopback (tests/bench). Bounds a stream to ~4 MiB / RTT.
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, k_stream_window_bytes);
  // Frames as large as the window: with the BDP probe off, gRPC keeps
  // HTTP/2's 16 KiB, and a 1 MiB message came as 64 DATA frames, each
  // parsed and kept as its own slice (tests/bench/FINDINGS.md, "Round ten").
  args.SetInt(GRPC_ARG_HTTP2_MAX_FRAME_SIZE, k_stream_window_bytes);
  return args;
}

std::int64_t ms_since(std::chrono::steady_clock::time_point started) {
  return static_cast<std::int64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                       std::chrono::steady_clock::now() - started)
                                       .count());
}

}  // namespace

std::string client_id() {
  return std::string("boxd-cli/") + k_version;
}

Client::Impl::Impl(ResolvedConfig c) : config(std::move(c)) {
  logging::add_secret(config.api_key);
  logging::add_secret(config.token);
}

bool Client::Impl::uses_key() const {
  return config.token.empty() && !config.api_key.empty();
}

// Decides TLS or h2c (auto endpoints ask the server, transport.hpp); with
// the mutex held.
bool Client::Impl::decide_transport(bool fresh) {
  transport = choose_transport(config, transport_cache, fresh);
  logging::info("transport " + config.endpoint.target + ": " + transport->reason);
  return transport->tls;
}

// After a call could not connect: when the transport came from the cache,
// ask the server again; true (and a new channel) when its answer changed,
// so the call, which never reached the server, may be retried once.
bool Client::Impl::transport_changed() {
  std::lock_guard lock(mutex);
  if (!transport || !transport->from_cache) {
    return false;
  }
  const bool was_tls = transport->tls;
  transport_cache.drop(config.endpoint.target);
  if (decide_transport(true) == was_tls) {
    return false;
  }
  stub.reset();
  channel.reset();
  return true;
}

api::BoxdApi::Stub& Client::Impl::get_stub() {
  std::lock_guard lock(mutex);
  if (!stub) {
    const bool tls = transport ? transport->tls : decide_transport(false);
    const auto credentials = tls ? grpc::SslCredentials(grpc::SslCredentialsOptions())
                                 : grpc::InsecureChannelCredentials();
    logging::debug("channel", {{"target", config.endpoint.target},
                               {"transport", tls ? "TLS" : "plaintext (h2c)"}});
    channel = grpc::experimental::CreateCustomChannelWithInterceptors(
        config.endpoint.target, credentials, channel_arguments(), rpc_log_interceptors());
    stub = api::BoxdApi::NewStub(channel);
  }
  return *stub;
}

std::shared_ptr<grpc::Channel> Client::Impl::get_channel() {
  get_stub();
  std::lock_guard lock(mutex);
  return channel;
}

std::string Client::Impl::bearer(bool& fresh) {
  fresh = false;
  if (!config.token.empty()) {
    logging::debug("token given as is", {{"source", source_of("token")}});
    return config.token;
  }
  if (config.api_key.empty()) {
    throw not_logged_in(config);
  }
  std::lock_guard lock(mutex);
  const std::int64_t now = unix_now();
  if (!jwt.empty() && token_fresh(jwt_expires_at, now)) {
    return jwt;
  }
  if (auto cached = cache.load(config.exchange_url, config.api_key, now)) {
    jwt = cached->token;
    jwt_expires_at = cached->expires_at;
    logging::add_secret(jwt);
    logging::debug("token cache hit",
                   {{"key_source", source_of("api_key")}, {"expires_in_s", jwt_expires_at - now}});
    return jwt;
  }
  fresh = true;
  return exchange_locked(now);
}

// One key exchange, its result kept and cached; with the mutex held.
std::string Client::Impl::exchange_locked(std::int64_t now) {
  logging::debug("token cache miss: exchanging the API key",
                 {{"key_source", source_of("api_key")}, {"url", config.exchange_url}});
  const auto started = std::chrono::steady_clock::now();
  ExchangeResult result;
  try {
    result = exchange_api_key(config.exchange_url, config.api_key);
  } catch (const Error& e) {
    throw exchange_unreachable(e, config);
  }
  jwt = result.token;
  jwt_expires_at = result.expires_at;
  logging::add_secret(jwt);
  logging::debug("token exchanged",
                 {{"ms", ms_since(started)}, {"expires_in_s", jwt_expires_at - now}});
  cache.store(config.exchange_url, config.api_key, {jwt, jwt_expires_at});
  return jwt;
}

std::string Client::Impl::source_of(const std::string& key) const {
  auto it = config.sources.find(key);
  return source_name(it == config.sources.end() ? Source::None : it->second);
}

// After the server refused the token: forget it everywhere.
void Client::Impl::drop_token() {
  logging::debug("token refused by the server: dropped from the cache, exchanging again");
  std::lock_guard lock(mutex);
  jwt.clear();
  jwt_expires_at = 0;
  cache.drop(config.exchange_url, config.api_key);
}

// After a unary call (ok or not): remembers x-boxd-cli-latest, if sent.
void Client::Impl::note_metadata(const grpc::ClientContext& context) {
  const auto& metadata = context.GetServerInitialMetadata();
  auto it = metadata.find("x-boxd-cli-latest");
  if (it == metadata.end()) {
    return;
  }
  std::lock_guard lock(mutex);
  cli_latest.assign(it->second.data(), it->second.size());
}

void Client::Impl::prepare(grpc::ClientContext& context, const std::string& token) const {
  context.AddMetadata("authorization", "Bearer " + token);
  context.AddMetadata("x-boxd-client", client_id());
}

std::unique_ptr<grpc::ClientContext> Client::Impl::stream_context() {
  bool fresh = false;
  const std::string token = bearer(fresh);
  auto context = std::make_unique<grpc::ClientContext>();
  prepare(*context, token);
  return context;
}

bool Client::Impl::unary_done(const grpc::ClientContext& context, const grpc::Status& status,
                              int attempt, bool fresh) {
  note_metadata(context);
  if (status.ok()) {
    return true;
  }
  if (status.error_code() == grpc::StatusCode::UNAUTHENTICATED && attempt == 0 && uses_key() &&
      !fresh) {
    drop_token();
    return false;
  }
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE && attempt == 0 && transport_changed()) {
    return false;
  }
  throw error_from_call(status, config);
}

Client::Client(ResolvedConfig config) : m_impl(std::make_unique<Impl>(std::move(config))) {}

Client::~Client() = default;

const ResolvedConfig& Client::config() const {
  return m_impl->config;
}

api::CreateVmResponse Client::create_vm(const api::CreateVmRequest& request) {
  return m_impl->call(&api::BoxdApi::Stub::CreateVm, request);
}

api::GetVmResponse Client::get_vm(const std::string& vm) {
  api::GetVmRequest request;
  request.set_vm_id(vm);
  return m_impl->call(&api::BoxdApi::Stub::GetVm, request);
}

std::vector<api::GetVmResponse> Client::list_vms() {
  const api::ListVmsResponse response =
      m_impl->call(&api::BoxdApi::Stub::ListVms, api::ListVmsRequest());
  return {response.vms().begin(), response.vms().end()};
}

api::ForkVmResponse Client::fork_vm(const api::ForkVmRequest& request) {
  return m_impl->call(&api::BoxdApi::Stub::ForkVm, request);
}

void Client::start_vm(const std::string& vm) {
  api::StartVmRequest request;
  request.set_vm_id(vm);
  m_impl->call(&api::BoxdApi::Stub::StartVm, request);
}

void Client::stop_vm(const std::string& vm) {
  api::StopVmRequest request;
  request.set_vm_id(vm);
  m_impl->call(&api::BoxdApi::Stub::StopVm, request);
}

void Client::reboot_vm(const std::string& vm) {
  api::RebootVmRequest request;
  request.set_vm_id(vm);
  m_impl->call(&api::BoxdApi::Stub::RebootVm, request);
}

void Client::destroy_vm(const std::string& vm) {
  api::DestroyVmRequest request;
  request.set_vm_id(vm);
  m_impl->call(&api::BoxdApi::Stub::DestroyVm, request);
}

api::SuspendVmResponse Client::suspend_vm(const std::string& vm) {
  api::SuspendVmRequest request;
  request.set_vm_id(vm);
  return m_impl->call(&api::BoxdApi::Stub::SuspendVm, request);
}

api::ResumeVmResponse Client::resume_vm(const std::string& vm) {
  api::ResumeVmRequest request;
  request.set_vm_id(vm);
  return m_impl->call(&api::BoxdApi::Stub::ResumeVm, request);
}

api::WhoamiResponse Client::whoami() {
  return m_impl->call(&api::BoxdApi::Stub::Whoami, api::WhoamiRequest());
}

api::GetConfigResponse Client::get_config() {
  return m_impl->call(&api::BoxdApi::Stub::GetConfig, api::GetConfigRequest());
}

std::string Client::current_token() {
  bool fresh = false;
  return m_impl->bearer(fresh);
}

std::string Client::advertised_cli_latest() const {
  std::lock_guard lock(m_impl->mutex);
  return m_impl->cli_latest;
}

std::string Client::credential_source() const {
  const ResolvedConfig& config = m_impl->config;
  const char* key = !config.token.empty() ? "token" : !config.api_key.empty() ? "api_key" : nullptr;
  if (key == nullptr) {
    return "none";
  }
  auto it = config.sources.find(key);
  const Source source = it == config.sources.end() ? Source::None : it->second;
  switch (source) {
    case Source::Flag:
      return key == std::string("token") ? "--token" : "--api-key";
    case Source::Env:
      return key == std::string("token") ? "BOXD_TOKEN" : "BOXD_API_KEY";
    case Source::Credentials:
      return "credentials.json";
    default:
      return source_name(source);
  }
}

}  // namespace boxd::client
