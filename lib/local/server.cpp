#include "local/server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/support/server_interceptor.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <future>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <ostream>
#include <thread>

#include "common/error.hpp"
#include "common/fd.hpp"
#include "common/files.hpp"
#include "common/log.hpp"
#include "common/paths.hpp"
#include "local/auth.hpp"
#include "local/box_file.hpp"
#include "local/grpc_gate.hpp"
#include "local/http_proxy.hpp"
#include "local/key_exchange_http.hpp"
#include "local/rpc_log.hpp"
#include "local/runtime.hpp"
#include "local/service.hpp"
#include "local/state_lock.hpp"
#include "local/store.hpp"

namespace boxd::local {

namespace {

// SIGPIPE gets an empty handler, not SIG_IGN: a handler resets to the
// default in the boxes' processes across exec, an ignore would not (the same
// reason SIGINT/SIGTERM go to a SignalPipe, common/fd.hpp, and not a mask).
extern "C" void on_sigpipe(int) {}

// Adds `x-boxd-cli-latest` to the initial metadata of every call (also a
// failed one: gRPC then sends it with the status).
class CliLatestInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit CliLatestInterceptor(std::string version) : m_version(std::move(version)) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      methods->GetSendInitialMetadata()->insert({"x-boxd-cli-latest", m_version});
    }
    methods->Proceed();
  }

 private:
  std::string m_version;
};

class CliLatestInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit CliLatestInterceptorFactory(std::string version) : m_version(std::move(version)) {}

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* /*info*/) override {
    return new CliLatestInterceptor(m_version);
  }

 private:
  std::string m_version;
};

void install_sigpipe_handler() {
  struct sigaction pipe_sa {};
  pipe_sa.sa_handler = on_sigpipe;
  sigemptyset(&pipe_sa.sa_mask);
  pipe_sa.sa_flags = SA_RESTART;
  ::sigaction(SIGPIPE, &pipe_sa, nullptr);
}

void wait_for_stop_signal(const SignalPipe& signals) {
  for (;;) {
    pollfd pfd{signals.fd(), POLLIN, 0};
    if (::poll(&pfd, 1, -1) > 0 && signals.take() != 0) {
      return;
    }
  }
}

// The address clients should use for a listen address.
std::string connect_host(const std::string& listen) {
  if (listen == "0.0.0.0" || listen.empty()) {
    return "127.0.0.1";
  }
  if (listen == "::" || listen == "[::]") {
    return "[::1]";
  }
  if (listen.find(':') != std::string::npos && listen.front() != '[') {
    return "[" + listen + "]";
  }
  return listen;
}

HttpLimits http_limits_of(const ServeOptions& options) {
  HttpLimits limits;
  limits.max_connections = options.http_max_connections;
  // One owner (a local uid, a remote address or /64) at most half.
  limits.max_owner_connections = std::max(1, options.http_max_connections / 2);
  limits.header_timeout_ms = options.http_header_timeout * 1000;
  limits.body_timeout_ms = options.http_body_timeout * 1000;
  return limits;
}

// Says at start which isolation the server could not set up (a warning
// line each on the log), writes every layer to <state>/isolation.json for
// `boxd local status`, and returns the names of the layers not in force.
std::vector<std::string> report_isolation(const Runtime& runtime,
                                          const std::filesystem::path& state_dir) {
  nlohmann::json layers = nlohmann::json::array();
  std::vector<std::string> missing;
  for (const auto& layer : runtime.isolation()) {
    layers.push_back(
        {{"name", layer.name}, {"enforced", layer.enforced}, {"detail", layer.detail}});
    if (!layer.enforced) {
      missing.push_back(layer.name);
      logging::warn("no " + layer.name + ": " + layer.detail, {{"layer", layer.name}});
    }
  }
  const nlohmann::json doc{{"runtime", runtime.kind()}, {"isolation", layers}};
  write_file_atomic(state_dir / k_isolation_file, doc.dump(2) + "\n", 0644);
  return missing;
}

std::string joined(const std::vector<std::string>& names) {
  std::string text;
  for (const auto& name : names) {
    text += (text.empty() ? "" : ", ") + name;
  }
  return text.empty() ? "none" : text;
}

