#include "client/client_log.hpp"

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <string>

#include "common/log.hpp"

namespace boxd::client {

namespace {

class RpcLogInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit RpcLogInterceptor(const char* method) : m_method(method != nullptr ? method : "") {
    if (const auto slash = m_method.rfind('/'); slash != std::string::npos) {
      m_method = m_method.substr(slash + 1);
    }
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    using grpc::experimental::InterceptionHookPoints;
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      m_started = std::chrono::steady_clock::now();
      logging::trace("rpc start", {{"rpc", m_method}});
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_STATUS)) {
      const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now() - m_started)
                          .count();
      const grpc::Status* status = methods->GetRecvStatus();
      logging::Fields fields{{"rpc", m_method},
                             {"code", status != nullptr ? code_name(status->error_code()) : "?"},
                             {"ms", static_cast<std::int64_t>(ms)}};
      if (status != nullptr && !status->ok()) {
        fields.emplace_back("error", status->error_message());
      }
      logging::debug("rpc", fields);
    }
    methods->Proceed();
  }

 private:
  static std::string code_name(grpc::StatusCode code) {
    static const char* names[] = {"OK",
                                  "CANCELLED",
                                  "UNKNOWN",
                                  "INVALID_ARGUMENT",
                                  "DEADLINE_EXCEEDED",
                                  "NOT_FOUND",
                                  "ALREADY_EXISTS",
                                  "PERMISSION_DENIED",
                                  "RESOURCE_EXHAUSTED",
                                  "FAILED_PRECONDITION",
                                  "ABORTED",
                                  "OUT_OF_RANGE",
                                  "UNIMPLEMENTED",
                                  "INTERNAL",
                                  "UNAVAILABLE",
                                  "DATA_LOSS",
                                  "UNAUTHENTICATED"};
    const int i = static_cast<int>(code);
    return i >= 0 && i <= 16 ? names[i] : std::to_string(i);
  }

  std::string m_method;
  std::chrono::steady_clock::time_point m_started = std::chrono::steady_clock::now();
};

class RpcLogFactory final : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo* info) override {
    return new RpcLogInterceptor(info->method());
  }
};

}  // namespace

std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>>
rpc_log_interceptors() {
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> creators;
  if (logging::enabled(logging::Level::Debug)) {
    creators.push_back(std::make_unique<RpcLogFactory>());
  }
  return creators;
}

}  // namespace boxd::client
