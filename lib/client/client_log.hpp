// The CLI's debug lines about its calls (common/log.hpp, -vv): one per RPC
// with its status and duration, from a client interceptor on the channel.
// Never metadata, never a request's content.
#pragma once

#include <grpcpp/support/client_interceptor.h>

#include <memory>
#include <vector>

namespace boxd::client {

// The interceptors for a new channel: empty unless debug lines are on.
std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>>
rpc_log_interceptors();

}  // namespace boxd::client
