#include "local/fault.hpp"

namespace boxd::local {

ErrorClass error_class_of(Fault fault) {
  switch (fault) {
    case Fault::InvalidArgument:
    case Fault::AlreadyExists:
    case Fault::FailedPrecondition:
      return ErrorClass::InvalidArgument;
    case Fault::NotFound:
      return ErrorClass::NotFound;
    case Fault::PermissionDenied:
    case Fault::Unauthenticated:
      return ErrorClass::Authentication;
    case Fault::ResourceExhausted:
      return ErrorClass::QuotaExceeded;
    case Fault::Cancelled:
      return ErrorClass::Cancelled;
    case Fault::DeadlineExceeded:
      return ErrorClass::Timeout;
    case Fault::Unavailable:
      return ErrorClass::Connection;
    case Fault::Internal:
      break;
  }
  return ErrorClass::Internal;
}

std::string_view fault_name(Fault fault) {
  switch (fault) {
    case Fault::InvalidArgument:
      return "invalid argument";
    case Fault::NotFound:
      return "not found";
    case Fault::AlreadyExists:
      return "already exists";
    case Fault::FailedPrecondition:
      return "failed precondition";
    case Fault::PermissionDenied:
      return "permission denied";
    case Fault::Unauthenticated:
      return "unauthenticated";
    case Fault::ResourceExhausted:
      return "resource exhausted";
    case Fault::Cancelled:
      return "cancelled";
    case Fault::DeadlineExceeded:
      return "deadline exceeded";
    case Fault::Unavailable:
      return "unavailable";
    case Fault::Internal:
      break;
  }
  return "internal";
}

void fail(Fault fault, const std::string& message) {
  throw FaultError(fault, message);
}

Fault fault_of(const std::exception& error) {
  if (const auto* fault = dynamic_cast<const FaultError*>(&error)) {
    return fault->fault();
  }
  const auto* plain = dynamic_cast<const Error*>(&error);
  if (plain == nullptr) {
    return Fault::Internal;
  }
  switch (plain->error_class()) {
    case ErrorClass::Usage:
    case ErrorClass::InvalidArgument:
      return Fault::InvalidArgument;
    case ErrorClass::Authentication:
      return Fault::Unauthenticated;
    case ErrorClass::NotFound:
      return Fault::NotFound;
    case ErrorClass::QuotaExceeded:
      return Fault::ResourceExhausted;
    case ErrorClass::Timeout:
      return Fault::DeadlineExceeded;
    case ErrorClass::Connection:
      return Fault::Unavailable;
    case ErrorClass::Cancelled:
      return Fault::Cancelled;
    case ErrorClass::Internal:
      break;
  }
  return Fault::Internal;
}

void fail_box_not_found(const std::string& vm) {
  fail(Fault::NotFound, "VM '" + vm + "' not found");
}

void fail_box_state(const std::string& vm, BoxStatus status) {
  fail(Fault::FailedPrecondition, "VM '" + vm + "' is " + status_text(status));
}

}  // namespace boxd::local
