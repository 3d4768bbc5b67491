#include "common/error.hpp"

#include <grpcpp/support/status.h>

namespace boxd {

std::string_view error_class_name(ErrorClass error_class) {
  switch (error_class) {
    case ErrorClass::Internal:
      return "InternalError";
    case ErrorClass::Usage:
      return "UsageError";
    case ErrorClass::Authentication:
      return "AuthenticationError";
    case ErrorClass::NotFound:
      return "NotFoundError";
    case ErrorClass::InvalidArgument:
      return "InvalidArgumentError";
    case ErrorClass::QuotaExceeded:
      return "QuotaExceededError";
    case ErrorClass::Timeout:
      return "TimeoutError";
    case ErrorClass::Connection:
      return "ConnectionError";
    case ErrorClass::Cancelled:
      return "CancelledError";
  }
  return "InternalError";
}

ErrorClass error_class_from_grpc(int grpc_code) {
  switch (static_cast<grpc::StatusCode>(grpc_code)) {
    case grpc::StatusCode::UNAUTHENTICATED:
    case grpc::StatusCode::PERMISSION_DENIED:
      return ErrorClass::Authentication;
    case grpc::StatusCode::NOT_FOUND:
      return ErrorClass::NotFound;
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::ALREADY_EXISTS:
    case grpc::StatusCode::FAILED_PRECONDITION:
      return ErrorClass::InvalidArgument;
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return ErrorClass::QuotaExceeded;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return ErrorClass::Timeout;
    case grpc::StatusCode::UNAVAILABLE:
      return ErrorClass::Connection;
    case grpc::StatusCode::CANCELLED:
      return ErrorClass::Cancelled;
    default:
      return ErrorClass::Internal;
  }
}

Error error_from_status(const grpc::Status& status) {
  const int code = static_cast<int>(status.error_code());
  std::string message = status.error_message();
  if (message.empty()) {
    message = "request failed with gRPC status " + std::to_string(code);
  }
  return Error(error_class_from_grpc(code), message, {}, code);
}

}  // namespace boxd
