#include "local/files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <thread>

#include "common/unique_fd.hpp"
#include "local/box_path.hpp"
#include "local/fault.hpp"

namespace boxd::local {

namespace {

constexpr std::uint64_t k_unary_download_limit = 8 * 1024 * 1024;
constexpr int k_box_uid = 1000;

std::string parent_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == 0 || slash == std::string::npos ? std::string("/") : path.substr(0, slash);
}

[[noreturn]] void fail_errno(int error, box_file::Reason reason, const std::string& path,
                             const std::string& vm) {
  const std::string in_vm = " in VM '" + vm + "'";
  switch (error) {
    case ENOENT:
    case ENOTDIR:
      if (reason == box_file::Reason::OpenParent) {
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
  const box_file::Reason reason = failure->reason;
  const int error = failure->error;
  switch (reason) {
    case box_file::Reason::IsDirectory:
      fail(Fault::FailedPrecondition, "'" + path + "' is a directory in VM '" + vm + "'");
    case box_file::Reason::NotRegular:
      fail(Fault::FailedPrecondition, "'" + path + "' is not a regular file in VM '" + vm +
                                          "' (devices, FIFOs and sockets are refused)");
    case box_file::Reason::Count:
      fail(Fault::InvalidArgument, "upload of '" + path + "' ended short; nothing written");
    case box_file::Reason::Protocol:
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

  // One chunk, in 'D' frames of up to k_chunk_bytes, each written with its
  // header in one writev straight from the pieces.
  void add(const ChunkPieces& data) {
    std::size_t size = 0;
    for (const auto piece : data) {
      size += piece.size();
    }
    if (m_written + size > m_total) {
      fail(Fault::InvalidArgument,
           "upload of '" + m_path + "' is longer than its total_size " + std::to_string(m_total));
    }
    std::size_t in_frame = 0;
    auto flush = [&] {
      if (!m_helper->send('D', m_frame)) {
        fail_after_send(*m_helper, m_path, m_vm);
      }
      m_frame.clear();
      in_frame = 0;
    };
    for (auto piece : data) {
      while (!piece.empty()) {
        const auto part = piece.substr(0, box_file::k_chunk_bytes - in_frame);
        m_frame.push_back(part);
        in_frame += part.size();
        piece.remove_prefix(part.size());
        if (in_frame == box_file::k_chunk_bytes) {
          flush();
        }
      }
    }
    if (in_frame > 0) {
      flush();
    }
    m_written += size;
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
    m_helper->release();  // it removes the replaced file after its answer
    return m_written;
  }

 private:
  std::unique_ptr<BoxFileChannel> m_helper;
  std::string m_path;
  std::string m_vm;
  std::uint64_t m_total;
  ChunkPieces m_frame;  // the frame being built (kept for its capacity)
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

// A DirEntryInfo from the helper's 'N' frame; false when it is malformed.
bool parse_entry(const std::string& payload, DirEntryInfo& out) {
  auto entry = box_file::parse_entry(payload);
  if (!entry) {
    return false;
  }
  const auto mode = static_cast<mode_t>(entry->mode);
  out.name = std::move(entry->name);
  out.is_dir = S_ISDIR(mode);
  out.size_bytes = entry->size;
  out.permissions = permissions_string(mode);
  out.modified_at = entry->mtime;
  return true;
}

// Whether a box in this status has nothing more to log.
bool is_down(BoxStatus status) {
  return status == BoxStatus::Stopped || status == BoxStatus::Failed;
}

}  // namespace

std::string permissions_string(unsigned mode) {
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

Files::Files(Store& store, Boxes& boxes) : m_store(store), m_boxes(boxes) {}

std::unique_ptr<BoxFileChannel> Files::start_helper(const std::string& user, FileRef& file,
                                                    const std::string& op, BoxRecord& box,
                                                    const CancelledFn& cancelled) {
  box = m_boxes.require_running(user, file.vm);
  file.path = absolute_in_box(file.path);
  Runtime& runtime = m_boxes.runtime();
  const std::string helper_path = runtime.helper_path(file.path);
  if (op == "upload" && helper_path == "/") {
    fail(Fault::FailedPrecondition, "'" + file.path + "' is a directory in VM '" + box.name + "'");
  }
  const BoxSpec spec = m_boxes.spec_of(box);
  auto process = runtime.run_self(
      spec, box.handle, {"local", "__box-file", op, runtime.files_root(spec), helper_path},
      k_box_uid);
  return std::make_unique<BoxFileChannel>(std::move(process), cancelled);
}

std::uint64_t Files::upload(const std::string& user, const FileRef& file, std::uint64_t total_size,
                            const NextChunkFn& next_chunk, const CancelledFn& cancelled) {
  FileRef target = file;
  BoxRecord box;
  auto helper = start_helper(user, target, "upload", box, cancelled);
  Upload upload(std::move(helper), target.path, box.name, total_size);
  ChunkPieces data;
  while (next_chunk(data)) {
    upload.add(data);
  }
  if (cancelled && cancelled()) {
    fail(Fault::Cancelled, "upload cancelled; nothing written");
  }
  return upload.commit();
}

std::string Files::download(const std::string& user, const FileRef& file,
                            const CancelledFn& cancelled) {
  FileRef target = file;
  BoxRecord box;
  auto helper = start_helper(user, target, "download", box, cancelled);
  std::string data;
  receive_download(
      *helper, target.path, box.name, k_unary_download_limit, [](std::uint64_t) {},
      [&](const std::string& part) { data += part; });
  return data;
}

void Files::download_stream(const std::string& user, const FileRef& file, const EmitSizedFn& emit,
                            const CancelledFn& cancelled) {
  FileRef target = file;
  BoxRecord box;
  auto helper = start_helper(user, target, "download", box, cancelled);
  std::uint64_t total = 0;
  bool emitted = false;
  auto send = [&](std::string& data) {
    emitted = true;
    if (!emit(data, total)) {
      fail(Fault::Cancelled, "download cancelled");
    }
  };
  receive_download(
      *helper, target.path, box.name, UINT64_MAX, [&](std::uint64_t size) { total = size; },
      [&](std::string part) { send(part); });
  if (!emitted) {
    std::string none;  // an empty file (or one that shrank to nothing)
    send(none);
  }
}

DirListing Files::list(const std::string& user, const FileRef& dir, const CancelledFn& cancelled) {
  FileRef target{dir.vm, dir.path.empty() ? std::string("~") : dir.path};
  BoxRecord box;
  auto helper = start_helper(user, target, "list", box, cancelled);
  DirListing listing;
  while (true) {
    auto frame = helper->receive(box_file::k_max_entry_payload);
    if (frame.type == 'O' && frame.payload.size() == 1) {
      listing.truncated = frame.payload[0] != 0;
      break;
    }
    DirEntryInfo entry;
    if (frame.type != 'N' || static_cast<int>(listing.entries.size()) >= box_file::k_list_limit ||
        !parse_entry(frame.payload, entry)) {
      const auto failure = box_file::parse_failure(frame.payload);
      if (frame.type == 'E' && failure && failure->reason == box_file::Reason::Open &&
          failure->error == ENOTDIR) {
        fail(Fault::FailedPrecondition,
             "'" + target.path + "' is not a directory in VM '" + box.name + "'");
      }
      fail_from(frame, target.path, box.name);
    }
    listing.entries.push_back(std::move(entry));
  }
  std::sort(listing.entries.begin(), listing.entries.end(),
            [](const DirEntryInfo& a, const DirEntryInfo& b) { return a.name < b.name; });
  return listing;
}

void Files::stream_logs(const std::string& user, const std::string& vm, bool follow,
                        const EmitFn& emit, const CancelledFn& cancelled) {
  const BoxRecord box = m_boxes.require(user, vm);
  const std::filesystem::path log_path = m_boxes.spec_of(box).dir / "console.log";
  UniqueFd file(open(log_path.c_str(), O_RDONLY | O_CLOEXEC));
  // Hands on everything readable now; false when the client went away.
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
      if (!emit(data)) {
        return false;
      }
    }
  };
  if (!drain() || !follow) {
    return;
  }
  auto lock = m_boxes.op_lock(box.id);
  while (!(cancelled && cancelled())) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    if (!drain()) {
      return;
    }
    std::optional<BoxRecord> now;
    try {
      now = m_boxes.require(user, box.id);
    } catch (const FaultError&) {
      drain();
      return;  // destroyed
    }
    if (is_down(now->status) && lock->try_lock()) {
      lock->unlock();
      const auto again = m_store.find_box(user, box.id);
      if (again && is_down(again->status)) {
        drain();
        return;
      }
    }
  }
}

}  // namespace boxd::local
