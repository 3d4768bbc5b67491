// The file and log RPCs: UploadFileStream / UploadFile, DownloadFileStream
// / DownloadFile, ListDir and StreamLogs. Stream plumbing only: request ->
// Files (files.hpp, the domain layer, where the rules are) -> response, the
// chunks passed through callbacks.
#include <utility>

#include "local/files.hpp"
#include "local/received_chunk.hpp"
#include "local/service.hpp"
#include "local/service_rpc.hpp"

namespace boxd::local {

namespace {

// A cancelled call (client gone, server shutting down), for Files.
CancelledFn cancelled_of(const grpc::ServerContext* context) {
  return [context] { return context->IsCancelled(); };
}

}  // namespace

grpc::Status BoxdService::upload_file_stream(grpc::ServerContext* context,
                                             grpc::ServerReader<grpc::ByteBuffer>* reader,
                                             grpc::ByteBuffer* response) {
  api::UploadFileResponse reply;
  auto status = run_rpc(*this, context, [&](const AuthResult& auth) {
    const auto slot = m_stream_slots.take(auth.user_id);
    // The message as received, held until the next read with its parse,
    // whose data pieces point into it.
    grpc::ByteBuffer message;
    ReceivedUpload received;
    const UploadChunkView& chunk = received.chunk();
    // Each wait for the client's next chunk is watched: a client that
    // stops sending is cancelled after --stream-idle-timeout.
    auto read = [&] {
      {
        const StallWatch::Wait wait(m_stall_watch, *context, "UploadFileStream", auth.user_id);
        if (!reader->Read(&message)) {
          return false;
        }
      }
      if (!received.take(message)) {
        fail(Fault::InvalidArgument, "an UploadFileChunk that is not a valid message");
      }
      return true;
    };
    if (!read()) {
      if (context->IsCancelled()) {
        fail(Fault::Cancelled, "upload cancelled before its first chunk");
      }
      fail(Fault::InvalidArgument, "empty upload: the first chunk names vm_id and path");
    }
    const FileRef file{chunk.fields.vm_id(), chunk.fields.path()};
    const std::uint64_t total = chunk.fields.total_size();
    bool first = true;  // the first chunk is read already
    auto next_chunk = [&](ChunkPieces& data) {
      if (!first && !read()) {
        return false;
      }
      first = false;
      data = chunk.data;
      return true;
    };
    reply.set_bytes_written(
        m_files.upload(auth.user_id, file, total, next_chunk, cancelled_of(context)));
  });
  if (status.ok()) {
    bool own_buffer = false;
    return grpc::SerializationTraits<api::UploadFileResponse>::Serialize(reply, response,
                                                                         &own_buffer);
  }
  return status;
}

grpc::Status BoxdService::UploadFile(grpc::ServerContext* context,
                                     const api::UploadFileRequest* request,
                                     api::UploadFileResponse* response) {
  return run_rpc(*this, context, [&](const AuthResult& auth) {
    const auto slot = m_stream_slots.take(auth.user_id);
    bool sent = false;
    auto next_chunk = [&](ChunkPieces& data) {
      if (sent) {
        return false;
      }
      sent = true;
      data.assign(1, request->data());
      return true;
    };
    response->set_bytes_written(m_files.upload(auth.user_id, {request->vm_id(), request->path()},
                                               request->data().size(), next_chunk,
                                               cancelled_of(context)));
  });
}

grpc::Status BoxdService::DownloadFile(grpc::ServerContext* context,
                                       const api::DownloadFileRequest* request,
                                       api::DownloadFileResponse* response) {
  return run_rpc(*this, context, [&](const AuthResult& auth) {
    const auto slot = m_stream_slots.take(auth.user_id);
    response->set_data(
        m_files.download(auth.user_id, {request->vm_id(), request->path()}, cancelled_of(context)));
  });
}

grpc::Status BoxdService::DownloadFileStream(grpc::ServerContext* context,
                                             const api::DownloadFileRequest* request,
                                             grpc::ServerWriter<api::DownloadFileChunk>* writer) {
  return run_rpc(*this, context, [&](const AuthResult& auth) {
    const auto slot = m_stream_slots.take(auth.user_id);
    bool first = true;
    auto emit = [&](std::string& data, std::uint64_t total_size) {
      api::DownloadFileChunk chunk;
      if (first) {
        chunk.set_total_size(total_size);  // with the first chunk
        first = false;
      }
      chunk.set_data(std::move(data));
      return writer->Write(chunk);
    };
    m_files.download_stream(auth.user_id, {request->vm_id(), request->path()}, emit,
                            cancelled_of(context));
  });
}

grpc::Status BoxdService::ListDir(grpc::ServerContext* context, const api::ListDirRequest* request,
                                  api::ListDirResponse* response) {
  return run_rpc(*this, context, [&](const AuthResult& auth) {
    const auto slot = m_stream_slots.take(auth.user_id);
    auto listing =
        m_files.list(auth.user_id, {request->vm_id(), request->path()}, cancelled_of(context));
    response->set_truncated(listing.truncated);
    for (auto& e : listing.entries) {
      auto* out = response->add_entries();
      out->set_name(std::move(e.name));
      out->set_is_dir(e.is_dir);
      out->set_size_bytes(e.size_bytes);
      out->set_permissions(std::move(e.permissions));
      out->set_modified_at(e.modified_at);
    }
  });
}

grpc::Status BoxdService::StreamLogs(grpc::ServerContext* context,
                                     const api::StreamLogsRequest* request,
                                     grpc::ServerWriter<api::LogChunk>* writer) {
  return run_rpc(*this, context, [&](const AuthResult& auth) {
    const auto slot = m_log_slots.take(auth.user_id);
    auto emit = [&](std::string& data) {
      api::LogChunk chunk;
      chunk.set_data(std::move(data));
      return writer->Write(chunk);
    };
    m_files.stream_logs(auth.user_id, request->vm_id(), request->follow(), emit,
                        cancelled_of(context));
  });
}

}  // namespace boxd::local
