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
// Exec is a bidi stream; ExecSession serialises writers (stdin relay and
// resize may come from different threads) while one reader drains output.
#include "client/client.hpp"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <mutex>

#include "client/call_error.hpp"
#include "client/client_log.hpp"
#include "client/token_cache.hpp"
#include "client/transport.hpp"
#include "common/error.hpp"
#include "common/log.hpp"
#include "common/version.hpp"

namespace boxd::client {

namespace {

constexpr auto k_unary_deadline = std::chrono::seconds(60);
constexpr int k_keepalive_time_ms = 5000;
constexpr int k_keepalive_timeout_ms = 5000;
constexpr int k_max_receive_bytes = 16 * 1024 * 1024;
constexpr int k_stream_window_bytes = 4 * 1024 * 1024;
constexpr std::size_t k_stdin_chunk_bytes = 1024 * 1024;

std::string client_id() { return std::string("boxd-cli/") + k_version; }

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

class GrpcExecSession final : public ExecSession {
 public:
  // on_unreachable: called when the call failed to connect before any output.
  GrpcExecSession(std::unique_ptr<grpc::ClientContext> context,
                  std::unique_ptr<grpc::ClientReaderWriter<api::ExecChunk, api::ExecChunk>> stream,
                  ResolvedConfig config, std::function<void()> on_unreachable)
      : m_context(std::move(context)),
        m_stream(std::move(stream)),
        m_config(std::move(config)),
        m_on_unreachable(std::move(on_unreachable)) {}

  ~GrpcExecSession() override {
    if (!m_finished) {
      m_context->TryCancel();
      api::ExecChunk ignored;
      while (m_stream->Read(&ignored)) {
      }
      m_stream->Finish();
    }
  }

  GrpcExecSession(const GrpcExecSession&) = delete;
  GrpcExecSession& operator=(const GrpcExecSession&) = delete;

  bool write_stdin(const std::string& data) override {
    std::lock_guard lock(m_write_mutex);
    if (m_writes_done) {
      return false;
    }
    // One chunk message reused for every write: its data buffer keeps its
    // capacity, so bulk stdin does not allocate (and fault in) fresh memory
    // per chunk.
    std::size_t offset = 0;
    do {
      m_stdin_chunk.set_stdin(true);
      m_stdin_chunk.set_data(data.data() + offset,
                             std::min(k_stdin_chunk_bytes, data.size() - offset));
      if (!m_stream->Write(m_stdin_chunk)) {
        return false;
      }
      offset += k_stdin_chunk_bytes;
    } while (offset < data.size());
    return true;
  }

  bool resize(unsigned cols, unsigned rows) override {
    std::lock_guard lock(m_write_mutex);
    if (m_writes_done) {
      return false;
    }
    api::ExecChunk chunk;
    chunk.set_window_change(true);
    chunk.set_cols(cols);
    chunk.set_rows(rows);
    return m_stream->Write(chunk);
  }

  void close_stdin() override {
    std::lock_guard lock(m_write_mutex);
    if (!m_writes_done) {
      m_writes_done = true;
      m_stream->WritesDone();
    }
  }

  bool read(api::ExecChunk& chunk) override {
    while (m_stream->Read(&chunk)) {
      if (chunk.stdin() || chunk.window_change()) {
        continue;  // echoes of client-side chunk kinds: not output
      }
      m_had_output = true;
      return true;
    }
    return false;
  }

  void finish() override {
    if (m_finished) {
      return;
    }
    m_finished = true;
    const grpc::Status status = m_stream->Finish();
    if (!status.ok()) {
      if (status.error_code() == grpc::StatusCode::UNAVAILABLE && !m_had_output &&
          m_on_unreachable) {
        m_on_unreachable();
      }
      throw error_from_call(status, m_config, m_had_output);
    }
  }

  void cancel() override { m_context->TryCancel(); }

 private:
  std::unique_ptr<grpc::ClientContext> m_context;
  std::unique_ptr<grpc::ClientReaderWriter<api::ExecChunk, api::ExecChunk>> m_stream;
  const ResolvedConfig m_config;  // a copy: the session may outlive its Client
  std::function<void()> m_on_unreachable;
  std::mutex m_write_mutex;
  api::ExecChunk m_stdin_chunk;  // guarded by m_write_mutex
  bool m_writes_done = false;
  bool m_had_output = false;
  bool m_finished = false;
};

}  // namespace

struct Client::Impl {
  ResolvedConfig config;
  TokenCache cache = TokenCache::default_cache();
  TransportCache transport_cache = TransportCache::default_cache();
  std::optional<TransportChoice> transport;  // decided with the channel

