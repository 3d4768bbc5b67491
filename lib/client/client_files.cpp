// Files, logs and disks on the client side.
//
// Uploads and downloads are streams of 1 MiB messages: the caller's read
// function fills one chunk at a time and a download hands each chunk to the
// caller's write function as it arrives, so memory stays at a chunk or two
// whatever the file's size (gRPC flow control makes Write() wait for a slow
// peer). A transfer is only a success when the byte counts agree: an upload
// whose source gave fewer or more bytes than announced is cancelled (the
// server then keeps nothing), and the server's bytes_written must equal
// total_size (silent truncation is a known upstream failure mode); a
// download that ends before total_size bytes is an Error. Streams have no
// deadline (a 1 GiB copy may take a while); keepalive pings detect a dead
// peer. CallCancel lets a Ctrl-C watcher thread cancel the call in flight.
#include <grpcpp/grpcpp.h>

#include <functional>

#include "client/call_error.hpp"
#include "client/client.hpp"
#include "client/client_impl.hpp"
#include "common/error.hpp"
#include "common/zero_copy.hpp"

namespace boxd::client {

namespace {

constexpr std::size_t k_chunk_bytes = 1024 * 1024;
constexpr const char* k_upload_method = "/boxd.api.v1.BoxdApi/UploadFileStream";
constexpr int k_upload_data_field = 4;  // UploadFileChunk.data

// Reads until `want` bytes are in `buffer` or the source ends; the count.
std::size_t read_fully(const ReadFn& read, char* buffer, std::size_t want) {
  std::size_t got = 0;
  while (got < want) {
    const std::size_t n = read(buffer + got, want - got);
    if (n == 0) {
      break;
    }
    got += n;
  }
  return got;
}

// Attaches a context to a CallCancel for the life of one call.
class CancelScope {
 public:
  CancelScope(CallCancel* cancel, grpc::ClientContext* context) : m_cancel(cancel) {
    if (m_cancel != nullptr) {
      m_cancel->attach(context);
    }
  }
  ~CancelScope() {
    if (m_cancel != nullptr) {
      m_cancel->detach();
    }
  }
  CancelScope(const CancelScope&) = delete;
  CancelScope& operator=(const CancelScope&) = delete;

