// Files and logs of a box: UploadFileStream / UploadFile, DownloadFileStream
// / DownloadFile, ListDir and StreamLogs.
//
// Where files live. A file is read and written inside the box's file system
// as the box sees it, never by a host path built from the request: the
// runtime gives an O_PATH fd of the box's root (namespace runtime:
// /proc/<init>/root, whose lookups follow the box's own overlay and bind
// mounts; process runtime: the box's home tree), and every path is opened
// beneath it with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS), so ".."
// and symlinks (absolute ones included) resolve as if that fd were "/" and
// cannot reach the host. Before that, the path is made absolute in the box
// (relative = relative to /home/boxd, "~" = /home/boxd) and normalised
// lexically; a ".." that climbs above "/" is refused as outside the box.
//
// Uploads create a temp file beside the target (owned by boxd 1000:1000,
// mode 0644 under the namespace runtime), write the chunks as they arrive
// (one 1 MiB message in memory at a time) and rename it over the target only
// when exactly total_size bytes arrived; any failure, a short or long
// stream, or a cancelled call unlinks it, so the target is either the old
// file or the whole new one. The parent directory must exist (NOT_FOUND).
// Downloads send total_size first and then at most total_size bytes in
// 1 MiB chunks; gRPC flow control blocks Write() when the client is slow, so
// memory stays bounded both ways. A FIFO or device is refused (opened with
// O_NONBLOCK so a FIFO cannot hang the call).
//
// StreamLogs reads <box dir>/console.log (every boot's console output is
// appended there by the runtime) from the start. With follow it polls for
// new bytes every 200 ms and ends (OK) when the box is gone, or when it is
// stopped and no lifecycle operation holds its lock (so a reboot, which
// stops and boots under the lock, is followed through); a cancelled call
// (client Ctrl-C, server shutdown) ends it at the next poll.
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

#include "common/jwt.hpp"
#include "local/box_mounts.hpp"
#include "local/service.hpp"
#include "local/service_rpc.hpp"

namespace boxd::local {

namespace {

using grpc::StatusCode;

constexpr std::size_t k_chunk_bytes = 1024 * 1024;
constexpr std::uint64_t k_unary_download_limit = 8 * 1024 * 1024;
constexpr int k_list_limit = 10000;
constexpr int k_box_uid = 1000;
constexpr int k_box_gid = 1000;

class UniqueFd {
 public:
  explicit UniqueFd(int fd = -1) : m_fd(fd) {}
  ~UniqueFd() { reset(); }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  int get() const { return m_fd; }
  void reset(int fd = -1) {
    if (m_fd >= 0) {
      close(m_fd);
    }
    m_fd = fd;
  }