  std::mutex mutex;  // guards everything below
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<api::BoxdApi::Stub> stub;
  std::string jwt;               // the token in use (from the key)
  std::int64_t jwt_expires_at = 0;
  std::string cli_latest;        // x-boxd-cli-latest seen on a response

  explicit Impl(ResolvedConfig c) : config(std::move(c)) {
    logging::add_secret(config.api_key);
    logging::add_secret(config.token);
  }

  bool uses_key() const { return config.token.empty() && !config.api_key.empty(); }

  // Decides TLS or h2c (auto endpoints ask the server, transport.hpp);
  // with the mutex held.
  bool decide_transport(bool fresh) {
    transport = choose_transport(config, transport_cache, fresh);
    logging::info("transport " + config.endpoint.target + ": " + transport->reason);
    return transport->tls;
  }

  // After a call could not connect: when the transport came from the cache,
  // ask the server again; true (and a new channel) when its answer changed,
  // so the call, which never reached the server, may be retried once.
  bool transport_changed() {
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

  api::BoxdApi::Stub& get_stub() {
    std::lock_guard lock(mutex);
    if (!stub) {
      const bool tls = transport ? transport->tls : decide_transport(false);
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
      const auto credentials = tls ? grpc::SslCredentials(grpc::SslCredentialsOptions())
                                   : grpc::InsecureChannelCredentials();
      logging::debug("channel", {{"target", config.endpoint.target},
                                 {"transport", tls ? "TLS" : "plaintext (h2c)"}});
      channel = grpc::experimental::CreateCustomChannelWithInterceptors(
          config.endpoint.target, credentials, args, rpc_log_interceptors());
      stub = api::BoxdApi::NewStub(channel);
    }
    return *stub;
  }

  // The bearer token for the next call. `fresh` tells whether it was
  // obtained by an exchange just now (then a refusal is final).
  std::string bearer(bool& fresh) {
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
      logging::debug("token cache hit", {{"key_source", source_of("api_key")},
                                         {"expires_in_s", jwt_expires_at - now}});
      return jwt;
    }
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
    logging::debug("token exchanged", {{"ms", static_cast<std::int64_t>(
                                                   std::chrono::duration_cast<std::chrono::milliseconds>(
                                                       std::chrono::steady_clock::now() - started)
                                                       .count())},
                                       {"expires_in_s", jwt_expires_at - now}});
    cache.store(config.exchange_url, config.api_key, {jwt, jwt_expires_at});
    fresh = true;
    return jwt;
  }

  std::string source_of(const std::string& key) const {
    auto it = config.sources.find(key);
    return source_name(it == config.sources.end() ? Source::None : it->second);
  }

  // After the server refused the token: forget it everywhere.
  void drop_token() {
    logging::debug("token refused by the server: dropped from the cache, exchanging again");
    std::lock_guard lock(mutex);
    jwt.clear();
    jwt_expires_at = 0;
    cache.drop(config.exchange_url, config.api_key);
  }

  // After a unary call (ok or not): remembers x-boxd-cli-latest, if sent.
  void note_metadata(const grpc::ClientContext& context) {
    const auto& metadata = context.GetServerInitialMetadata();
    auto it = metadata.find("x-boxd-cli-latest");
    if (it == metadata.end()) {
      return;
    }
    std::lock_guard lock(mutex);
    cli_latest.assign(it->second.data(), it->second.size());
  }

  void prepare(grpc::ClientContext& context, const std::string& token) const {
    context.AddMetadata("authorization", "Bearer " + token);
    context.AddMetadata("x-boxd-client", client_id());
  }

  template <typename Request, typename Response>
  using Method = grpc::Status (api::BoxdApi::Stub::*)(grpc::ClientContext*, const Request&,
                                                       Response*);

