// The BoxdApi service in-process, over a real gRPC channel, with the
// process runtime: what a client sees for each rule of the contract.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <memory>
#include <thread>

#include "local/auth.hpp"
#include "local/runtime.hpp"
#include "local/service.hpp"
#include "local/store.hpp"
#include "local_test_support.hpp"

using namespace boxd::local;
using grpc::StatusCode;

namespace {

struct Harness {
  test::TempDir dir;
  Store store{dir.path()};
  Auth auth{store, {{"bxd_alice", "alice"}, {"bxd_bob", "bob"}}, 600};
  std::unique_ptr<Runtime> runtime = make_runtime("process");
  std::unique_ptr<BoxdService> service;
  std::unique_ptr<grpc::Server> server;
  std::unique_ptr<api::BoxdApi::Stub> stub;
  std::string alice = "Bearer " + auth.exchange("bxd_alice")->token;
  std::string bob = "Bearer " + auth.exchange("bxd_bob")->token;

  explicit Harness(int max_boxes = 50) {
    ServiceOptions options;
    options.state_dir = dir.path();
    options.max_boxes = max_boxes;
    options.proxy_port = 9480;
    service = std::make_unique<BoxdService>(options, store, auth, *runtime);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(service.get());
    server = builder.BuildAndStart();
    REQUIRE(port != 0);
    stub = api::BoxdApi::NewStub(grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                                                     grpc::InsecureChannelCredentials()));
  }
  ~Harness() {
    server->Shutdown();
    service->shutdown_boxes();
  }

  static std::unique_ptr<grpc::ClientContext> ctx(const std::string& auth) {
    auto c = std::make_unique<grpc::ClientContext>();
    if (!auth.empty()) {
      c->AddMetadata("authorization", auth);
    }
    c->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    return c;
  }

  grpc::Status create(const std::string& who, const std::string& name,
                      api::CreateVmResponse* out = nullptr) {
    api::CreateVmRequest req;
    req.set_name(name);
    api::CreateVmResponse resp;
    auto status = stub->CreateVm(ctx(who).get(), req, &resp);
    if (out != nullptr) {
      *out = resp;
    }
    return status;
  }

  grpc::Status get(const std::string& who, const std::string& vm, api::GetVmResponse* out) {
    api::GetVmRequest req;
    req.set_vm_id(vm);
    return stub->GetVm(ctx(who).get(), req, out);
  }

  struct ExecOutcome {
    grpc::Status status;
    std::string out, err;
    int exit_code = -1;
  };
  ExecOutcome exec(const std::string& who, const std::string& vm, const std::string& command,
                   const std::string& input = "") {
    ExecOutcome o;
    auto c = ctx(who);
    auto stream = stub->Exec(c.get());
    api::ExecChunk first;
    first.set_vm_id(vm);
    first.set_command(command);
    stream->Write(first);
    if (!input.empty()) {
      api::ExecChunk in;
      in.set_stdin(true);
      in.set_data(input);
      stream->Write(in);
    }
    stream->WritesDone();
    api::ExecChunk chunk;
    while (stream->Read(&chunk)) {
      if (chunk.is_stderr()) {
        o.err += chunk.data();
      } else {
        o.out += chunk.data();
      }
      if (chunk.data().empty()) {
        o.exit_code = chunk.exit_code();
      }
    }
    o.status = stream->Finish();
    return o;
  }
};

}  // namespace

TEST_CASE("service: authentication messages") {
  Harness h;
  api::ListVmsResponse resp;
  auto status = h.stub->ListVms(Harness::ctx("").get(), api::ListVmsRequest{}, &resp);
  CHECK(status.error_code() == StatusCode::UNAUTHENTICATED);
  CHECK(status.error_message() == "missing authorization");
  status = h.stub->ListVms(Harness::ctx("Bearer nope").get(), api::ListVmsRequest{}, &resp);
  CHECK(status.error_code() == StatusCode::UNAUTHENTICATED);
  CHECK(status.error_message() == "invalid or expired token");
  api::WhoamiResponse who;
  REQUIRE(h.stub->Whoami(Harness::ctx(h.alice).get(), api::WhoamiRequest{}, &who).ok());
  CHECK(who.user_id() == "alice");
}