// The log of ServeOptions (usage errors for bad values), and gRPC's own
// messages into it.
void start_log(const ServeOptions& options) {
  const auto level = logging::parse_level(options.log_level);
  const auto format = logging::parse_format(options.log_format);
  if (!level || !format) {
    throw Error(ErrorClass::Usage,
                "--log-level is trace|debug|info|warn|error and --log-format "
                "text|json");
  }
  if (options.log_max_bytes < 4096 || options.log_max_files < 1) {
    throw Error(ErrorClass::Usage, "--log-max-size must be at least 4K and --log-max-files 1+");
  }
  if (!options.log_file.empty()) {
    logging::to_file({options.log_file, options.log_max_bytes, options.log_max_files}, *level,
                     *format);
  } else if (options.log_stream != nullptr) {
    logging::to_stream(*options.log_stream, *level, *format, logging::Style::Server);
  } else {
    logging::off();
  }
  logging::route_grpc_log(false);
}

std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors(
    const ServeOptions& options) {
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
  creators.push_back(make_rpc_log_factory());
  if (!options.advertise_cli_latest.empty()) {
    creators.push_back(std::make_unique<CliLatestInterceptorFactory>(options.advertise_cli_latest));
  }
  return creators;
}

void check_options(const ServeOptions& options) {
  if (options.tls_cert.empty() != options.tls_key.empty()) {
    throw Error(ErrorClass::Usage, "--tls-cert and --tls-key go together");
  }
  if (options.max_boxes < 0 || options.token_ttl <= 0 || options.max_disks < 0) {
    throw Error(ErrorClass::Usage, "--max-boxes, --max-disks and --token-ttl must be positive");
  }
  if (options.http_max_connections < 1 || options.http_header_timeout < 1 ||
      options.http_body_timeout < 1) {
    throw Error(ErrorClass::Usage,
                "--http-max-connections, --http-header-timeout and --http-body-timeout must be "
                "positive");
  }
  if (options.max_user_streams < 1 || options.max_user_execs < 1 ||
      options.stream_idle_timeout < 1) {
    throw Error(ErrorClass::Usage,
                "--max-user-streams, --max-user-execs and --stream-idle-timeout must be positive");
  }
  if (options.max_user_connections < 1 || options.max_connections < 0) {
    throw Error(ErrorClass::Usage,
                "--max-user-connections must be positive and --max-connections 0 (auto) or "
                "positive");
  }
  if (options.max_streams < 0 || options.max_execs < 0) {
    throw Error(ErrorClass::Usage, "--max-streams and --max-execs must be 0 (auto) or positive");
  }
}

// --api-key KEY=USER flags, else the state dir's own key for user "local";
// every key is a secret of the log.
std::map<std::string, std::string> api_keys(const ServeOptions& options,
                                            const std::filesystem::path& state_dir) {
  std::map<std::string, std::string> keys;
  for (const auto& flag : options.api_keys) {
    keys.insert(parse_key_flag(flag));
  }
  if (keys.empty()) {
    keys[load_or_create_api_key(state_dir)] = "local";
  }
  for (const auto& [key, user] : keys) {
    logging::add_secret(key);
  }
  return keys;
}

// Descriptors an open stream may hold, about: an exec its stdio pipes or
// PTY, a pidfd and its wake pipe (and a few while it starts); a transfer
// its helper's pipes and pidfd. Both stream pools count (transfers, logs).
constexpr std::uint64_t k_fds_per_exec = 8;
constexpr std::uint64_t k_fds_per_stream = 6;
// Everything else: listeners, connections, the store, the log, netlink.
constexpr std::uint64_t k_base_fds = 256;

// A connection the gate refused: logged at most every 10 s, with how many
// were refused meanwhile (an attacker's refusals must not flood the log).
void warn_connection_refused(const std::string& owner) {
  static std::mutex mutex;
  static std::chrono::steady_clock::time_point last{};
  static std::int64_t refused = 0;
  std::lock_guard lock(mutex);
  ++refused;
  const auto now = std::chrono::steady_clock::now();
  if (last != std::chrono::steady_clock::time_point{} && now - last < std::chrono::seconds(10)) {
    return;
  }
  last = now;
  logging::warn(
      "gRPC connection refused: too many open (--max-connections, "
      "--max-user-connections)",
      {{"owner", owner}, {"refused", refused}});
  refused = 0;
}