 private:
  int m_fd;
};

// "/home/boxd" + raw, normalised; refuses ".." above "/".
std::string absolute_in_box(const std::string& raw, const std::string& home) {
  if (raw.empty()) {
    rpc_fail(StatusCode::INVALID_ARGUMENT, "path is required");
  }
  if (raw.find('\0') != std::string::npos) {
    rpc_fail(StatusCode::INVALID_ARGUMENT, "path contains a NUL byte");
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
        rpc_fail(StatusCode::INVALID_ARGUMENT, "path '" + raw + "' is outside the box");
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

[[noreturn]] void fail_open(int error, const std::string& path, const std::string& vm,
                            const char* what) {
  switch (error) {
    case ENOENT:
      rpc_fail(StatusCode::NOT_FOUND, std::string(what) + " '" + path + "' not found in VM '" + vm + "'");
    case ENOTDIR:
      rpc_fail(StatusCode::FAILED_PRECONDITION,
               "a component of '" + path + "' is not a directory in VM '" + vm + "'");
    case EISDIR:
      rpc_fail(StatusCode::FAILED_PRECONDITION, "'" + path + "' is a directory in VM '" + vm + "'");
    case EXDEV:
    case ELOOP:
      rpc_fail(StatusCode::INVALID_ARGUMENT, "path '" + path + "' leads outside the box or loops");
    case EACCES:
    case EPERM:
    case EROFS:
      rpc_fail(StatusCode::PERMISSION_DENIED, "'" + path + "': " + std::strerror(error));
    default:
      rpc_fail(StatusCode::INTERNAL, "'" + path + "': " + std::strerror(error));
  }
}

// One upload in progress: a temp file beside the target, renamed at commit.
class Upload {
 public:
  Upload(int root_fd, const std::string& path, const std::string& vm, bool chown_to_box)
      : m_path(path), m_vm(vm) {
    const auto slash = path.rfind('/');
    const std::string parent = path.substr(0, slash).empty() ? "/" : path.substr(0, slash);
    m_name = path.substr(slash + 1);
    if (m_name.empty()) {
      rpc_fail(StatusCode::INVALID_ARGUMENT, "'" + path + "' is not a file path");
    }
    m_dir.reset(open_beneath(root_fd, parent, O_PATH | O_DIRECTORY));
    if (m_dir.get() < 0) {
      int error = errno;
      if (error == ENOENT || error == ENOTDIR) {
        rpc_fail(StatusCode::NOT_FOUND,
                 "directory '" + parent + "' does not exist in VM '" + vm + "'");
      }
      fail_open(error, parent, vm, "directory");
    }
    struct stat st {};
    if (fstatat(m_dir.get(), m_name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
      rpc_fail(StatusCode::FAILED_PRECONDITION, "'" + path + "' is a directory in VM '" + vm + "'");
    }
    m_temp = "." + m_name.substr(0, 100) + ".boxd-upload-" + random_hex(6);
    m_file.reset(openat(m_dir.get(), m_temp.c_str(),
                        O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
    if (m_file.get() < 0) {
      fail_open(errno, path, vm, "file");
    }
    if (chown_to_box && fchown(m_file.get(), k_box_uid, k_box_gid) < 0) {
      int error = errno;
      abort_upload();
      fail_open(error, path, vm, "file");
    }
    fchmod(m_file.get(), 0644);
  }

  ~Upload() { abort_upload(); }
  Upload(const Upload&) = delete;
  Upload& operator=(const Upload&) = delete;

  void write_data(const std::string& data) {
    std::size_t offset = 0;
    while (offset < data.size()) {
      ssize_t n = ::write(m_file.get(), data.data() + offset, data.size() - offset);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        int error = errno;
        if (error == ENOSPC || error == EDQUOT) {
          rpc_fail(StatusCode::RESOURCE_EXHAUSTED, "no space left writing '" + m_path + "'");
        }
        rpc_fail(StatusCode::INTERNAL, "writing '" + m_path + "': " + std::strerror(error));
      }
      offset += static_cast<std::size_t>(n);
    }
    m_written += data.size();
  }

  std::uint64_t written() const { return m_written; }

  void commit() {
    if (renameat(m_dir.get(), m_temp.c_str(), m_dir.get(), m_name.c_str()) < 0) {
      fail_open(errno, m_path, m_vm, "file");
    }
    m_temp.clear();
    m_file.reset();
  }

 private:
  void abort_upload() {
    if (!m_temp.empty() && m_dir.get() >= 0) {
      unlinkat(m_dir.get(), m_temp.c_str(), 0);
      m_temp.clear();
    }
  }

  std::string m_path;
  std::string m_vm;
  std::string m_name;
  std::string m_temp;
  UniqueFd m_dir;
  UniqueFd m_file;
  std::uint64_t m_written = 0;
};

// A regular file of the box opened for reading, with its size.
struct OpenedFile {
  UniqueFd fd;
  std::uint64_t size = 0;
};

void open_for_download(int root_fd, const std::string& path, const std::string& vm,
                       OpenedFile& out) {
  out.fd.reset(open_beneath(root_fd, path, O_RDONLY | O_NONBLOCK | O_NOCTTY));
  if (out.fd.get() < 0) {
    fail_open(errno, path, vm, "file");
  }
  struct stat st {};
  if (fstat(out.fd.get(), &st) < 0) {
    fail_open(errno, path, vm, "file");
  }
  if (S_ISDIR(st.st_mode)) {
    rpc_fail(StatusCode::FAILED_PRECONDITION, "'" + path + "' is a directory in VM '" + vm + "'");
  }
  if (!S_ISREG(st.st_mode)) {
    rpc_fail(StatusCode::FAILED_PRECONDITION,
             "'" + path + "' is not a regular file in VM '" + vm + "'");
  }
  fcntl(out.fd.get(), F_SETFL, fcntl(out.fd.get(), F_GETFL) & ~O_NONBLOCK);
  out.size = static_cast<std::uint64_t>(st.st_size);
}

// Reads up to `want` bytes (fewer only at end of file).
std::string read_some(int fd, std::size_t want, const std::string& path) {
  std::string buffer(want, '\0');
  std::size_t got = 0;
  while (got < want) {
    ssize_t n = ::read(fd, buffer.data() + got, want - got);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      rpc_fail(StatusCode::INTERNAL, "reading '" + path + "': " + std::strerror(errno));
    }
    if (n == 0) {
      break;
    }
    got += static_cast<std::size_t>(n);
  }
  buffer.resize(got);
  return buffer;
}

}  // namespace

int BoxdService::open_box_root(const std::string& user, const std::string& vm, std::string& path,
                               BoxRecord* box_out) {
  const BoxRecord box = require_box(user, vm);
  if (box.status != "running" && box.status != "suspended") {
    rpc_fail(StatusCode::FAILED_PRECONDITION, "VM '" + box.name + "' is " + box.status);
  }
  touch_activity(box.id);
  const std::string home = m_runtime.home_in_root();
  path = absolute_in_box(path, home == "/" ? "/home/boxd" : home);
  if (home == "/") {
    // Process runtime: the root IS the home tree.
    if (path == "/home/boxd") {
      path = "/";
    } else if (path.starts_with("/home/boxd/")) {
      path = path.substr(10);
    }
  }
  if (box_out != nullptr) {
    *box_out = box;
  }
  return m_runtime.open_root(spec_of(box), box.handle);
}

grpc::Status BoxdService::UploadFileStream(grpc::ServerContext* context,
                                           grpc::ServerReader<api::UploadFileChunk>* reader,
                                           api::UploadFileResponse* response) {
  return run_rpc(*this, context, [&](const AuthResult& auth) {
    api::UploadFileChunk chunk;
    if (!reader->Read(&chunk)) {
      rpc_fail(StatusCode::INVALID_ARGUMENT, "empty upload: the first chunk names vm_id and path");
    }
    std::string path = chunk.path();
    BoxRecord box;
    UniqueFd root(open_box_root(auth.user_id, chunk.vm_id(), path, &box));
    const std::uint64_t total = chunk.total_size();
    Upload upload(root.get(), path, box.name, m_runtime.kind() == "namespace");
    root.reset();
    do {
      if (upload.written() + chunk.data().size() > total) {
        rpc_fail(StatusCode::INVALID_ARGUMENT,
                 "upload of '" + path + "' is longer than its total_size " + std::to_string(total));
      }
      upload.write_data(chunk.data());
    } while (reader->Read(&chunk));
    if (context->IsCancelled()) {
      rpc_fail(StatusCode::CANCELLED, "upload cancelled; nothing written");
    }
    if (upload.written() != total) {
      rpc_fail(StatusCode::INVALID_ARGUMENT,
               "upload of '" + path + "' ended after " + std::to_string(upload.written()) + " of " +
                   std::to_string(total) + " bytes; nothing written");
    }
    upload.commit();
    response->set_bytes_written(upload.written());
  });
}

grpc::Status BoxdService::UploadFile(grpc::ServerContext* context,
                                     const api::UploadFileRequest* request,
                                     api::UploadFileResponse* response) {
  return run_rpc(*this, context, [&](const AuthResult& auth) {
    std::string path = request->path();
    BoxRecord box;
    UniqueFd root(open_box_root(auth.user_id, request->vm_id(), path, &box));
    Upload upload(root.get(), path, box.name, m_runtime.kind() == "namespace");
    upload.write_data(request->data());
    upload.commit();
    response->set_bytes_written(upload.written());
  });
}

grpc::Status BoxdService::DownloadFile(grpc::ServerContext* context,
                                       const api::DownloadFileRequest* request,
                                       api::DownloadFileResponse* response) {
  return run_rpc(*this, context, [&](const AuthResult& auth) {
    std::string path = request->path();
    BoxRecord box;
    UniqueFd root(open_box_root(auth.user_id, request->vm_id(), path, &box));
    OpenedFile file;
    open_for_download(root.get(), path, box.name, file);
    if (file.size > k_unary_download_limit) {
      rpc_fail(StatusCode::FAILED_PRECONDITION,
               "'" + path + "' is larger than 8 MiB: use DownloadFileStream");
    }
    response->set_data(read_some(file.fd.get(), static_cast<std::size_t>(file.size), path));
  });
}

grpc::Status BoxdService::DownloadFileStream(grpc::ServerContext* context,
                                             const api::DownloadFileRequest* request,
                                             grpc::ServerWriter<api::DownloadFileChunk>* writer) {
  return run_rpc(*this, context, [&](const AuthResult& auth) {
    std::string path = request->path();
    BoxRecord box;
    UniqueFd root(open_box_root(auth.user_id, request->vm_id(), path, &box));
    OpenedFile file;
    open_for_download(root.get(), path, box.name, file);
    root.reset();
    std::uint64_t sent = 0;
    bool first = true;
    while (first || sent < file.size) {
      const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(k_chunk_bytes, file.size - sent));
      api::DownloadFileChunk chunk;
      if (want > 0) {
        std::string data = read_some(file.fd.get(), want, path);
        if (data.empty()) {
          break;  // the file shrank: the client sees fewer bytes than total_size
        }
        sent += data.size();
        chunk.set_data(std::move(data));
      }
      if (first) {
        chunk.set_total_size(file.size);
        first = false;
      }
      if (!writer->Write(chunk)) {
        rpc_fail(StatusCode::CANCELLED, "download cancelled");
      }
    }
  });
}

grpc::Status BoxdService::ListDir(grpc::ServerContext* context, const api::ListDirRequest* request,
                                  api::ListDirResponse* response) {
  return run_rpc(*this, context, [&](const AuthResult& auth) {
    std::string path = request->path().empty() ? std::string("~") : request->path();
    BoxRecord box;
    UniqueFd root(open_box_root(auth.user_id, request->vm_id(), path, &box));
    UniqueFd dir(open_beneath(root.get(), path, O_RDONLY | O_DIRECTORY));
    if (dir.get() < 0) {
      if (errno == ENOTDIR) {
        rpc_fail(StatusCode::FAILED_PRECONDITION,
                 "'" + path + "' is not a directory in VM '" + box.name + "'");
      }
      fail_open(errno, path, box.name, "directory");
    }
    DIR* stream = fdopendir(dup(dir.get()));
    if (stream == nullptr) {
      fail_open(errno, path, box.name, "directory");
    }
    std::vector<api::DirEntry> entries;
    bool truncated = false;
    while (dirent* entry = readdir(stream)) {
      const std::string name = entry->d_name;
      if (name == "." || name == "..") {
        continue;
      }
      if (static_cast<int>(entries.size()) >= k_list_limit) {
        truncated = true;
        break;
      }
      struct stat st {};
      if (fstatat(dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) {
        continue;  // vanished meanwhile
      }
      api::DirEntry out;
      out.set_name(name);
      out.set_is_dir(S_ISDIR(st.st_mode));
      out.set_size_bytes(static_cast<std::uint64_t>(st.st_size));
      out.set_permissions(permissions_string(st.st_mode));
      out.set_modified_at(st.st_mtim.tv_sec);
      entries.push_back(std::move(out));
    }
    closedir(stream);
    std::sort(entries.begin(), entries.end(),
              [](const api::DirEntry& a, const api::DirEntry& b) { return a.name() < b.name(); });
    for (auto& e : entries) {
      *response->add_entries() = std::move(e);
    }
    response->set_truncated(truncated);
  });
}

grpc::Status BoxdService::StreamLogs(grpc::ServerContext* context,
                                     const api::StreamLogsRequest* request,
                                     grpc::ServerWriter<api::LogChunk>* writer) {
  return run_rpc(*this, context, [&](const AuthResult& auth) {
    const BoxRecord box = require_box(auth.user_id, request->vm_id());
    const std::filesystem::path log_path = spec_of(box).dir / "console.log";
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
        std::string data = read_some(file.get(), 64 * 1024, log_path.string());
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
    auto lock = op_lock(box.id);
    while (!context->IsCancelled()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      if (!drain()) {
        return;
      }
      std::optional<BoxRecord> now;
      try {
        now = require_box(auth.user_id, box.id);
      } catch (const RpcError&) {
        drain();
        return;  // destroyed
      }
      if ((now->status == "stopped" || now->status == "failed") && lock->try_lock()) {
        lock->unlock();
        const auto again = m_store.find_box(auth.user_id, box.id);
        if (again && (again->status == "stopped" || again->status == "failed")) {
          drain();
          return;
        }
      }
    }
  });
}

}  // namespace boxd::local