TEST_CASE("service: create, get, duplicates, names and ownership") {
  Harness h;
  api::CreateVmResponse created;
  REQUIRE(h.create(h.alice, "web", &created).ok());
  CHECK(created.name() == "web");
  CHECK(created.status() == "running");
  CHECK(created.image() == "host");
  CHECK(created.url() == "http://web.alice.localhost:9480");

  api::GetVmResponse got;
  REQUIRE(h.get(h.alice, "web", &got).ok());
  CHECK(got.vm_id() == created.vm_id());
  CHECK(got.status() == "running");
  CHECK(got.vcpu() == 2);
  REQUIRE(h.get(h.alice, created.vm_id(), &got).ok());
  CHECK(got.name() == "web");

  auto dup = h.create(h.alice, "web");
  CHECK(dup.error_code() == StatusCode::ALREADY_EXISTS);
  CHECK(dup.error_message() == "VM name 'web' already exists");

  auto bad = h.create(h.alice, "Bad_Name");
  CHECK(bad.error_code() == StatusCode::INVALID_ARGUMENT);
  CHECK(bad.error_message().rfind("invalid VM name 'Bad_Name': ", 0) == 0);

  auto other = h.get(h.bob, "web", &got);
  CHECK(other.error_code() == StatusCode::NOT_FOUND);
  CHECK(other.error_message() == "VM 'web' not found");
  // Names are per owner.
  CHECK(h.create(h.bob, "web").ok());

  api::CreateVmResponse picked;
  REQUIRE(h.create(h.alice, "", &picked).ok());
  CHECK(picked.name().rfind("box-", 0) == 0);
}

TEST_CASE("service: quota per user") {
  Harness h(1);
  REQUIRE(h.create(h.alice, "one").ok());
  auto status = h.create(h.alice, "two");
  CHECK(status.error_code() == StatusCode::RESOURCE_EXHAUSTED);
  CHECK(status.error_message() == "quota exceeded: at most 1 boxes");
  CHECK(h.create(h.bob, "two").ok());
}

TEST_CASE("service: exec streams output, stdin and the exit code") {
  Harness h;
  REQUIRE(h.create(h.alice, "ex").ok());
  auto o = h.exec(h.alice, "ex", "echo out; echo err >&2; exit 3");
  REQUIRE(o.status.ok());
  CHECK(o.out == "out\n");
  CHECK(o.err == "err\n");
  CHECK(o.exit_code == 3);

  o = h.exec(h.alice, "ex", "wc -c", "hello");
  REQUIRE(o.status.ok());
  CHECK(o.out.find('5') != std::string::npos);
  CHECK(o.exit_code == 0);

  o = h.exec(h.alice, "ex", "kill -TERM $$");
  REQUIRE(o.status.ok());
  CHECK(o.exit_code == 128 + 15);

  // Big output arrives whole, in chunks.
  o = h.exec(h.alice, "ex", "head -c 1000000 /dev/zero");
  REQUIRE(o.status.ok());
  CHECK(o.out.size() == 1000000);

  o = h.exec(h.bob, "ex", "true");
  CHECK(o.status.error_code() == StatusCode::NOT_FOUND);
}

TEST_CASE("service: stop, exec refused, start, destroy") {
  Harness h;
  REQUIRE(h.create(h.alice, "pw").ok());
  api::StopVmRequest stop;
  stop.set_vm_id("pw");
  api::StopVmResponse stopped;
  REQUIRE(h.stub->StopVm(Harness::ctx(h.alice).get(), stop, &stopped).ok());
  api::GetVmResponse got;
  REQUIRE(h.get(h.alice, "pw", &got).ok());
  CHECK(got.status() == "stopped");
  auto o = h.exec(h.alice, "pw", "true");
  CHECK(o.status.error_code() == StatusCode::FAILED_PRECONDITION);
  CHECK(o.status.error_message() == "VM 'pw' is stopped");

  api::SuspendVmRequest suspend;
  suspend.set_vm_id("pw");
  api::SuspendVmResponse suspended;
  auto status = h.stub->SuspendVm(Harness::ctx(h.alice).get(), suspend, &suspended);
  CHECK(status.error_code() == StatusCode::FAILED_PRECONDITION);

  api::StartVmRequest start;
  start.set_vm_id("pw");
  api::StartVmResponse started;
  REQUIRE(h.stub->StartVm(Harness::ctx(h.alice).get(), start, &started).ok());
  CHECK(h.exec(h.alice, "pw", "exit 0").exit_code == 0);

  api::DestroyVmRequest destroy;
  destroy.set_vm_id("pw");
  api::DestroyVmResponse destroyed;
  REQUIRE(h.stub->DestroyVm(Harness::ctx(h.alice).get(), destroy, &destroyed).ok());
  CHECK(h.get(h.alice, "pw", &got).error_code() == StatusCode::NOT_FOUND);
  CHECK(h.create(h.alice, "pw").ok());
}

TEST_CASE("service: a revoked token is refused") {
  Harness h;
  api::CreateTokenRequest req;
  api::CreateTokenResponse token;
  REQUIRE(h.stub->CreateToken(Harness::ctx(h.alice).get(), req, &token).ok());
  const std::string bearer = "Bearer " + token.token();
  api::ListTokensResponse list;
  REQUIRE(h.stub->ListTokens(Harness::ctx(bearer).get(), api::ListTokensRequest{}, &list).ok());
  REQUIRE(list.tokens_size() == 1);
  api::RevokeTokenRequest revoke;
  revoke.set_jti(list.tokens(0).jti());
  api::RevokeTokenResponse revoked;
  REQUIRE(h.stub->RevokeToken(Harness::ctx(h.alice).get(), revoke, &revoked).ok());
  auto status = h.stub->ListTokens(Harness::ctx(bearer).get(), api::ListTokensRequest{}, &list);
  CHECK(status.error_code() == StatusCode::UNAUTHENTICATED);
  CHECK(status.error_message() == "token revoked");
}