// The gate's accept loop feeding gRPC's acceptor, for the scope of this
// object: its thread uses the acceptor, so it stops first, whichever way
// serve() is left.
class GateRun {
 public:
  GateRun(ConnectionGate& gate, const ServeOptions& caps,
          grpc::experimental::ExternalConnectionAcceptor& acceptor)
      : m_gate(gate) {
    gate.start(
        ConnectionLimits{caps.max_connections, caps.max_user_connections},
        [&acceptor](int fd) {
          grpc::experimental::ExternalConnectionAcceptor::NewConnectionParameters connection;
          connection.fd = fd;
          acceptor.HandleNewConnection(&connection);
        },
        [](const std::string& owner) { warn_connection_refused(owner); });
  }
  ~GateRun() { m_gate.stop(); }
  GateRun(const GateRun&) = delete;
  GateRun& operator=(const GateRun&) = delete;

 private:
  ConnectionGate& m_gate;
};

// The server-wide caps when left to the server (0).
constexpr int k_auto_max_execs = 2048;
constexpr int k_auto_max_streams = 1024;
constexpr int k_auto_max_connections = 4096;

int max_execs_of(const ServeOptions& options) {
  return options.max_execs > 0 ? options.max_execs : k_auto_max_execs;
}

int max_streams_of(const ServeOptions& options) {
  return options.max_streams > 0 ? options.max_streams : k_auto_max_streams;
}

std::uint64_t stream_fds(int max_execs, int max_streams) {
  return k_fds_per_exec * static_cast<std::uint64_t>(max_execs) +
         2 * k_fds_per_stream * static_cast<std::uint64_t>(max_streams);
}

// Raises the soft descriptor limit towards wanted_fd_limit() (the hard
// limit bounds it; children inherit it, as under the systemd unit's
// LimitNOFILE), then fits the caps to what it is.
ServeOptions fit_fd_limit(const ServeOptions& options) {
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) < 0 || files.rlim_cur == RLIM_INFINITY) {
    return fit_stream_caps(options, std::numeric_limits<std::uint64_t>::max());
  }
  const std::uint64_t want = wanted_fd_limit(options);
  if (files.rlim_cur < want) {
    rlimit raised = files;
    raised.rlim_cur =
        files.rlim_max == RLIM_INFINITY ? want : std::min<rlim_t>(want, files.rlim_max);
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) {
      files = raised;
    }
  }
  ServeOptions fitted = fit_stream_caps(options, files.rlim_cur);
  // Said when a cap given on the command line was lowered, or one user
  // could now hold every exec or stream of the server.
  const bool given_lowered =
      (options.max_execs > 0 && fitted.max_execs < options.max_execs) ||
      (options.max_streams > 0 && fitted.max_streams < options.max_streams) ||
      (options.max_connections > 0 && fitted.max_connections < options.max_connections);
  const bool per_user_lowered = fitted.max_user_execs < options.max_user_execs ||
                                fitted.max_user_streams < options.max_user_streams ||
                                fitted.max_user_connections < options.max_user_connections;
  if (given_lowered || per_user_lowered) {
    logging::warn(
        "the descriptor limit is too low for the stream caps (raise it: ulimit -n, or "
        "LimitNOFILE): serving with --max-execs " +
            std::to_string(fitted.max_execs) + " --max-streams " +
            std::to_string(fitted.max_streams) + " --max-user-execs " +
            std::to_string(fitted.max_user_execs) + " --max-user-streams " +
            std::to_string(fitted.max_user_streams) + " --max-connections " +
            std::to_string(fitted.max_connections) + " --max-user-connections " +
            std::to_string(fitted.max_user_connections),
        {{"nofile", std::to_string(files.rlim_cur)}, {"wanted", std::to_string(want)}});
  }
  return fitted;
}

ServiceOptions service_options_of(const ServeOptions& options,
                                  const std::filesystem::path& state_dir, int proxy_port) {
  ServiceOptions service_options;
  service_options.state_dir = state_dir;
  service_options.max_boxes = options.max_boxes;
  service_options.max_disks = options.max_disks;
  service_options.max_disk_bytes = options.max_disk_bytes;
  service_options.box_pids_max = options.box_pids_max;
  service_options.max_user_streams = options.max_user_streams;
  service_options.max_user_execs = options.max_user_execs;
  service_options.max_streams = options.max_streams;
  service_options.max_execs = options.max_execs;
  service_options.stream_idle_timeout = std::chrono::seconds(options.stream_idle_timeout);
  service_options.proxy_port = proxy_port;
  service_options.url_scheme = "http";
  return service_options;
}

