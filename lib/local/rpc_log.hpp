// One log event per RPC, from a server interceptor: at debug every call
// with its outcome (`rpc GetVm user=alice box=web code=OK ms=3
// peer=ipv4:127.0.0.1:5123`), at info the refusals an operator wants to see
// (UNAUTHENTICATED: `auth refused`, RESOURCE_EXHAUSTED: `quota refused`).
// Never a field of the request other than the box's name, never metadata.
#pragma once

#include <grpcpp/support/server_interceptor.h>

#include <memory>
#include <string>

namespace boxd::local {

// BoxdService::authenticate tells who made the call (the user is only known
// once its token was checked); the call's log line picks it up.
void note_rpc_caller(const grpc::ServerContextBase* call, const std::string& user);

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> make_rpc_log_factory();

}  // namespace boxd::local
