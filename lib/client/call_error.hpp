// How a failed gRPC call becomes the boxd::Error the user sees.
#pragma once

#include <grpcpp/support/status.h>

#include "client/config.hpp"
#include "common/error.hpp"

namespace boxd::client {

// error_from_status (Status.message() kept as is, class from the code), except:
// UNAVAILABLE -> Connection "cannot connect to <api_url>: <message>" ("lost
// connection to ..." once the call had made progress), with a hint to start
// the local server when the environment is local; UNAUTHENTICATED gets the
// hint "run 'boxd auth login'".
Error error_from_call(const grpc::Status& status, const ResolvedConfig& config,
                      bool had_progress = false);

}  // namespace boxd::client