std::shared_ptr<grpc::ServerCredentials> credentials_of(const ServeOptions& options) {
  if (options.tls_cert.empty()) {
    return grpc::InsecureServerCredentials();
  }
  auto cert = read_file(options.tls_cert);
  auto key = read_file(options.tls_key);
  if (!cert || !key) {
    throw Error(ErrorClass::Usage, "cannot read --tls-cert or --tls-key");
  }
  grpc::SslServerCredentialsOptions ssl;
  ssl.pem_key_cert_pairs.push_back({*key, *cert});
  return grpc::SslServerCredentials(ssl);
}

// The gRPC server of `service`, taking its connections from `acceptor`
// (the ConnectionGate's, grpc_gate.hpp).
std::unique_ptr<grpc::Server> start_grpc(
    const ServeOptions& options, BoxdService& service,
    std::unique_ptr<grpc::experimental::ExternalConnectionAcceptor>& acceptor) {
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  acceptor = builder.experimental().AddExternalConnectionAcceptor(
      grpc::ServerBuilder::experimental_type::ExternalConnectionType::FROM_FD,
      credentials_of(options));
  builder.RegisterService(&service);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 1000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 20000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  builder.experimental().SetInterceptorCreators(interceptors(options));
  // A fixed 4 MiB receive window per stream instead of the BDP probe's
  // auto-tuning, which grew an upload's window (and what gRPC holds of a
  // stream the box drains slower than the client sends) to tens of MiB:
  // the server peaked at 70-105 MiB during one 1 GiB `box cp` up, 36-40
  // MiB with this, and uploads and exec stdin were no slower (tests/bench
  // FINDINGS.md). It also bounds what one stalled stream holds.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 4 * 1024 * 1024);
  // Frames up to the window's size, not HTTP/2's 16 KiB (kept by gRPC when
  // the BDP probe is off): an upload's or stdin's 1 MiB message came as 64
  // DATA frames, each parsed and kept as a slice (tests/bench/FINDINGS.md, "Round ten").
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_FRAME_SIZE, 4 * 1024 * 1024);
  auto server = builder.BuildAndStart();
  if (!server) {
    throw Error(ErrorClass::Connection, "cannot start the gRPC server");
  }
  return server;
}

// Keeps gRPC's sockets and callback work served after an idle second.
//
// Exec is a callback method. gRPC 1.51 (epoll1) runs callback work on the
// threads of its process-wide callback queue, and makes the queues of the
// sync methods non-polling ("hybrid server"), so those threads are also the
// only ones that read sockets. Each waits for at most 1 s and, after an idle
// second, sleeps 100 ms before it waits again; as an idle server's threads
// all got their last event together, they sleep together. A call that arrives
// then waits for the end of the sleep: `box get` or `box exec` 1.0-1.1 s after
// the previous call took 80-110 ms instead of 10 (tests/bench FINDINGS.md).
//
// So every 400 ms a thread of ours makes a callback call on an in-process
// channel to a method that does not exist. Its completion goes to the
// callback queue, the thread that takes it waits a full second again, and
// one callback thread is always waiting: it polls the sockets (epoll1 has
// one epoll set for every queue) and runs Exec's work as it comes in.
// (A thread of our own that only polled fixed sync calls but not Exec, and
// it cost exec stdin a hand-off per message to a callback thread.)
class GrpcKeepAwake {
 public:
  explicit GrpcKeepAwake(grpc::Server& server)
      : m_stub(server.InProcessChannel(grpc::ChannelArguments())),
        m_pinger([this] { ping_until_stopped(); }) {}
  ~GrpcKeepAwake() {
    {
      std::lock_guard lock(m_mutex);
      m_stop = true;
    }
    m_wake.notify_all();
    m_pinger.join();
  }
  GrpcKeepAwake(const GrpcKeepAwake&) = delete;
  GrpcKeepAwake& operator=(const GrpcKeepAwake&) = delete;

  static constexpr const char* k_method = "/boxd.local.KeepAwake/Ping";

