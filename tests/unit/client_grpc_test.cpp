// The client against an in-process fake BoxdApi server (and fake key
// exchange): metadata on every call, exchange once and cache, drop and retry
// once on UNAUTHENTICATED, error mapping, exec streams, deadlines.
#include <doctest/doctest.h>

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <set>

#include "boxd/api/v1/api.grpc.pb.h"
#include "client/client.hpp"
#include "client/token_cache.hpp"
#include "client_test_servers.hpp"
#include "common/error.hpp"
#include "common/version.hpp"

using boxd::ErrorClass;
using boxd::client::Client;
using boxd::client::ExecRequest;
using boxd::client::ResolvedConfig;
using boxd::test::FakeExchange;
namespace api = boxd::api::v1;

namespace {

class FakeBoxd final : public api::BoxdApi::Service {
 public:
  std::mutex mutex;
  std::set<std::string> accepted_tokens{"good.jwt"};
  std::vector<std::string> seen_authorization;
  std::vector<std::string> seen_client;
  api::ExecChunk first_exec_chunk;
  std::vector<api::ExecChunk> exec_chunks;

  grpc::Status check(grpc::ServerContext* context) {
    std::lock_guard lock(mutex);
    const auto& md = context->client_metadata();
    auto auth = md.find("authorization");
    auto client = md.find("x-boxd-client");
    seen_authorization.emplace_back(
        auth == md.end() ? "" : std::string(auth->second.data(), auth->second.size()));
    seen_client.emplace_back(
        client == md.end() ? "" : std::string(client->second.data(), client->second.size()));
    const std::string& header = seen_authorization.back();
    if (header.rfind("Bearer ", 0) != 0 || accepted_tokens.count(header.substr(7)) == 0) {
      return {grpc::StatusCode::UNAUTHENTICATED, "invalid or expired token"};
    }
    return grpc::Status::OK;
  }

  grpc::Status Whoami(grpc::ServerContext* context, const api::WhoamiRequest*,
                      api::WhoamiResponse* response) override {
    if (auto status = check(context); !status.ok()) {
      return status;
    }
    response->set_user_id("u-1");
    return grpc::Status::OK;
  }

  grpc::Status GetVm(grpc::ServerContext* context, const api::GetVmRequest* request,
                     api::GetVmResponse*) override {
    if (auto status = check(context); !status.ok()) {
      return status;
    }
    return {grpc::StatusCode::NOT_FOUND, "VM '" + request->vm_id() + "' not found"};
  }

  grpc::Status ListVms(grpc::ServerContext* context, const api::ListVmsRequest*,
                       api::ListVmsResponse* response) override {
    if (auto status = check(context); !status.ok()) {
      return status;
    }
    response->add_vms()->set_name("a");
    response->add_vms()->set_name("b");
    return grpc::Status::OK;
  }

  // Echoes stdin back as stdout, reports the command on stderr, exits 3.
  // Command "sleep" waits until the call is cancelled.
  grpc::Status Exec(grpc::ServerContext* context,
                    grpc::ServerReaderWriter<api::ExecChunk, api::ExecChunk>* stream) override {
    if (auto status = check(context); !status.ok()) {
      return status;
    }
    api::ExecChunk first;
    if (!stream->Read(&first)) {
      return {grpc::StatusCode::INVALID_ARGUMENT, "no first chunk"};
    }
    {
      std::lock_guard lock(mutex);
      first_exec_chunk = first;
    }
    if (first.command() == "sleep") {
      while (!context->IsCancelled()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      return grpc::Status::CANCELLED;
    }
    api::ExecChunk err;
    err.set_is_stderr(true);
    err.set_data("cmd=" + first.command());
    stream->Write(err);
    api::ExecChunk in;
    while (stream->Read(&in)) {
      {
        std::lock_guard lock(mutex);
        exec_chunks.push_back(in);
      }
      if (in.stdin()) {
        api::ExecChunk out;
        out.set_data(in.data());
        stream->Write(out);
      }
    }
    api::ExecChunk exit;
    exit.set_exit_code(3);
    stream->Write(exit);
    return grpc::Status::OK;
  }
};

struct Server {
  FakeBoxd service;
  std::unique_ptr<grpc::Server> server;
  int port = 0;
  Server() {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&service);
    server = builder.BuildAndStart();
    REQUIRE(server);
  }
  ~Server() { server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1)); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }
};

