// How everything in lib/local fails: fail(Fault, message) throws a
// FaultError, a boxd::Error that also says which kind of failure it is, in
// the words of docs/wire-contract.md section 8 (the "when" column). No gRPC
// type here: the domain layer and the runtimes throw faults, and the gRPC
// adapter turns any exception into a status in one place (rpc_status.hpp:
// status_code_of is the only mapping from a fault to a gRPC code).
#pragma once

#include <exception>
#include <string>
#include <string_view>
#include <utility>

#include "common/error.hpp"
#include "local/states.hpp"

namespace boxd::local {

enum class Fault {
  InvalidArgument,     // a bad name, size, port, path or combination of fields
  NotFound,            // the box, disk, ... does not exist for this caller
  AlreadyExists,       // the name is taken
  FailedPrecondition,  // wrong state: "VM 'NAME' is stopped", a disk already attached
  PermissionDenied,    // the caller may not do this (a file the box user cannot read)
  Unauthenticated,     // no, malformed, expired or revoked token
  ResourceExhausted,   // a quota or a full disk
  Cancelled,           // the client cancelled
  DeadlineExceeded,    // the call's deadline passed
  Unavailable,         // shutting down
  Internal,            // anything else
};

// The boxd::Error class a fault belongs to (what a script can branch on).
ErrorClass error_class_of(Fault fault);

// "not found", "failed precondition", ...: for logs and test names.
std::string_view fault_name(Fault fault);

class FaultError : public Error {
 public:
  FaultError(Fault fault, const std::string& message, std::string hint = {})
      : Error(error_class_of(fault), message, std::move(hint)), m_fault(fault) {}

  [[nodiscard]] Fault fault() const { return m_fault; }

 private:
  Fault m_fault;
};

// The one way to fail in lib/local.
[[noreturn]] void fail(Fault fault, const std::string& message);

// The fault any exception stands for: a FaultError's own, a boxd::Error's by
// its class, Internal for anything else.
Fault fault_of(const std::exception& error);

// The contract's fixed messages (docs/wire-contract.md section 8), so each
// is written in one place. NAME is the name or id as the caller gave it.
[[noreturn]] void fail_box_not_found(const std::string& vm);
// FAILED_PRECONDITION "VM 'NAME' is STATUS".
[[noreturn]] void fail_box_state(const std::string& vm, BoxStatus status);

}  // namespace boxd::local
