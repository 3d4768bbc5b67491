#include "client/client_log.hpp"

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <string>

#include "common/log.hpp"
#include "common/rpc_log_fields.hpp"

namespace boxd::client {

namespace {

class RpcLogInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit RpcLogInterceptor(const char* method) : m_method(logging::rpc_method_name(method)) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    using grpc::experimental::InterceptionHookPoints;
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      m_started = std::chrono::steady_clock::now();
      logging::trace("rpc start", {{"rpc", m_method}});
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_STATUS)) {
      const grpc::Status* status = methods->GetRecvStatus();
      logging::Fields fields{
          {"rpc", m_method},
          {"code", status != nullptr ? logging::rpc_code_name(status->error_code()) : "?"},
          {"ms", logging::ms_since(m_started)}};
      if (status != nullptr && !status->ok()) {
        fields.emplace_back("error", status->error_message());
      }
      logging::debug("rpc", fields);
    }
    methods->Proceed();
  }

 private:
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
