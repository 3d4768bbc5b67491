// One error type for everything in lib/: boxd::Error carries the SDK's error
// class (what a script can branch on), a message safe to show, an optional
// hint, and the gRPC status code it came from (when it came from the wire).
// cmd/boxd maps the class to an exit code in exactly one table.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace grpc {
class Status;
}

namespace boxd {

enum class ErrorClass {
  Internal,         // InternalError: INTERNAL, UNKNOWN, anything else
  Usage,            // bad flags, arguments, names, sizes (client-side only)
  Authentication,   // AuthenticationError: UNAUTHENTICATED, PERMISSION_DENIED
  NotFound,         // NotFoundError: NOT_FOUND
  InvalidArgument,  // InvalidArgumentError: INVALID_ARGUMENT, ALREADY_EXISTS, FAILED_PRECONDITION
  QuotaExceeded,    // QuotaExceededError: RESOURCE_EXHAUSTED
  Timeout,          // TimeoutError: DEADLINE_EXCEEDED
  Connection,       // ConnectionError: UNAVAILABLE, refused, DNS failure
  Cancelled,        // the user interrupted (Ctrl-C)
};

class Error : public std::runtime_error {
 public:
  Error(ErrorClass error_class, const std::string& message, std::string hint = {},
        int grpc_code = -1)
      : std::runtime_error(message),
        m_class(error_class),
        m_hint(std::move(hint)),
        m_grpc_code(grpc_code) {}

  [[nodiscard]] ErrorClass error_class() const { return m_class; }
  [[nodiscard]] const std::string& hint() const { return m_hint; }
  // The grpc::StatusCode value, or -1 when the error did not come from gRPC.
  [[nodiscard]] int grpc_code() const { return m_grpc_code; }

 private:
  ErrorClass m_class;
  std::string m_hint;
  int m_grpc_code;
};

// "NotFoundError", "ConnectionError", ... as the Python SDK names them.
std::string_view error_class_name(ErrorClass error_class);

// The class a grpc::StatusCode (given as int) belongs to.
ErrorClass error_class_from_grpc(int grpc_code);

// Builds an Error from a failed status, keeping Status.message() as is.
Error error_from_status(const grpc::Status& status);

}  // namespace boxd