// Points $XDG_CACHE_HOME at a fresh temp dir for the test's lifetime.
struct TempCache {
  std::filesystem::path path;
  std::optional<std::string> old;
  TempCache() {
    std::string pattern = (std::filesystem::temp_directory_path() / "boxd-client-XXXXXX").string();
    REQUIRE(mkdtemp(pattern.data()) != nullptr);
    path = pattern;
    if (const char* value = std::getenv("XDG_CACHE_HOME")) {
      old = value;
    }
    setenv("XDG_CACHE_HOME", path.c_str(), 1);
  }
  ~TempCache() {
    if (old) {
      setenv("XDG_CACHE_HOME", old->c_str(), 1);
    } else {
      unsetenv("XDG_CACHE_HOME");
    }
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

ResolvedConfig config_for(const std::string& api_url, const std::string& exchange_url = "") {
  ResolvedConfig config;
  config.environment = "local";
  config.api_url = api_url;
  config.exchange_url = exchange_url;
  config.endpoint = boxd::client::parse_endpoint(api_url);
  return config;
}

FakeExchange::Handler issue(const std::string& token) {
  return [token](const std::string&, httplib::Response& res) {
    const auto expires = boxd::client::unix_now() + 3600;
    res.set_content(R"({"token":")" + token + R"(","expires_at":)" + std::to_string(expires) +
                        R"(,"user_id":"u-1"})",
                    "application/json");
  };
}

ErrorClass class_of(const std::function<void()>& fn, std::string* message = nullptr) {
  try {
    fn();
  } catch (const boxd::Error& e) {
    if (message != nullptr) {
      *message = e.what();
    }
    return e.error_class();
  }
  FAIL("expected a boxd::Error");
  return ErrorClass::Internal;
}

}  // namespace

TEST_CASE("client: a direct token and the client id go with every call") {
  Server server;
  auto config = config_for(server.url());
  config.token = "good.jwt";
  Client client(config);
  CHECK(client.whoami().user_id() == "u-1");
  CHECK(client.list_vms().size() == 2);
  REQUIRE(server.service.seen_authorization.size() == 2);
  for (std::size_t i = 0; i < 2; ++i) {
    CHECK(server.service.seen_authorization[i] == "Bearer good.jwt");
    CHECK(server.service.seen_client[i] == std::string("boxd-cli/") + boxd::k_version);
  }
  CHECK(client.current_token() == "good.jwt");
}

TEST_CASE("client: server messages are kept, classes mapped") {
  Server server;
  auto config = config_for(server.url());
  config.token = "good.jwt";
  Client client(config);
  std::string message;
  CHECK(class_of([&] { client.get_vm("web"); }, &message) == ErrorClass::NotFound);
  CHECK(message == "VM 'web' not found");
}

TEST_CASE("client: no credential at all is 'not logged in'") {
  Server server;
  Client client(config_for(server.url()));
  std::string message;
  CHECK(class_of([&] { client.whoami(); }, &message) == ErrorClass::Authentication);
  // (environment local with its server up: says which server)
  CHECK(message == "not logged in to the local server at " + server.url().substr(7));
  CHECK(server.service.seen_authorization.empty());
}

TEST_CASE("client: a refused direct token is an authentication error, not retried") {
  Server server;
  auto config = config_for(server.url());
  config.token = "bad.jwt";
  Client client(config);
  CHECK(class_of([&] { client.whoami(); }) == ErrorClass::Authentication);
  CHECK(server.service.seen_authorization.size() == 1);
}

TEST_CASE("client: an API key is exchanged once and the token cached on disk") {
  TempCache cache;
  Server server;
  FakeExchange exchange(issue("good.jwt"));
  auto config = config_for(server.url(), exchange.url());
  config.api_key = "bxd_key";
  {
    Client client(config);
    client.whoami();
    client.whoami();
    client.list_vms();
  }
  Client second(config);
  second.whoami();
  CHECK(exchange.calls() == 1);
  CHECK(server.service.seen_authorization.back() == "Bearer good.jwt");
  const auto file = cache.path / "boxd" / "tokens";
  CHECK(std::filesystem::exists(file));
}

TEST_CASE("client: UNAUTHENTICATED with a cached token drops it, exchanges and retries once") {
  TempCache cache;
  Server server;
  FakeExchange exchange(issue("good.jwt"));
  auto config = config_for(server.url(), exchange.url());
  config.api_key = "bxd_key";
  auto tokens = boxd::client::TokenCache::default_cache();
  REQUIRE(
      tokens.store(exchange.url(), "bxd_key", {"revoked.jwt", boxd::client::unix_now() + 3600}));
  Client client(config);
  CHECK(client.whoami().user_id() == "u-1");
  CHECK(exchange.calls() == 1);
  REQUIRE(server.service.seen_authorization.size() == 2);
  CHECK(server.service.seen_authorization[0] == "Bearer revoked.jwt");
  CHECK(server.service.seen_authorization[1] == "Bearer good.jwt");
  auto stored = tokens.load(exchange.url(), "bxd_key", boxd::client::unix_now());
  REQUIRE(stored);
  CHECK(stored->token == "good.jwt");
}

TEST_CASE("client: a freshly exchanged token that is refused is not retried") {
  TempCache cache;
  Server server;
  FakeExchange exchange(issue("unknown.jwt"));
  auto config = config_for(server.url(), exchange.url());
  config.api_key = "bxd_key";
  Client client(config);
  CHECK(class_of([&] { client.whoami(); }) == ErrorClass::Authentication);
  CHECK(exchange.calls() == 1);
  CHECK(server.service.seen_authorization.size() == 1);
}

TEST_CASE("client: a dead port is a quick connection error naming the URL") {
  int port = 0;
  {
    Server server;
    port = server.port;
  }
  auto config = config_for("http://127.0.0.1:" + std::to_string(port));
  config.token = "good.jwt";
  Client client(config);
  const auto start = std::chrono::steady_clock::now();
  std::string message;
  CHECK(class_of([&] { client.whoami(); }, &message) == ErrorClass::Connection);
  CHECK(message.rfind("cannot connect to " + config.api_url, 0) == 0);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(10));
}

