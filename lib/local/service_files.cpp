// Files and logs of a box: UploadFileStream / UploadFile, DownloadFileStream
// / DownloadFile, ListDir and StreamLogs.
//
// Where files live. The server never opens a box's file itself: each call
// starts the file helper inside the box (box_file.hpp; namespace runtime: in
// the box's namespaces as the box's user boxd, uid 1000, no capabilities), so
// it reads and writes exactly what that user could, and symlinks made in the
// box resolve in the box. Before that, the path is made absolute in the box
// (relative = relative to /home/boxd, "~" = /home/boxd) and normalised
// lexically; a ".." that climbs above "/" is refused as outside the box.
// Messages name that box path, never a host path, and are built here from
// the helper's (reason, errno), never from its text.
//
// Uploads: the helper writes a temp file beside the target and renames it
// over the target only when exactly total_size bytes arrived (a short or long
// stream or a cancelled call aborts it: the temp file is removed), so the
// target is either the old file or the whole new one; a new file is 0644, a
// replaced one keeps its mode. The parent directory must exist (NOT_FOUND).
// Devices, FIFOs and sockets are refused both ways. One 1 MiB message is in
// memory at a time; gRPC flow control and the helper's pipes bound the rest.
// Downloads send total_size first and then at most total_size bytes.
//
// StreamLogs reads <box dir>/console.log (every boot's console output is
// appended there by the runtime) from the start. With follow it polls for
// new bytes every 200 ms and ends (OK) when the box is gone, or when it is
// stopped and no lifecycle operation holds its lock (so a reboot, which
// stops and boots under the lock, is followed through); a cancelled call
// (client Ctrl-C, server shutdown) ends it at the next poll. The console log
// is the server's own file, never one of the box's.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "common/unique_fd.hpp"
#include "local/box_file.hpp"
#include "local/service.hpp"
#include "local/service_rpc.hpp"

namespace boxd::local {

namespace {

using box_file::k_chunk_bytes;
using box_file::Reason;

constexpr std::uint64_t k_unary_download_limit = 8 * 1024 * 1024;
constexpr int k_box_uid = 1000;

// "/home/boxd" + raw, normalised; refuses ".." above "/".
std::string absolute_in_box(const std::string& raw, const std::string& home) {
  if (raw.empty()) {
    fail(Fault::InvalidArgument, "path is required");
  }
  if (raw.find('\0') != std::string::npos) {
    fail(Fault::InvalidArgument, "path contains a NUL byte");
  }
  std::string path = raw;
  if (path == "~") {
    path = home;
  } else if (path.starts_with("~/")) {
    path = home + path.substr(1);
  } else if (path[0] != '/') {
    path = home + "/" + path;
  }
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string::npos) {
      end = path.size();
    }
    std::string part = path.substr(start, end - start);
    if (part == "..") {
      if (parts.empty()) {
        fail(Fault::InvalidArgument, "path '" + raw + "' is outside the box");
      }
      parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    start = end + 1;
  }
  std::string out;
  for (const auto& part : parts) {
    out += "/" + part;
  }
  return out.empty() ? "/" : out;
}

std::string permissions_string(mode_t mode) {
  std::string s = "----------";
  if (S_ISDIR(mode)) {
    s[0] = 'd';
  } else if (S_ISLNK(mode)) {
    s[0] = 'l';
  } else if (S_ISCHR(mode)) {
    s[0] = 'c';
  } else if (S_ISBLK(mode)) {
    s[0] = 'b';
  } else if (S_ISFIFO(mode)) {
    s[0] = 'p';
  } else if (S_ISSOCK(mode)) {
    s[0] = 's';
  }
  const char* rwx = "rwxrwxrwx";
  for (int i = 0; i < 9; ++i) {
    if ((mode & (0400U >> i)) != 0) {
      s[static_cast<std::size_t>(i) + 1] = rwx[i];
    }
  }
  if ((mode & S_ISUID) != 0) {
    s[3] = (mode & S_IXUSR) != 0 ? 's' : 'S';
  }
  if ((mode & S_ISGID) != 0) {
    s[6] = (mode & S_IXGRP) != 0 ? 's' : 'S';
  }
  if ((mode & S_ISVTX) != 0) {
    s[9] = (mode & S_IXOTH) != 0 ? 't' : 'T';
  }
  return s;
}

std::string parent_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == 0 || slash == std::string::npos ? std::string("/") : path.substr(0, slash);
}

