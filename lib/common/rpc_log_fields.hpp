// What the client's -vv line per RPC (lib/client/client_log.cpp) and the
// server's rpc line (lib/local/rpc_log.cpp) both put in their fields.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace boxd::logging {

// "/boxd.api.v1.BoxdApi/GetVm" -> "GetVm" (null -> "").
std::string rpc_method_name(const char* method);

// The name of a grpc::StatusCode ("NOT_FOUND"), its number when unknown.
std::string rpc_code_name(int code);

// Whole milliseconds since `started` (the "ms" field).
std::int64_t ms_since(std::chrono::steady_clock::time_point started);

}  // namespace boxd::logging
