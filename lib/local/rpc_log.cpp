#include "local/rpc_log.hpp"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <mutex>
#include <unordered_map>

#include "common/log.hpp"
#include "common/rpc_log_fields.hpp"
#include "local/received_chunk.hpp"

namespace boxd::local {

namespace {

std::mutex g_callers_mutex;
std::unordered_map<const void*, std::string> g_callers;

std::string take_caller(const void* call) {
  std::lock_guard lock(g_callers_mutex);
  auto it = g_callers.find(call);
  if (it == g_callers.end()) {
    return "";
  }
  std::string user = std::move(it->second);
  g_callers.erase(it);
  return user;
}

// The box a request names: its vm_id, or the name of a box being created.
std::string box_of(const google::protobuf::Message& message, const std::string& method) {
  const auto* descriptor = message.GetDescriptor();
  const auto* field = descriptor->FindFieldByName("vm_id");
  if (field == nullptr && method == "CreateVm") {
    field = descriptor->FindFieldByName("name");
  }
  if (field == nullptr || field->is_repeated() ||
      field->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_STRING) {
    return "";
  }
  return message.GetReflection()->GetString(message, field);
}

// The vm_id of a raw method's first message as received (the message
// shares its slices with the call's; their bytes are not copied).
template <class Message>
std::string box_of_raw(const grpc::ByteBuffer& message) {
  grpc::ByteBuffer shared(message);
  ReceivedChunk<Message> received;
  return received.take(shared) ? received.chunk().fields.vm_id() : std::string();
}

class RpcLogInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit RpcLogInterceptor(grpc::experimental::ServerRpcInfo* info)
      : m_info(info), m_method(logging::rpc_method_name(info->method())) {}
  ~RpcLogInterceptor() override { take_caller(m_call); }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    using grpc::experimental::InterceptionHookPoints;
    m_call = m_info->server_context();
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_MESSAGE) &&
        !m_seen_message) {
      m_seen_message = true;
      // The generated service receives each request as its own message type,
      // which is a protobuf Message; the raw methods as bytes, read only for
      // a debug line (their refusals come before their first message).
      if (const void* message = methods->GetRecvMessage()) {
        const bool upload = m_method == k_raw_upload_method;
        if (upload || m_method == k_raw_exec_method) {
          if (logging::enabled(logging::Level::Debug)) {
            const auto* raw = static_cast<const grpc::ByteBuffer*>(message);
            m_box =
                upload ? box_of_raw<api::UploadFileChunk>(*raw) : box_of_raw<api::ExecChunk>(*raw);
          }
        } else {
          m_box = box_of(*static_cast<const google::protobuf::Message*>(message), m_method);
        }
      }
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      log_outcome(methods->GetSendStatus());
    }
    methods->Proceed();
  }

 private:
  void log_outcome(const grpc::Status& status) {
    const bool refusal = status.error_code() == grpc::StatusCode::UNAUTHENTICATED ||
                         status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED;
    if (!refusal && !logging::enabled(logging::Level::Debug)) {
      take_caller(m_call);
      return;  // the common case at info: no fields to build
    }
    const std::int64_t ms = logging::ms_since(m_started);
    logging::Fields fields{{"rpc", m_method}};
    const std::string user = take_caller(m_call);
    if (!user.empty()) {
      fields.emplace_back("user", user);
    }
    if (!m_box.empty()) {
      fields.emplace_back("box", m_box);
    }
    fields.emplace_back("code", logging::rpc_code_name(status.error_code()));
    fields.emplace_back("ms", ms);
    fields.emplace_back("peer", m_call != nullptr ? m_call->peer() : std::string());
    if (!status.ok()) {
      fields.emplace_back("error", status.error_message());
    }
    // The refusals an operator wants to see at info; every other call at debug.
    if (status.error_code() == grpc::StatusCode::UNAUTHENTICATED) {
      logging::info("auth refused", fields);
    } else if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
      logging::info("quota refused", fields);
    } else {
      logging::debug("rpc", fields);
    }
  }

  grpc::experimental::ServerRpcInfo* m_info;
  grpc::ServerContextBase* m_call = nullptr;
  std::string m_method;
  std::string m_box;
  bool m_seen_message = false;
  std::chrono::steady_clock::time_point m_started = std::chrono::steady_clock::now();
};

class RpcLogFactory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new RpcLogInterceptor(info);
  }
};

}  // namespace

void note_rpc_caller(const grpc::ServerContextBase* call, const std::string& user) {
  if (user.empty()) {
    return;
  }
  std::lock_guard lock(g_callers_mutex);
  g_callers[call] = user;
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> make_rpc_log_factory() {
  return std::make_unique<RpcLogFactory>();
}

}  // namespace boxd::local