 private:
  void ping_until_stopped() {
    pthread_setname_np(pthread_self(), "grpc-keepawake");
    std::unique_lock lock(m_mutex);
    while (!m_wake.wait_for(lock, std::chrono::milliseconds(400), [this] { return m_stop; })) {
      lock.unlock();
      ping();
      lock.lock();
    }
  }

  // One call; returns once its callback has run (UNIMPLEMENTED, or the deadline).
  void ping() {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
    grpc::Slice empty;
    const grpc::ByteBuffer request(&empty, 1);  // a ByteBuffer with no slice is not a message
    grpc::ByteBuffer response;
    // Shared: set_value may still be returning on gRPC's thread when wait() does here.
    auto done = std::make_shared<std::promise<void>>();
    auto finished = done->get_future();
    m_stub.UnaryCall(&context, k_method, grpc::StubOptions(), &request, &response,
                     [done](const grpc::Status&) { done->set_value(); });
    finished.wait();
  }

  grpc::GenericStub m_stub;
  std::mutex m_mutex;
  std::condition_variable m_wake;
  bool m_stop = false;
  std::thread m_pinger;  // last: it uses the members above
};

// One user's --max-boxes past what the bridge subnet holds (a /24: 253 boxes)
// would otherwise show only when a create finds no free address.
void warn_if_subnet_too_small(const std::string& subnet, int max_boxes) {
  const auto slash = subnet.find('/');
  if (slash == std::string::npos) {
    return;
  }
  const int prefix = std::atoi(subnet.c_str() + slash + 1);
  if (prefix < 8 || prefix > 30) {
    return;
  }
  const long long holds = (1LL << (32 - prefix)) - 3;  // network, gateway, broadcast
  if (max_boxes > holds) {
    logging::warn("--max-boxes " + std::to_string(max_boxes) + " is more than the bridge subnet " +
                  subnet + " holds (" + std::to_string(holds) +
                  " boxes on this server): use --bridge-subnet with a larger range, e.g. a /22 "
                  "for 1,021");
  }
}

// Where the server listens, for the `key: value` lines and the log.
struct Endpoints {
  std::string host;
  int grpc_port = 0;
  int http_port = 0;
  int proxy_port = 0;
};

// The contract's `key: value` lines up to `ready` on options.out, and the
// log's "serving" line.
void announce(const ServeOptions& options, const Endpoints& at,
              const std::filesystem::path& state_dir, const Runtime& runtime,
              const std::vector<std::string>& isolation_off) {
  const bool tls = !options.tls_cert.empty();
  if (options.out != nullptr) {
    auto& out = *options.out;
    out << "api_url: " << (tls ? "https://" : "http://") << at.host << ":" << at.grpc_port << "\n";
    out << "exchange_url: http://" << at.host << ":" << at.http_port << "/api/v1/auth/token\n";
    out << "proxy_url: http://" << at.host << ":" << at.proxy_port << "\n";
    out << "state_dir: " << state_dir.string() << "\n";
    out << "runtime: " << runtime.kind() << "\n";
    if (!runtime.bridge_subnet().empty()) {
      out << "bridge_subnet: " << runtime.bridge_subnet() << "\n";
    }
    out << "isolation_off: " << joined(isolation_off) << "\n";
    out << "ready" << std::endl;
  }
  logging::info("serving", {{"grpc", at.host + ":" + std::to_string(at.grpc_port)},
                            {"exchange", at.host + ":" + std::to_string(at.http_port)},
                            {"proxy", at.host + ":" + std::to_string(at.proxy_port)},
                            {"state", state_dir.string()},
                            {"runtime", runtime.kind()},
                            {"pid", static_cast<std::int64_t>(::getpid())}});
}

}  // namespace

std::uint64_t wanted_fd_limit(const ServeOptions& options) {
  return 2 * (stream_fds(max_execs_of(options), max_streams_of(options)) + k_base_fds);
}

