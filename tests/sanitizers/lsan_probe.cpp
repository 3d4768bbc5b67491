// Self-check of tests/sanitizers/run: a gRPC server and client in one
// process, one call through a callback handler, a clean shutdown. Run as is,
// LeakSanitizer must find nothing (gRPC's own allocations are clean or
// suppressed); with BOXD_PROBE_LEAK=1 the handler leaks 77 bytes, and LSan
// must report them with lsan.supp on. A suppression naming a whole library
// (leak:libgrpc) would hide that leak, and with it every leak made on a
// gRPC thread: our RPC handlers.
#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <mutex>

namespace {

class LeakyReactor : public grpc::ServerGenericBidiReactor {
 public:
  LeakyReactor() {
    if (std::getenv("BOXD_PROBE_LEAK") != nullptr) {
      std::strcpy(new char[77], "deliberate");  // lost at once
    }
    Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "probe"));
  }
  void OnDone() override { delete this; }
};

class Service : public grpc::CallbackGenericService {
  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext*) override {
    return new LeakyReactor;
  }
};

}  // namespace

int main() {
  Service service;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterCallbackGenericService(&service);
  const auto server = builder.BuildAndStart();
  grpc::GenericStub stub(
      grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  grpc::Slice slice("x", 1);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  std::mutex mutex;
  std::condition_variable cv;
  bool done = false;
  grpc::Status status;
  stub.UnaryCall(&context, "/probe.Probe/Call", grpc::StubOptions(), &request, &response,
                 [&](grpc::Status s) {
                   std::lock_guard lock(mutex);
                   status = std::move(s);
                   done = true;
                   cv.notify_one();
                 });
  {
    std::unique_lock lock(mutex);
    cv.wait(lock, [&] { return done; });
  }
  server->Shutdown();
  if (status.error_code() != grpc::StatusCode::UNIMPLEMENTED) {
    std::cerr << "lsan_probe: unexpected status " << status.error_code() << "\n";
    return 2;
  }
  return 0;
}
