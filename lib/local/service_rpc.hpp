// The one way an RPC body runs (BoxdService::handle and handle_rpc use it,
// service_files.cpp and service_disks.cpp call it directly): authentication
// first, and every failure turned into the right status.
#pragma once

#include <grpcpp/grpcpp.h>

#include <string>

#include "common/error.hpp"
#include "local/service.hpp"

namespace boxd::local {

[[noreturn]] inline void rpc_fail(grpc::StatusCode code, const std::string& message) {
  throw RpcError{grpc::Status(code, message)};
}

inline grpc::StatusCode status_code_of(const Error& e) {
  if (e.grpc_code() >= 0 && e.grpc_code() <= 16) {
    return static_cast<grpc::StatusCode>(e.grpc_code());
  }
  switch (e.error_class()) {
    case ErrorClass::Usage:
    case ErrorClass::InvalidArgument: return grpc::StatusCode::INVALID_ARGUMENT;
    case ErrorClass::Authentication: return grpc::StatusCode::UNAUTHENTICATED;
    case ErrorClass::NotFound: return grpc::StatusCode::NOT_FOUND;
    case ErrorClass::QuotaExceeded: return grpc::StatusCode::RESOURCE_EXHAUSTED;
    case ErrorClass::Timeout: return grpc::StatusCode::DEADLINE_EXCEEDED;
    case ErrorClass::Connection: return grpc::StatusCode::UNAVAILABLE;
    case ErrorClass::Cancelled: return grpc::StatusCode::CANCELLED;
    case ErrorClass::Internal: break;
  }
  return grpc::StatusCode::INTERNAL;
}

// Authenticates, then runs fn(auth); RpcError/Error/exceptions -> status.
template <class Fn>
grpc::Status run_rpc(BoxdService& service, const grpc::ServerContext* context, Fn&& fn) {
  try {
    const auto auth = service.authenticate(context);
    if (auth.failure != AuthFailure::None) {
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, auth.message());
    }
    fn(auth);
    return grpc::Status::OK;
  } catch (const RpcError& e) {
    return service.client_status(e.status.error_code(), e.status.error_message());
  } catch (const Error& e) {
    return service.client_status(status_code_of(e), e.what());
  } catch (const std::exception& e) {
    return service.client_status(grpc::StatusCode::INTERNAL, e.what());
  }
}

}  // namespace boxd::local