ServeOptions fit_stream_caps(ServeOptions options, std::uint64_t fd_limit) {
  const int execs = max_execs_of(options);
  const int streams = max_streams_of(options);
  double scale = 1.0;
  if (fd_limit < wanted_fd_limit(options)) {
    const std::uint64_t room = fd_limit / 2 > k_base_fds ? fd_limit / 2 - k_base_fds : 0;
    scale = static_cast<double>(room) / static_cast<double>(stream_fds(execs, streams));
  }
  auto scaled = [scale](int cap) {
    return std::max(1, static_cast<int>(static_cast<double>(cap) * scale));
  };
  options.max_execs = scaled(execs);  // at scale 1.0, the caps themselves
  options.max_streams = scaled(streams);
  options.max_user_execs = std::min(options.max_user_execs, options.max_execs);
  options.max_user_streams = std::min(options.max_user_streams, options.max_streams);
  // Connections: at most a quarter of the descriptors (the stream caps
  // leave half of the limit to everything else).
  const int connection_room =
      static_cast<int>(std::min<std::uint64_t>(fd_limit / 4, k_auto_max_connections));
  const int wanted_connections =
      options.max_connections > 0 ? options.max_connections : k_auto_max_connections;
  options.max_connections = std::max(1, std::min(wanted_connections, connection_room));
  // Where the limit made the total small, one user gets half of it, not all.
  const int user_room = options.max_connections < wanted_connections
                            ? std::max(1, options.max_connections / 2)
                            : options.max_connections;
  options.max_user_connections = std::min(options.max_user_connections, user_room);
  return options;
}

int serve(const ServeOptions& options) {
  check_options(options);
  auto state_dir = options.state_dir.empty() ? local_state_dir() : options.state_dir;
  ensure_dir(state_dir, 0700);
  state_dir = std::filesystem::canonical(state_dir);
  StateLock state_lock(state_dir);  // before the log: its file may be in the state dir
  start_log(options);
  const ServeOptions caps = fit_fd_limit(options);
  ensure_dir(state_dir / "boxes", 0700);
  const auto keys = api_keys(options, state_dir);

  const SignalPipe stop_signals{SIGINT, SIGTERM};
  install_sigpipe_handler();

  auto runtime = make_runtime(options.runtime, RuntimeOptions{state_dir, options.bridge_subnet});
  if (const auto warning = runtime->startup_warning(); !warning.empty()) {
    logging::warn(warning);
  }
  warn_if_subnet_too_small(runtime->bridge_subnet(), options.max_boxes);

  Store store(state_dir);
  store.set_record_limit(options.max_records);
  Auth auth(store, keys, options.token_ttl);

  const bool pick = options.port == 0;
  Endpoints at;
  at.host = connect_host(options.listen);
  // The HTTP proxy for box URLs binds now (so its port is known to the
  // service's URLs) and starts routing once the service exists.
  HttpProxy proxy(options.listen, options.proxy_port.value_or(pick ? 0 : 9480));
  at.proxy_port = proxy.port();
  // gRPC's port, behind the connection caps (grpc_gate.hpp).
  ConnectionGate gate(options.listen, options.port);
  at.grpc_port = gate.port();

  BoxdService service(service_options_of(caps, state_dir, at.proxy_port), store, auth, *runtime);
  const auto isolation_off = report_isolation(*runtime, state_dir);
  service.recover();

  // HTTP key exchange (bound now, served once gRPC is up).
  KeyExchangeEndpoint exchange(options.listen, options.http_port.value_or(pick ? 0 : 9444), auth);
  at.http_port = exchange.port();
  service.set_server_ports(
      {{options.port, "gRPC"}, {at.http_port, "key exchange"}, {at.proxy_port, "HTTP proxy"}});

  std::unique_ptr<grpc::experimental::ExternalConnectionAcceptor> acceptor;
  auto server = start_grpc(options, service, acceptor);
  const GateRun gate_run(gate, caps, *acceptor);
  auto keep_awake = std::make_unique<GrpcKeepAwake>(*server);
  const HttpLimits limits = http_limits_of(options);
  exchange.start(limits);
  service.set_server_ports(
      {{at.grpc_port, "gRPC"}, {at.http_port, "key exchange"}, {at.proxy_port, "HTTP proxy"}});
  proxy.start([&service](const std::string& host) { return service.route_host(host); }, limits);
  announce(options, at, state_dir, *runtime, isolation_off);

  wait_for_stop_signal(stop_signals);
  logging::info("shutting down");

  gate.stop();
  exchange.stop();
  proxy.stop();
  keep_awake.reset();  // its calls would hold the shutdown up
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(3));
  server->Wait();
  wait_for_released_helpers(std::chrono::seconds(2));  // box_file.hpp
  service.shutdown_boxes();
  logging::info("stopped");
  logging::off();  // flushes; what the process does after is not the server's
  return 0;
}

}  // namespace boxd::local
