// Schema check over gRPC server reflection.
//
// Reflection (grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo)
// is a bidirectional stream of small messages. The generated classes for it
// are not shipped by Debian's grpc packages, and compiling our own copy
// would register the same message names in the generated descriptor pool as
// libgrpc++_reflection (a fatal clash at start-up), so the few messages we
// need are encoded and decoded by hand with protobuf's wire primitives and
// carried as raw ByteBuffers:
//
//   ServerReflectionRequest  { string host = 1; oneof { string file_by_filename = 3;
//                              string file_containing_symbol = 4; string list_services = 7; } }
//   ServerReflectionResponse { string valid_host = 1; ServerReflectionRequest original_request = 2;
//                              oneof { FileDescriptorResponse file_descriptor_response = 4;
//                                      ListServiceResponse list_services_response = 6;
//                                      ErrorResponse error_response = 7; } }
//   FileDescriptorResponse   { repeated bytes file_descriptor_proto = 1; }
//   ListServiceResponse      { repeated ServiceResponse service = 1; }  ServiceResponse { string
//   name = 1; } ErrorResponse            { int32 error_code = 1; string error_message = 2; }
//
// We ask for the service list, then for the file containing the symbol; the
// server answers with that file and (usually) its dependencies; any
// dependency still missing is asked for by file name. The files are built
// into a private DescriptorPool, never the generated one.
//
// The comparison walks our service: each RPC must exist on the server with
// the same streaming modes and message types, and each message reachable
// from an RPC must have each of our fields, by name, with the same number,
// type and label (what decides the bytes on the wire). The server may have
// more: extra fields are ignored by proto3, extra RPCs are noted.
#include "client/doctor_schema.hpp"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/wire_format_lite.h>
#include <grpcpp/impl/rpc_method.h>
#include <grpcpp/support/sync_stream.h>

#include <set>

#include "common/error.hpp"

namespace boxd::client {

namespace {

namespace gp = google::protobuf;
using gp::internal::WireFormatLite;

// ---- the comparison ----

std::string field_type(const gp::FieldDescriptor& field) {
  std::string type;
  if (field.is_map()) {
    type = "map";
  } else if (field.is_repeated()) {
    type = "repeated ";
  }
  if (field.message_type() != nullptr) {
    if (!field.is_map()) {
      type += field.message_type()->full_name();
    } else {
      type += "<" + field_type(*field.message_type()->map_key()) + ", " +
              field_type(*field.message_type()->map_value()) + ">";
    }
  } else if (field.enum_type() != nullptr) {
    type += field.enum_type()->full_name();
  } else {
    type += field.type_name();
  }
  return type;
}

class Differ {
 public:
  explicit Differ(SchemaDiff& diff) : m_diff(diff) {}

  void compare_message(const gp::Descriptor& ours, const gp::Descriptor& theirs) {
    if (!m_seen.insert(ours.full_name()).second) {
      return;
    }
    ++m_diff.messages_compared;
    for (int i = 0; i < ours.field_count(); ++i) {
      const gp::FieldDescriptor& field = *ours.field(i);
      const std::string name = ours.full_name() + "." + field.name();
      const gp::FieldDescriptor* other = theirs.FindFieldByName(field.name());
      if (other == nullptr) {
        std::string problem =
            "field " + name + " (" + std::to_string(field.number()) + ") is missing on the server";
        if (const auto* same_number = theirs.FindFieldByNumber(field.number())) {
          problem +=
              " (it has " + same_number->name() + " at " + std::to_string(field.number()) + ")";
        }
        m_diff.problems.push_back(problem);
        continue;
      }
      if (other->number() != field.number()) {
        m_diff.problems.push_back("field " + name + " is number " + std::to_string(field.number()) +
                                  " here, " + std::to_string(other->number()) + " on the server");
      }
      const std::string our_type = field_type(field);
      const std::string their_type = field_type(*other);
      if (our_type != their_type) {
        m_diff.problems.push_back("field " + name + " is " + our_type + " here, " + their_type +
                                  " on the server");
        continue;
      }
      if (field.message_type() != nullptr && other->message_type() != nullptr) {
        compare_message(*field.message_type(), *other->message_type());
      } else if (field.enum_type() != nullptr && other->enum_type() != nullptr) {
        compare_enum(*field.enum_type(), *other->enum_type());
      }
    }
  }

  void compare_enum(const gp::EnumDescriptor& ours, const gp::EnumDescriptor& theirs) {
    if (!m_seen.insert(ours.full_name()).second) {
      return;
    }
    for (int i = 0; i < ours.value_count(); ++i) {
      const gp::EnumValueDescriptor& value = *ours.value(i);
      const gp::EnumValueDescriptor* other = theirs.FindValueByName(value.name());
      if (other == nullptr) {
        m_diff.problems.push_back("enum value " + ours.full_name() + "." + value.name() +
                                  " is missing on the server");
      } else if (other->number() != value.number()) {
        m_diff.problems.push_back("enum value " + ours.full_name() + "." + value.name() + " is " +
                                  std::to_string(value.number()) + " here, " +
                                  std::to_string(other->number()) + " on the server");
      }
    }
  }