[[noreturn]] void fail_errno(int error, Reason reason, const std::string& path,
                             const std::string& vm) {
  const std::string in_vm = " in VM '" + vm + "'";
  switch (error) {
    case ENOENT:
    case ENOTDIR:
      if (reason == Reason::OpenParent) {
        fail(Fault::NotFound, "directory '" + parent_of(path) + "' does not exist" + in_vm);
      }
      if (error == ENOENT) {
        fail(Fault::NotFound, "'" + path + "' not found" + in_vm);
      }
      fail(Fault::FailedPrecondition, "a component of '" + path + "' is not a directory" + in_vm);
    case EXDEV:
    case ELOOP:
      fail(Fault::InvalidArgument, "path '" + path + "' leads outside the box or loops");
    case EACCES:
    case EPERM:
      fail(Fault::PermissionDenied, "'" + path + "': permission denied" + in_vm +
                                        " (files are read and written as the box's user boxd)");
    case EROFS:
      fail(Fault::PermissionDenied, "'" + path + "': read-only file system" + in_vm);
    case ENOSPC:
    case EDQUOT:
      fail(Fault::ResourceExhausted, "no space left writing '" + path + "'" + in_vm);
    default:
      fail(Fault::Internal, "'" + path + "'" + in_vm + ": " + std::strerror(error));
  }
}

// Turns the helper's 'E' frame (or anything unexpected) into a status.
[[noreturn]] void fail_from(const BoxFileChannel::Frame& frame, const std::string& path,
                            const std::string& vm) {
  const auto failure = box_file::parse_failure(frame.payload);
  if (frame.type != 'E' || !failure) {
    fail(Fault::Internal, "the file helper in the box sent an unexpected reply");
  }
  const Reason reason = failure->reason;
  const int error = failure->error;
  switch (reason) {
    case Reason::IsDirectory:
      fail(Fault::FailedPrecondition, "'" + path + "' is a directory in VM '" + vm + "'");
    case Reason::NotRegular:
      fail(Fault::FailedPrecondition, "'" + path + "' is not a regular file in VM '" + vm +
                                          "' (devices, FIFOs and sockets are refused)");
    case Reason::Count:
      fail(Fault::InvalidArgument, "upload of '" + path + "' ended short; nothing written");
    case Reason::Protocol:
      fail(Fault::Internal, "the file helper in the box refused the request");
    default:
      fail_errno(error, reason, path, vm);
  }
}

// Reads the helper's next frame and fails unless it is of type `want`.
BoxFileChannel::Frame expect_frame(BoxFileChannel& helper, char want, std::size_t size,
                                   const std::string& path, const std::string& vm) {
  auto frame = helper.receive();
  if (frame.type != want) {
    fail_from(frame, path, vm);
  }
  if (size != std::string::npos && frame.payload.size() != size) {
    fail(Fault::Internal, "the file helper in the box sent a malformed reply");
  }
  return frame;
}

// After a write to the helper failed: its 'E' frame says why.
[[noreturn]] void fail_after_send(BoxFileChannel& helper, const std::string& path,
                                  const std::string& vm) {
  fail_from(helper.receive(), path, vm);
}

// One upload through the helper: start() once the first chunk is known,
// add() for every chunk, commit() at the end.
class Upload {
 public:
  Upload(std::unique_ptr<BoxFileChannel> helper, std::string path, std::string vm,
         std::uint64_t total)
      : m_helper(std::move(helper)), m_path(std::move(path)), m_vm(std::move(vm)), m_total(total) {
    expect_frame(*m_helper, 'R', 0, m_path, m_vm);
  }

  void add(const std::string& data) {
    if (m_written + data.size() > m_total) {
      fail(Fault::InvalidArgument,
           "upload of '" + m_path + "' is longer than its total_size " + std::to_string(m_total));
    }
    for (std::size_t offset = 0; offset < data.size(); offset += k_chunk_bytes) {
      const auto part = std::string_view(data).substr(offset, k_chunk_bytes);
      if (!m_helper->send('D', part)) {
        fail_after_send(*m_helper, m_path, m_vm);
      }
    }
    m_written += data.size();
  }

  std::uint64_t commit() {
    if (m_written != m_total) {
      fail(Fault::InvalidArgument, "upload of '" + m_path + "' ended after " +
                                       std::to_string(m_written) + " of " +
                                       std::to_string(m_total) + " bytes; nothing written");
    }
    std::string payload;
    box_file::put_u64(payload, m_written);
    if (!m_helper->send('C', payload)) {
      fail_after_send(*m_helper, m_path, m_vm);
    }
    const auto done = expect_frame(*m_helper, 'O', 8, m_path, m_vm);
    if (*box_file::get_u64(done.payload, 0) != m_written) {
      fail(Fault::Internal, "the file helper in the box miscounted the upload");
    }
    return m_written;
  }

 private:
  std::unique_ptr<BoxFileChannel> m_helper;
  std::string m_path;
  std::string m_vm;
  std::uint64_t m_total;
  std::uint64_t m_written = 0;
};