namespace {

bool process_running_with(const std::string& needle) {
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::string cmdline;
    const int fd = ::open((entry.path() / "cmdline").c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      continue;
    }
    char buf[4096];
    ssize_t n = 0;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) {
      cmdline.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    if (cmdline.find(needle) != std::string::npos && cmdline.find("sh -c") == std::string::npos) {
      return true;
    }
  }
  return false;
}

}  // namespace

TEST_CASE("service: exec does not wait for a background child holding the pipe") {
  Harness h;
  REQUIRE(h.create(h.alice, "bg").ok());
  const auto started = std::chrono::steady_clock::now();
  auto o = h.exec(h.alice, "bg", "sleep 7 & echo started; exit 4");
  REQUIRE(o.status.ok());
  CHECK(o.out == "started\n");
  CHECK(o.exit_code == 4);
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(5));
}

TEST_CASE("service: a cancelled exec kills the remote command") {
  Harness h;
  REQUIRE(h.create(h.alice, "cx").ok());
  auto c = Harness::ctx(h.alice);
  c->set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(1500));
  auto stream = h.stub->Exec(c.get());
  api::ExecChunk first;
  first.set_vm_id("cx");
  first.set_command("echo up; exec sleep 98761");
  stream->Write(first);
  api::ExecChunk chunk;
  REQUIRE(stream->Read(&chunk));
  CHECK(chunk.data() == "up\n");
  bool seen = false;
  for (int i = 0; i < 50 && !seen; ++i) {
    seen = process_running_with("sleep 98761");
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(seen);
  while (stream->Read(&chunk)) {
  }
  CHECK(stream->Finish().error_code() == StatusCode::DEADLINE_EXCEEDED);
  bool gone = false;
  for (int i = 0; i < 50 && !gone; ++i) {
    gone = !process_running_with("sleep 98761");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(gone);
}

TEST_CASE("service: one memory rule for create, templates and resize; limits shown as enforced") {
  Harness h;
  api::CreateVmRequest create;
  create.set_name("tiny");
  create.mutable_config()->set_memory_bytes(1);
  api::CreateVmResponse created;
  auto status = h.stub->CreateVm(Harness::ctx(h.alice).get(), create, &created);
  CHECK(status.error_code() == StatusCode::INVALID_ARGUMENT);
  CHECK(status.error_message() == "invalid memory size 1B: at least 64MiB");

  api::CreateTemplateRequest tpl;
  tpl.set_name("tiny");
  tpl.mutable_config()->set_memory_bytes(1);
  api::TemplateInfo info;
  status = h.stub->CreateTemplate(Harness::ctx(h.alice).get(), tpl, &info);
  CHECK(status.error_code() == StatusCode::INVALID_ARGUMENT);
  CHECK(status.error_message() == "invalid memory size 1B: at least 64MiB");

  create.set_name("small");
  create.mutable_config()->set_memory_bytes(64ULL << 20);
  REQUIRE(h.stub->CreateVm(Harness::ctx(h.alice).get(), create, &created).ok());
  api::ResizeVmRequest resize;
  resize.set_vm_id("small");
  resize.set_memory_bytes(1);
  api::ResizeVmResponse resized;
  status = h.stub->ResizeVm(Harness::ctx(h.alice).get(), resize, &resized);
  CHECK(status.error_code() == StatusCode::INVALID_ARGUMENT);
  CHECK(status.error_message() == "invalid memory size 1B: at least 64MiB");
  resize.set_memory_bytes(128ULL << 20);
  REQUIRE(h.stub->ResizeVm(Harness::ctx(h.alice).get(), resize, &resized).ok());
  CHECK(resized.memory_bytes() == (128ULL << 20));

  // The process runtime enforces nothing: a running box shows no limits,
  // and GetConfig lists every layer as off, with why.
  api::GetVmResponse got;
  REQUIRE(h.get(h.alice, "small", &got).ok());
  CHECK(got.memory_bytes() == (128ULL << 20));
  REQUIRE(got.has_enforced());
  CHECK(got.enforced().memory_bytes() == 0);
  CHECK(got.enforced().pids() == 0);
  api::GetConfigResponse config;
  REQUIRE(h.stub->GetConfig(Harness::ctx(h.alice).get(), api::GetConfigRequest{}, &config).ok());
  REQUIRE(config.isolation_size() >= 4);
  for (const auto& layer : config.isolation()) {
    CHECK_FALSE(layer.enforced());
    CHECK(layer.detail().find("runtime 'process'") != std::string::npos);
  }
}
