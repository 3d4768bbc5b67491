// The one way an RPC body runs, unary and streaming alike (BoxdService::handle
// and handle_rpc use it, service_files.cpp, service_disks.cpp and
// service_idle.cpp call it directly; the Exec reactor does the same in
// exec_relay.cpp):
// authentication first, then every exception turned into a status by
// BoxdService::status_of, whose code comes from status_code_of (fault.hpp:
// bodies fail with fail(Fault, message)).
#pragma once

#include <grpcpp/grpcpp.h>

#include <exception>

#include "local/fault.hpp"
#include "local/service.hpp"

namespace boxd::local {

// The gRPC code of a fault: the only place where a failure becomes a code.
grpc::StatusCode status_code_of(Fault fault);

// Authenticates, then runs fn(auth); any exception -> its status.
template <class Fn>
grpc::Status run_rpc(BoxdService& service, const grpc::ServerContext* context, Fn&& fn) {
  try {
    const auto auth = service.authenticate(context);
    if (auth.failure != AuthFailure::None) {
      fail(Fault::Unauthenticated, auth.message());
    }
    fn(auth);
    return grpc::Status::OK;
  } catch (const std::exception& e) {
    return service.status_of(e);
  }
}

}  // namespace boxd::local