TEST_CASE("exec: first chunk, stdin relay, stderr, exit code") {
  Server server;
  auto config = config_for(server.url());
  config.token = "good.jwt";
  Client client(config);
  ExecRequest request;
  request.vm = "web";
  request.command = "cat";
  request.tty = true;
  request.cols = 80;
  request.rows = 24;
  request.term = "xterm-256color";
  auto session = client.exec(request);
  CHECK(session->write_stdin("hello"));
  CHECK(session->resize(100, 40));
  session->close_stdin();
  CHECK_FALSE(session->write_stdin("late"));
  std::string out, err;
  int exit_code = 0;
  api::ExecChunk chunk;
  while (session->read(chunk)) {
    (chunk.is_stderr() ? err : out) += chunk.data();
    if (chunk.exit_code() != 0) {
      exit_code = chunk.exit_code();
    }
  }
  session->finish();
  CHECK(out == "hello");
  CHECK(err == "cmd=export TERM='xterm-256color'; cat");
  CHECK(exit_code == 3);
  const auto& first = server.service.first_exec_chunk;
  CHECK(first.vm_id() == "web");
  CHECK(first.tty());
  CHECK(first.cols() == 80);
  CHECK(first.rows() == 24);
  REQUIRE(server.service.exec_chunks.size() == 2);
  CHECK(server.service.exec_chunks[1].window_change());
  CHECK(server.service.exec_chunks[1].cols() == 100);
  CHECK(server.service.exec_chunks[1].rows() == 40);
}

TEST_CASE("exec: an empty command stays empty (login shell)") {
  Server server;
  auto config = config_for(server.url());
  config.token = "good.jwt";
  Client client(config);
  ExecRequest request;
  request.vm = "web";
  request.tty = true;
  request.term = "xterm-256color";
  auto session = client.exec(request);
  session->close_stdin();
  api::ExecChunk chunk;
  while (session->read(chunk)) {
  }
  session->finish();
  CHECK(server.service.first_exec_chunk.command().empty());
}

TEST_CASE("exec: the deadline is a timeout, cancel is cancelled") {
  Server server;
  auto config = config_for(server.url());
  config.token = "good.jwt";
  Client client(config);
  ExecRequest request;
  request.vm = "web";
  request.command = "sleep";
  request.deadline = std::chrono::milliseconds(300);
  {
    auto session = client.exec(request);
    api::ExecChunk chunk;
    while (session->read(chunk)) {
    }
    CHECK(class_of([&] { session->finish(); }) == ErrorClass::Timeout);
  }
  request.deadline.reset();
  {
    auto session = client.exec(request);
    std::thread canceller([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      session->cancel();
    });
    api::ExecChunk chunk;
    while (session->read(chunk)) {
    }
    canceller.join();
    CHECK(class_of([&] { session->finish(); }) == ErrorClass::Cancelled);
  }
}

TEST_CASE("exec: a refused token surfaces from finish") {
  Server server;
  auto config = config_for(server.url());
  config.token = "bad.jwt";
  Client client(config);
  ExecRequest request;
  request.vm = "web";
  request.command = "true";
  auto session = client.exec(request);
  api::ExecChunk chunk;
  CHECK_FALSE(session->read(chunk));
  CHECK(class_of([&] { session->finish(); }) == ErrorClass::Authentication);
}