// Reads up to `want` bytes (fewer only at end of file).
std::string read_some(int fd, std::size_t want) {
  std::string buffer(want, '\0');
  std::size_t got = 0;
  while (got < want) {
    ssize_t n = ::read(fd, buffer.data() + got, want - got);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      fail(Fault::Internal, std::string("reading the console log: ") + std::strerror(errno));
    }
    if (n == 0) {
      break;
    }
    got += static_cast<std::size_t>(n);
  }
  buffer.resize(got);
  return buffer;
}

// Receives a download: on_size(size) once, then on_data(bytes) per data
// frame (at most `size` bytes in all) until the helper's 'O'.
template <class OnSize, class OnData>
void receive_download(BoxFileChannel& helper, const std::string& path, const std::string& vm,
                      std::uint64_t max_size, OnSize&& on_size, OnData&& on_data) {
  const auto head = expect_frame(helper, 'S', 8, path, vm);
  const std::uint64_t size = *box_file::get_u64(head.payload, 0);
  if (size > max_size) {
    fail(Fault::FailedPrecondition, "'" + path + "' is larger than 8 MiB: use DownloadFileStream");
  }
  on_size(size);
  std::uint64_t got = 0;
  while (true) {
    auto frame = helper.receive();
    if (frame.type == 'O' && frame.payload.empty()) {
      return;
    }
    if (frame.type != 'D' || frame.payload.empty() || got + frame.payload.size() > size) {
      fail_from(frame, path, vm);
    }
    got += frame.payload.size();
    on_data(std::move(frame.payload));
  }
}

// A DirEntry from the helper's 'N' frame; false when it is malformed.
bool parse_entry(const std::string& payload, api::DirEntry& out) {
  auto entry = box_file::parse_entry(payload);
  if (!entry) {
    return false;
  }
  const auto mode = static_cast<mode_t>(entry->mode);
  out.set_name(std::move(entry->name));
  out.set_is_dir(S_ISDIR(mode));
  out.set_size_bytes(entry->size);
  out.set_permissions(permissions_string(mode));
  out.set_modified_at(entry->mtime);
  return true;
}

}  // namespace

std::unique_ptr<BoxFileChannel> BoxdService::start_box_file(const grpc::ServerContext* context,
                                                            const std::string& user,
                                                            const std::string& vm,
                                                            const std::string& op,
                                                            std::string& path, BoxRecord* box_out) {
  const BoxRecord box = m_boxes.require_running(user, vm);
  path = absolute_in_box(path, "/home/boxd");
  const std::string helper_path = m_runtime.helper_path(path);
  if (op == "upload" && helper_path == "/") {
    fail(Fault::FailedPrecondition, "'" + path + "' is a directory in VM '" + box.name + "'");
  }
  if (box_out != nullptr) {
    *box_out = box;
  }
  const BoxSpec spec = m_boxes.spec_of(box);
  auto process = m_runtime.run_self(
      spec, box.handle, {"local", "__box-file", op, m_runtime.files_root(spec), helper_path},
      k_box_uid);
  return std::make_unique<BoxFileChannel>(std::move(process),
                                          [context] { return context->IsCancelled(); });
}

grpc::Status BoxdService::UploadFileStream(grpc::ServerContext* context,
                                           grpc::ServerReader<api::UploadFileChunk>* reader,
                                           api::UploadFileResponse* response) {
  return run_rpc(*this, context, [&](const AuthResult& auth) {
    api::UploadFileChunk chunk;
    if (!reader->Read(&chunk)) {
      fail(Fault::InvalidArgument, "empty upload: the first chunk names vm_id and path");
    }
    std::string path = chunk.path();
    BoxRecord box;
    auto helper = start_box_file(context, auth.user_id, chunk.vm_id(), "upload", path, &box);
    Upload upload(std::move(helper), path, box.name, chunk.total_size());
    do {
      upload.add(chunk.data());
    } while (reader->Read(&chunk));
    if (context->IsCancelled()) {
      fail(Fault::Cancelled, "upload cancelled; nothing written");
    }
    response->set_bytes_written(upload.commit());
  });
}

grpc::Status BoxdService::UploadFile(grpc::ServerContext* context,
                                     const api::UploadFileRequest* request,
                                     api::UploadFileResponse* response) {
  return run_rpc(*this, context, [&](const AuthResult& auth) {
    std::string path = request->path();
    BoxRecord box;
    auto helper = start_box_file(context, auth.user_id, request->vm_id(), "upload", path, &box);
    Upload upload(std::move(helper), path, box.name, request->data().size());
    upload.add(request->data());
    response->set_bytes_written(upload.commit());
  });
}

grpc::Status BoxdService::DownloadFile(grpc::ServerContext* context,
                                       const api::DownloadFileRequest* request,
                                       api::DownloadFileResponse* response) {
  return run_rpc(*this, context, [&](const AuthResult& auth) {
    std::string path = request->path();
    BoxRecord box;
    auto helper = start_box_file(context, auth.user_id, request->vm_id(), "download", path, &box);
    std::string data;
    receive_download(
        *helper, path, box.name, k_unary_download_limit, [](std::uint64_t) {},
        [&](const std::string& part) { data += part; });
    response->set_data(std::move(data));
  });
}