 private:
  CallCancel* m_cancel;
};

Error cancelled_error() {
  return Error(ErrorClass::Cancelled, "interrupted");
}

// The error of a stream call that ended with `status` (not OK): "interrupted"
// when the caller cancelled it, else error_from_call's.
Error stream_error(const grpc::Status& status, const CallCancel* cancel,
                   const ResolvedConfig& config, bool had_progress) {
  if (cancel != nullptr && cancel->cancelled()) {
    return cancelled_error();
  }
  return error_from_call(status, config, had_progress);
}

// Opens a server stream on `context` (attached to `cancel` for the call)
// with `open`, hands each message to `on_message` and returns the call's
// status. When `on_message` throws, the call is cancelled and the stream
// drained and finished before the exception goes on.
template <typename Message, typename Open>
grpc::Status read_stream(std::unique_ptr<grpc::ClientContext> context, CallCancel* cancel,
                         const Open& open, const std::function<void(const Message&)>& on_message) {
  CancelScope scope(cancel, context.get());
  std::unique_ptr<grpc::ClientReader<Message>> reader = open(context.get());
  Message message;
  try {
    while (reader->Read(&message)) {
      on_message(message);
    }
  } catch (...) {
    context->TryCancel();
    while (reader->Read(&message)) {
    }
    reader->Finish();
    throw;
  }
  return reader->Finish();
}

}  // namespace

void CallCancel::cancel() {
  std::lock_guard lock(m_mutex);
  m_cancelled = true;
  if (m_context != nullptr) {
    m_context->TryCancel();
  }
}

bool CallCancel::cancelled() const {
  std::lock_guard lock(m_mutex);
  return m_cancelled;
}

void CallCancel::attach(grpc::ClientContext* context) {
  std::lock_guard lock(m_mutex);
  m_context = context;
  if (m_cancelled) {
    context->TryCancel();
  }
}

void CallCancel::detach() {
  std::lock_guard lock(m_mutex);
  m_context = nullptr;
}

std::uint64_t Client::upload_file(const std::string& vm, const std::string& path,
                                  std::uint64_t total_size, const ReadFn& read,
                                  const ProgressFn& progress, CallCancel* cancel) {
  auto context = m_impl->stream_context();
  CancelScope scope(cancel, context.get());
  api::UploadFileResponse response;
  // A raw stream of UploadFileChunk messages (zero_copy.hpp): each chunk is
  // read into a pooled buffer that gRPC sends as is.
  const auto channel = m_impl->get_channel();
  const grpc::internal::RpcMethod method(k_upload_method,
                                         grpc::internal::RpcMethod::CLIENT_STREAMING, channel);
  std::unique_ptr<grpc::ClientWriter<grpc::ByteBuffer>> writer(
      grpc::internal::ClientWriterFactory<grpc::ByteBuffer>::Create(channel.get(), method,
                                                                    context.get(), &response));
  const auto pool = SlicePool::create(k_chunk_bytes);
  std::uint64_t sent = 0;
  bool first = true;
  bool stream_ok = true;
  std::string local_problem;
  while (stream_ok && (first || sent < total_size)) {
    const auto want =
        static_cast<std::size_t>(std::min<std::uint64_t>(k_chunk_bytes, total_size - sent));
    auto buffer = pool->take();
    const std::size_t got = read_fully(read, buffer.get(), want);
    if (got < want) {
      local_problem = "the source ended after " + std::to_string(sent + got) + " of " +
                      std::to_string(total_size) + " bytes";
      break;
    }
    api::UploadFileChunk head;  // the first chunk names the file
    if (first) {
      head.set_vm_id(vm);
      head.set_path(path);
      head.set_total_size(total_size);
      first = false;
    }
    stream_ok = writer->Write(message_with_payload(head.SerializeAsString(), k_upload_data_field,
                                                   pool->wrap(std::move(buffer), got)));
    if (stream_ok) {
      sent += got;
      if (progress) {
        progress(sent, total_size);
      }
    }
  }
  char extra = 0;
  if (local_problem.empty() && stream_ok && read(&extra, 1) != 0) {
    local_problem = "the source grew beyond " + std::to_string(total_size) + " bytes while copying";
  }
  if (!local_problem.empty()) {
    context->TryCancel();
  } else if (stream_ok) {
    writer->WritesDone();
  }
  const grpc::Status status = writer->Finish();
  if (!local_problem.empty()) {
    throw Error(ErrorClass::Internal, local_problem + "; nothing was written");
  }
  if (!status.ok()) {
    throw stream_error(status, cancel, config(), false);
  }
  if (response.bytes_written() != total_size) {
    throw Error(ErrorClass::Internal, "short write: the server wrote " +
                                          std::to_string(response.bytes_written()) + " of " +
                                          std::to_string(total_size) + " bytes");
  }
  return response.bytes_written();
}

std::uint64_t Client::download_file(const std::string& vm, const std::string& path,
                                    const WriteFn& write, const ProgressFn& progress,
                                    CallCancel* cancel) {
  api::DownloadFileRequest request;
  request.set_vm_id(vm);
  request.set_path(path);
  std::uint64_t total = 0;
  std::uint64_t received = 0;
  bool first = true;
  const grpc::Status status = read_stream<api::DownloadFileChunk>(
      m_impl->stream_context(), cancel,
      [&](grpc::ClientContext* context) {
        return m_impl->get_stub().DownloadFileStream(context, request);
      },
      [&](const api::DownloadFileChunk& chunk) {
        if (first) {
          total = chunk.total_size();
          first = false;
        }
        received += chunk.data().size();
        if (received > total) {
          throw Error(ErrorClass::Internal, "the server sent more than the announced " +
                                                std::to_string(total) + " bytes");
        }
        if (!chunk.data().empty()) {
          write(chunk.data());
        }
        if (progress) {
          progress(received, total);
        }
      });
  if (!status.ok()) {
    throw stream_error(status, cancel, config(), received > 0);
  }
  if (first || received != total) {
    throw Error(ErrorClass::Internal, "short read: received " + std::to_string(received) + " of " +
                                          std::to_string(total) + " bytes");
  }
  return received;
}

api::UploadFileResponse Client::upload_small(const std::string& vm, const std::string& path,
                                             const std::string& data) {
  api::UploadFileRequest request;
  request.set_vm_id(vm);
  request.set_path(path);
  request.set_data(data);
  api::UploadFileResponse response = m_impl->call(&api::BoxdApi::Stub::UploadFile, request);
  if (response.bytes_written() != data.size()) {
    throw Error(ErrorClass::Internal, "short write: the server wrote " +
                                          std::to_string(response.bytes_written()) + " of " +
                                          std::to_string(data.size()) + " bytes");
  }
  return response;
}

std::string Client::download_small(const std::string& vm, const std::string& path) {
  api::DownloadFileRequest request;
  request.set_vm_id(vm);
  request.set_path(path);
  return m_impl->call(&api::BoxdApi::Stub::DownloadFile, request).data();
}

api::ListDirResponse Client::list_dir(const std::string& vm, const std::string& path) {
  api::ListDirRequest request;
  request.set_vm_id(vm);
  request.set_path(path);
  return m_impl->call(&api::BoxdApi::Stub::ListDir, request);
}

void Client::stream_logs(const std::string& vm, bool follow, const WriteFn& write,
                         CallCancel* cancel) {
  api::StreamLogsRequest request;
  request.set_vm_id(vm);
  request.set_follow(follow);
  bool had_output = false;
  const grpc::Status status = read_stream<api::LogChunk>(
      m_impl->stream_context(), cancel,
      [&](grpc::ClientContext* context) { return m_impl->get_stub().StreamLogs(context, request); },
      [&](const api::LogChunk& chunk) {
        had_output = true;
        write(chunk.data());
      });
  if (!status.ok()) {
    throw stream_error(status, cancel, config(), had_output);
  }
}

api::DiskInfo Client::create_disk(const std::string& name, std::uint64_t size_bytes) {
  api::CreateDiskRequest request;
  request.set_name(name);
  request.set_size_bytes(size_bytes);
  return m_impl->call(&api::BoxdApi::Stub::CreateDisk, request);
}

std::vector<api::DiskInfo> Client::list_disks() {
  const api::ListDisksResponse response =
      m_impl->call(&api::BoxdApi::Stub::ListDisks, api::ListDisksRequest());
  return {response.disks().begin(), response.disks().end()};
}

void Client::destroy_disk(const std::string& disk) {
  api::DestroyDiskRequest request;
  request.set_disk_id(disk);
  m_impl->call(&api::BoxdApi::Stub::DestroyDisk, request);
}

api::DiskInfo Client::attach_disk(const api::AttachDiskRequest& request) {
  return m_impl->call(&api::BoxdApi::Stub::AttachDisk, request);
}

api::DiskInfo Client::detach_disk(const std::string& disk, const std::string& vm) {
  api::DetachDiskRequest request;
  request.set_disk_id(disk);
  request.set_vm(vm);
  return m_impl->call(&api::BoxdApi::Stub::DetachDisk, request);
}

}  // namespace boxd::client
