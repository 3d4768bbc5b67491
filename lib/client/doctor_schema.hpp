// `boxd doctor`'s schema check: the API as the server describes it through
// gRPC server reflection, compared with the contract compiled into this
// binary (proto/boxd/api/v1/api.proto).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>
#include <grpcpp/grpcpp.h>

namespace boxd::client {

struct SchemaDiff {
  // What breaks calls: an RPC of ours the server lacks, a field whose number
  // or type differs, a streaming mode or message type that differs.
  std::vector<std::string> problems;
  // Harmless: RPCs the server has and this CLI does not know (a newer server).
  std::vector<std::string> notes;
  int rpcs_compared = 0;
  int messages_compared = 0;
};

// Compares every RPC of `expected` (ours) with the same-named RPC of
// `actual` (the server's), and every message reachable from them, field by
// field (matched by name: number, type, label, message/enum type name) and
// enum value by value. Fields the server has and we do not are fine (proto3
// ignores unknown fields).
SchemaDiff diff_service(const google::protobuf::ServiceDescriptor& expected,
                        const google::protobuf::ServiceDescriptor& actual);

// The server's descriptors, fetched over reflection.
struct ReflectedSchema {
  std::vector<std::string> services;                         // list_services
  std::vector<google::protobuf::FileDescriptorProto> files;  // for the symbol, with dependencies
};

// Opens one ServerReflectionInfo stream (grpc.reflection.v1alpha) on
// `channel`, lists the services and fetches the file defining `symbol` and
// its dependencies. `metadata` is attached to the call (authorization).
// Throws boxd::Error: Connection when the call fails, NotFound when the server
// has no reflection or does not know the symbol.
ReflectedSchema fetch_reflected_schema(
    const std::shared_ptr<grpc::Channel>& channel, const std::string& symbol,
    const std::vector<std::pair<std::string, std::string>>& metadata,
    std::chrono::milliseconds timeout);

// Builds the fetched files into `pool` (which must outlive the result) and
// returns the service named `service`, or null when the files do not
// define it or do not build (missing dependency, conflicting definitions).
const google::protobuf::ServiceDescriptor* build_service(google::protobuf::DescriptorPool& pool,
                                                         const ReflectedSchema& schema,
                                                         const std::string& service);

}  // namespace boxd::client