grpc::Status BoxdService::DownloadFileStream(grpc::ServerContext* context,
                                             const api::DownloadFileRequest* request,
                                             grpc::ServerWriter<api::DownloadFileChunk>* writer) {
  return run_rpc(*this, context, [&](const AuthResult& auth) {
    std::string path = request->path();
    BoxRecord box;
    auto helper = start_box_file(context, auth.user_id, request->vm_id(), "download", path, &box);
    std::uint64_t total = 0;
    bool sent_total = false;
    auto write = [&](api::DownloadFileChunk& chunk) {
      if (!sent_total) {
        chunk.set_total_size(total);  // with the first chunk
        sent_total = true;
      }
      if (!writer->Write(chunk)) {
        fail(Fault::Cancelled, "download cancelled");
      }
    };
    receive_download(
        *helper, path, box.name, UINT64_MAX, [&](std::uint64_t size) { total = size; },
        [&](std::string part) {
          api::DownloadFileChunk chunk;
          chunk.set_data(std::move(part));
          write(chunk);
        });
    if (!sent_total) {
      api::DownloadFileChunk chunk;  // an empty file (or one that shrank to nothing)
      write(chunk);
    }
  });
}

grpc::Status BoxdService::ListDir(grpc::ServerContext* context, const api::ListDirRequest* request,
                                  api::ListDirResponse* response) {
  return run_rpc(*this, context, [&](const AuthResult& auth) {
    std::string path = request->path().empty() ? std::string("~") : request->path();
    BoxRecord box;
    auto helper = start_box_file(context, auth.user_id, request->vm_id(), "list", path, &box);
    std::vector<api::DirEntry> entries;
    while (true) {
      auto frame = helper->receive(box_file::k_max_entry_payload);
      if (frame.type == 'O' && frame.payload.size() == 1) {
        response->set_truncated(frame.payload[0] != 0);
        break;
      }
      api::DirEntry entry;
      if (frame.type != 'N' || static_cast<int>(entries.size()) >= box_file::k_list_limit ||
          !parse_entry(frame.payload, entry)) {
        const auto failure = box_file::parse_failure(frame.payload);
        if (frame.type == 'E' && failure && failure->reason == Reason::Open &&
            failure->error == ENOTDIR) {
          fail(Fault::FailedPrecondition,
               "'" + path + "' is not a directory in VM '" + box.name + "'");
        }
        fail_from(frame, path, box.name);
      }
      entries.push_back(std::move(entry));
    }
    std::sort(entries.begin(), entries.end(),
              [](const api::DirEntry& a, const api::DirEntry& b) { return a.name() < b.name(); });
    for (auto& e : entries) {
      *response->add_entries() = std::move(e);
    }
  });
}

grpc::Status BoxdService::StreamLogs(grpc::ServerContext* context,
                                     const api::StreamLogsRequest* request,
                                     grpc::ServerWriter<api::LogChunk>* writer) {
  return run_rpc(*this, context, [&](const AuthResult& auth) {
    const BoxRecord box = m_boxes.require(auth.user_id, request->vm_id());
    const std::filesystem::path log_path = m_boxes.spec_of(box).dir / "console.log";
    UniqueFd file(open(log_path.c_str(), O_RDONLY | O_CLOEXEC));
    // Sends everything readable now; false when the client went away.
    auto drain = [&]() {
      if (file.get() < 0) {
        file.reset(open(log_path.c_str(), O_RDONLY | O_CLOEXEC));
        if (file.get() < 0) {
          return true;
        }
      }
      while (true) {
        std::string data = read_some(file.get(), 64 * 1024);
        if (data.empty()) {
          return true;
        }
        api::LogChunk chunk;
        chunk.set_data(std::move(data));
        if (!writer->Write(chunk)) {
          return false;
        }
      }
    };
    if (!drain() || !request->follow()) {
      return;
    }
    auto lock = m_boxes.op_lock(box.id);
    while (!context->IsCancelled()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      if (!drain()) {
        return;
      }
      std::optional<BoxRecord> now;
      try {
        now = m_boxes.require(auth.user_id, box.id);
      } catch (const FaultError&) {
        drain();
        return;  // destroyed
      }
      if ((now->status == BoxStatus::Stopped || now->status == BoxStatus::Failed) &&
          lock->try_lock()) {
        lock->unlock();
        const auto again = m_store.find_box(auth.user_id, box.id);
        if (again && (again->status == BoxStatus::Stopped || again->status == BoxStatus::Failed)) {
          drain();
          return;
        }
      }
    }
  });
}

}  // namespace boxd::local