 private:
  SchemaDiff& m_diff;
  std::set<std::string> m_seen;
};

// ---- the reflection wire format ----

constexpr int k_host = 1;
constexpr int k_file_by_filename = 3;
constexpr int k_file_containing_symbol = 4;
constexpr int k_list_services = 7;
constexpr int k_file_descriptor_response = 4;
constexpr int k_list_services_response = 6;
constexpr int k_error_response = 7;

std::string encode_request(int field, const std::string& value) {
  std::string out;
  {
    gp::io::StringOutputStream stream(&out);
    gp::io::CodedOutputStream coded(&stream);
    WireFormatLite::WriteString(k_host, "", &coded);
    WireFormatLite::WriteString(field, value, &coded);
  }
  return out;
}

// Calls `on_field(number, bytes)` for each length-delimited field of
// `message`; skips the others. False if the bytes are not a message.
template <typename OnField>
bool for_each_bytes_field(const std::string& message, OnField on_field) {
  gp::io::CodedInputStream in(reinterpret_cast<const std::uint8_t*>(message.data()),
                              static_cast<int>(message.size()));
  for (std::uint32_t tag = in.ReadTag(); tag != 0; tag = in.ReadTag()) {
    const int number = WireFormatLite::GetTagFieldNumber(tag);
    if (WireFormatLite::GetTagWireType(tag) == WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
      std::uint32_t size = 0;
      std::string value;
      if (!in.ReadVarint32(&size) || !in.ReadString(&value, static_cast<int>(size))) {
        return false;
      }
      on_field(number, value);
    } else if (!WireFormatLite::SkipField(&in, tag)) {
      return false;
    }
  }
  return in.ConsumedEntireMessage();
}

struct Response {
  std::vector<std::string> file_descriptor_protos;
  std::vector<std::string> services;
  bool error = false;
  std::string error_message;
};

Response decode_response(const std::string& bytes) {
  Response response;
  const bool ok = for_each_bytes_field(bytes, [&response](int number, const std::string& value) {
    if (number == k_file_descriptor_response) {
      for_each_bytes_field(value, [&response](int n, const std::string& file) {
        if (n == 1) {
          response.file_descriptor_protos.push_back(file);
        }
      });
    } else if (number == k_list_services_response) {
      for_each_bytes_field(value, [&response](int n, const std::string& service) {
        if (n == 1) {
          for_each_bytes_field(service, [&response](int m, const std::string& name) {
            if (m == 1) {
              response.services.push_back(name);
            }
          });
        }
      });
    } else if (number == k_error_response) {
      response.error = true;
      for_each_bytes_field(value, [&response](int n, const std::string& message) {
        if (n == 2) {
          response.error_message = message;
        }
      });
    }
  });
  if (!ok) {
    response.error = true;
    response.error_message = "malformed reflection response";
  }
  return response;
}

grpc::ByteBuffer to_buffer(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

std::string from_buffer(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string out;
  if (buffer.Dump(&slices).ok()) {
    for (const auto& slice : slices) {
      out.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
    }
  }
  return out;
}

class ReflectionStream {
 public:
  ReflectionStream(const std::shared_ptr<grpc::Channel>& channel,
                   const std::vector<std::pair<std::string, std::string>>& metadata,
                   std::chrono::milliseconds timeout)
      : m_method("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
                 grpc::internal::RpcMethod::BIDI_STREAMING, channel) {
    for (const auto& [key, value] : metadata) {
      m_context.AddMetadata(key, value);
    }
    m_context.set_deadline(std::chrono::system_clock::now() + timeout);
    m_stream.reset(
        grpc::internal::ClientReaderWriterFactory<grpc::ByteBuffer, grpc::ByteBuffer>::Create(
            channel.get(), m_method, &m_context));
  }

  ~ReflectionStream() {
    if (!m_finished) {
      m_context.TryCancel();
      m_stream->Finish();
    }
  }

  ReflectionStream(const ReflectionStream&) = delete;
  ReflectionStream& operator=(const ReflectionStream&) = delete;

  Response ask(int field, const std::string& value) {
    grpc::ByteBuffer reply;
    if (!m_stream->Write(to_buffer(encode_request(field, value))) || !m_stream->Read(&reply)) {
      fail();
    }
    return decode_response(from_buffer(reply));
  }

  void close() {
    m_stream->WritesDone();
    m_finished = true;
    m_stream->Finish();
  }

 private:
  [[noreturn]] void fail() {
    m_stream->WritesDone();
    m_finished = true;
    const grpc::Status status = m_stream->Finish();
    if (status.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
      throw Error(ErrorClass::NotFound, "the server does not offer gRPC server reflection");
    }
    throw Error(
        ErrorClass::Connection,
        "reflection call failed: " + (status.error_message().empty() ? std::string("stream ended")
                                                                     : status.error_message()));
  }

  grpc::internal::RpcMethod m_method;
  grpc::ClientContext m_context;
  std::unique_ptr<grpc::ClientReaderWriter<grpc::ByteBuffer, grpc::ByteBuffer>> m_stream;
  bool m_finished = false;
};

}  // namespace

SchemaDiff diff_service(const gp::ServiceDescriptor& expected,
                        const gp::ServiceDescriptor& actual) {
  SchemaDiff diff;
  Differ differ(diff);
  for (int i = 0; i < expected.method_count(); ++i) {
    const gp::MethodDescriptor& method = *expected.method(i);
    ++diff.rpcs_compared;
    const gp::MethodDescriptor* other = actual.FindMethodByName(method.name());
    if (other == nullptr) {
      diff.problems.push_back("RPC " + method.name() + " is missing on the server");
      continue;
    }
    const auto streaming = [](const gp::MethodDescriptor& m) {
      return std::string(m.client_streaming() ? "stream " : "") + m.input_type()->full_name() +
             " -> " + (m.server_streaming() ? "stream " : "") + m.output_type()->full_name();
    };
    if (streaming(method) != streaming(*other)) {
      diff.problems.push_back("RPC " + method.name() + " is " + streaming(method) + " here, " +
                              streaming(*other) + " on the server");
      continue;
    }
    differ.compare_message(*method.input_type(), *other->input_type());
    differ.compare_message(*method.output_type(), *other->output_type());
  }
  for (int i = 0; i < actual.method_count(); ++i) {
    if (expected.FindMethodByName(actual.method(i)->name()) == nullptr) {
      diff.notes.push_back("the server has RPC " + actual.method(i)->name() +
                           " that this CLI does not know");
    }
  }
  return diff;
}

ReflectedSchema fetch_reflected_schema(
    const std::shared_ptr<grpc::Channel>& channel, const std::string& symbol,
    const std::vector<std::pair<std::string, std::string>>& metadata,
    std::chrono::milliseconds timeout) {
  ReflectedSchema schema;
  ReflectionStream stream(channel, metadata, timeout);
  const Response services = stream.ask(k_list_services, "*");
  if (services.error) {
    throw Error(ErrorClass::Internal, "reflection: " + services.error_message);
  }
  schema.services = services.services;

  std::set<std::string> have;
  auto add_files = [&schema, &have](const Response& response) {
    for (const std::string& bytes : response.file_descriptor_protos) {
      gp::FileDescriptorProto file;
      if (file.ParseFromString(bytes) && have.insert(file.name()).second) {
        schema.files.push_back(std::move(file));
      }
    }
  };
  const Response found = stream.ask(k_file_containing_symbol, symbol);
  if (found.error) {
    throw Error(ErrorClass::NotFound,
                "reflection: the server does not know " + symbol +
                    (found.error_message.empty() ? "" : ": " + found.error_message));
  }
  add_files(found);
  // Dependencies the server did not volunteer, by file name (bounded: a
  // server that keeps answering with other files cannot loop us forever).
  for (int round = 0; round < 64; ++round) {
    std::string missing;
    for (const auto& file : schema.files) {
      for (const auto& dependency : file.dependency()) {
        if (have.count(dependency) == 0) {
          missing = dependency;
          break;
        }
      }
      if (!missing.empty()) {
        break;
      }
    }
    if (missing.empty()) {
      break;
    }
    const Response dependency = stream.ask(k_file_by_filename, missing);
    have.insert(missing);  // asked once, whatever the answer
    if (!dependency.error) {
      add_files(dependency);
    }
  }
  stream.close();
  return schema;
}

const gp::ServiceDescriptor* build_service(gp::DescriptorPool& pool, const ReflectedSchema& schema,
                                           const std::string& service) {
  // Dependencies first: retry the files that did not build until a pass
  // makes no progress.
  // BuildFile would log a broken file on stderr; lib/ never prints.
  struct QuietErrors final : gp::DescriptorPool::ErrorCollector {
    void AddError(const std::string& /*filename*/, const std::string& /*element*/,
                  const gp::Message* /*descriptor*/, ErrorLocation /*location*/,
                  const std::string& /*message*/) override {}
  } quiet;
  std::vector<const gp::FileDescriptorProto*> pending;
  for (const auto& file : schema.files) {
    pending.push_back(&file);
  }
  bool progress = true;
  while (!pending.empty() && progress) {
    progress = false;
    std::vector<const gp::FileDescriptorProto*> next;
    for (const auto* file : pending) {
      bool ready = true;
      for (const auto& dependency : file->dependency()) {
        if (pool.FindFileByName(dependency) == nullptr) {
          ready = false;
        }
      }
      if (ready && pool.BuildFileCollectingErrors(*file, &quiet) != nullptr) {
        progress = true;
      } else if (!ready) {
        next.push_back(file);
      }
    }
    pending = std::move(next);
  }
  return pool.FindServiceByName(service);
}

}  // namespace boxd::client