  template <typename Request, typename Response>
  Response call(Method<Request, Response> method, const Request& request) {
    for (int attempt = 0;; ++attempt) {
      bool fresh = false;
      const std::string token = bearer(fresh);
      api::BoxdApi::Stub& s = get_stub();
      grpc::ClientContext context;
      prepare(context, token);
      context.set_deadline(std::chrono::system_clock::now() + k_unary_deadline);
      Response response;
      const grpc::Status status = (s.*method)(&context, request, &response);
      note_metadata(context);
      if (status.ok()) {
        return response;
      }
      if (status.error_code() == grpc::StatusCode::UNAUTHENTICATED && attempt == 0 &&
          uses_key() && !fresh) {
        drop_token();
        continue;
      }
      if (status.error_code() == grpc::StatusCode::UNAVAILABLE && attempt == 0 &&
          transport_changed()) {
        continue;
      }
      throw error_from_call(status, config);
    }
  }
};

Client::Client(ResolvedConfig config) : m_impl(std::make_unique<Impl>(std::move(config))) {}

Client::~Client() = default;

const ResolvedConfig& Client::config() const { return m_impl->config; }

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

std::unique_ptr<ExecSession> Client::exec(const ExecRequest& request) {
  // bearer() refreshes a token within five minutes of expiry, so a stream
  // does not start with a token about to lapse. No retry once the stream is
  // open: stdin may already have been consumed.
  bool fresh = false;
  const std::string token = m_impl->bearer(fresh);
  api::BoxdApi::Stub& stub = m_impl->get_stub();
  auto context = std::make_unique<grpc::ClientContext>();
  m_impl->prepare(*context, token);
  if (request.deadline) {
    context->set_deadline(std::chrono::system_clock::now() + *request.deadline);
  }
  auto stream = stub.Exec(context.get());

  api::ExecChunk first;
  first.set_vm_id(request.vm);
  std::string command = request.command;
  if (request.tty && !request.term.empty() && !command.empty()) {
    // docs/wire-contract.md section 3: always single-quoted, `export TERM='xterm-256color'; cmd`.
    std::string quoted;
    for (char c : request.term) {
      quoted += c == '\'' ? std::string("'\"'\"'") : std::string(1, c);
    }
    command = "export TERM='" + quoted + "'; " + command;
  }
  first.set_command(command);
  first.set_tty(request.tty);
  if (request.tty) {
    first.set_cols(request.cols);
    first.set_rows(request.rows);
  }
  // A failed first write shows up as the stream's status on read/finish.
  stream->Write(first);
  // A cached transport that no longer works is asked again on the next run
  // (no retry here: stdin may already be consumed).
  std::function<void()> forget_transport;
  std::optional<TransportChoice> choice;
  {
    std::lock_guard lock(m_impl->mutex);
    choice = m_impl->transport;
  }
  if (choice && choice->from_cache) {
    forget_transport = [cache = m_impl->transport_cache, target = m_impl->config.endpoint.target] {
      cache.drop(target);
    };
  }
  return std::make_unique<GrpcExecSession>(std::move(context), std::move(stream), m_impl->config,
                                           std::move(forget_transport));
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

std::unique_ptr<grpc::ClientContext> Client::new_stream_context() {
  bool fresh = false;
  const std::string token = m_impl->bearer(fresh);
  auto context = std::make_unique<grpc::ClientContext>();
  m_impl->prepare(*context, token);
  return context;
}

api::BoxdApi::Stub& Client::stub() { return m_impl->get_stub(); }

void Client::unary(
    const std::function<grpc::Status(api::BoxdApi::Stub&, grpc::ClientContext&)>& call) {
  for (int attempt = 0;; ++attempt) {
    bool fresh = false;
    const std::string token = m_impl->bearer(fresh);
    api::BoxdApi::Stub& s = m_impl->get_stub();
    grpc::ClientContext context;
    m_impl->prepare(context, token);
    context.set_deadline(std::chrono::system_clock::now() + k_unary_deadline);
    const grpc::Status status = call(s, context);
    m_impl->note_metadata(context);
    if (status.ok()) {
      return;
    }
    if (status.error_code() == grpc::StatusCode::UNAUTHENTICATED && attempt == 0 &&
        m_impl->uses_key() && !fresh) {
      m_impl->drop_token();
      continue;
    }
    if (status.error_code() == grpc::StatusCode::UNAVAILABLE && attempt == 0 &&
        m_impl->transport_changed()) {
      continue;
    }
    throw error_from_call(status, m_impl->config);
  }
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
    case Source::Flag: return key == std::string("token") ? "--token" : "--api-key";
    case Source::Env: return key == std::string("token") ? "BOXD_TOKEN" : "BOXD_API_KEY";
    case Source::Credentials: return "credentials.json";
    default: return source_name(source);
  }
}

}  // namespace boxd::client
