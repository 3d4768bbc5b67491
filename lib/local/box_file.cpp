// The box file helper's side (`boxd local __box-file OP ROOT PATH`); the
// protocol is described in box_file.hpp. This process runs inside the box as
// the box's user: it trusts nothing but its own checks, and a failure is one
// 'E' frame (reason, errno) and exit status 1.
#include "local/box_file.hpp"

#include "common/files.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "common/jwt.hpp"
#include "local/box_mounts.hpp"

namespace boxd::local {

namespace {

using namespace box_file;

void send_frame(char type, std::string_view payload) {
  std::string header(1, type);
  put_u32(header, static_cast<std::uint32_t>(payload.size()));
  if (!write_all(1, header.data(), header.size()) ||
      !write_all(1, payload.data(), payload.size())) {
    _exit(1);  // the server is gone
  }
}

[[noreturn]] void fail(Reason reason, int error) {
  send_frame('E', encode_failure(reason, error));
  _exit(1);
}

int open_root(const char* root) {
  int fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    fail(Reason::OpenParent, errno);
  }
  return fd;
}

std::string parent_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos || slash == 0 ? std::string("/") : path.substr(0, slash);
}

std::string name_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Removes `.boxd-upload-<pid>-*` files of `dir` whose helper is gone.
void remove_stale_temps(int dir) {
  int fd = openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR* stream = fd >= 0 ? fdopendir(fd) : nullptr;
  if (stream == nullptr) {
    if (fd >= 0) {
      close(fd);
    }
    return;
  }
  const std::string prefix = k_temp_prefix;
  while (dirent* entry = readdir(stream)) {
    const std::string name = entry->d_name;
    if (!name.starts_with(prefix)) {
      continue;
    }
    char* end = nullptr;
    const long pid = std::strtol(name.c_str() + prefix.size(), &end, 10);
    if (end == nullptr || *end != '-' || pid <= 0 || pid == getpid()) {
      continue;
    }
    if (kill(static_cast<pid_t>(pid), 0) < 0 && errno == ESRCH) {
      unlinkat(dir, name.c_str(), 0);
    }
  }
  closedir(stream);
}

// Refuses a target the box's user could not replace: a directory, a special
// file, or an existing file it may not write.
mode_t check_target(int dir, const std::string& name) {
  struct stat st {};
  if (fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) {
    if (errno != ENOENT) {
      fail(Reason::Open, errno);
    }
    return 0644;
  }
  if (S_ISDIR(st.st_mode)) {
    fail(Reason::IsDirectory, EISDIR);
  }
  if (S_ISLNK(st.st_mode)) {
    return 0644;  // the link itself is replaced, never what it points to
  }
  if (!S_ISREG(st.st_mode)) {
    fail(Reason::NotRegular, EINVAL);
  }
  int fd = openat(dir, name.c_str(), O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) {
    fail(Reason::Open, errno);
  }
  close(fd);
  return st.st_mode & 0777;
}

// A name of this helper's in the target's directory: `.boxd-upload-<pid>-<hex>`
// (remove_stale_temps removes those of dead helpers).
std::string temp_name() {
  return std::string(k_temp_prefix) + std::to_string(getpid()) + "-" + random_hex(6);
}

struct Temp {
  int dir = -1;
  int fd = -1;
  std::string name;
  std::string replaced;  // a second link to the file being replaced (keep_replaced)
  void remove() {
    for (std::string* n : {&name, &replaced}) {
      if (!n->empty()) {
        unlinkat(dir, n->c_str(), 0);
        n->clear();
      }
    }
  }
};

Temp g_temp;

// Files below this are removed within the rename, as before.
constexpr off_t k_keep_replaced_bytes = 1 << 20;

// Deleting the file an upload replaces frees its blocks and page cache
// (0.2 s for 1 GiB here), inside the rename. A second link, under a temp
// name of this helper's, keeps the old file alive through the rename; it is
// removed after the answer ('O'), so the client does not wait for it (the
// server waits for this process on a thread of its own). Best effort: where
// the link is refused (protected_hardlinks on a file of another user) the
// rename deletes as before. Only for a file of this user (in a sticky
// directory another owner's link could be made but not removed) on the
// directory's own file system (on an overlay, a link to a lower file would
// copy it up first). A helper killed in between leaves the link, removed by
// the next upload into the directory (remove_stale_temps).
void keep_replaced(const std::string& name) {
  struct stat st {};
  struct stat dir {};
  if (fstatat(g_temp.dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode) ||
      st.st_nlink != 1 || st.st_size < k_keep_replaced_bytes || st.st_uid != geteuid() ||
      fstat(g_temp.dir, &dir) < 0 || dir.st_dev != st.st_dev) {
    return;
  }
  std::string link = temp_name();
  if (linkat(g_temp.dir, name.c_str(), g_temp.dir, link.c_str(), 0) == 0) {
    g_temp.replaced = std::move(link);
  }
}

[[noreturn]] void abort_upload(Reason reason, int error) {
  g_temp.remove();
  if (reason == Reason::Protocol && error == 0) {
    _exit(1);  // EOF: the server gave up, nobody to tell
  }
  fail(reason, error);
}

void write_chunk(const std::string& data) {
  std::size_t offset = 0;
  while (offset < data.size()) {
    ssize_t n = ::write(g_temp.fd, data.data() + offset, data.size() - offset);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      abort_upload(Reason::Write, n < 0 ? errno : EIO);
    }
    offset += static_cast<std::size_t>(n);
  }
}

// Moves `size` bytes of a 'D' frame from stdin (a pipe) into the temp file
// without copying them through this process (splice), or by read/write
// where the file system cannot splice. False on EOF.
bool receive_data(std::uint64_t size, std::string& buffer) {
  while (size > 0) {
    ssize_t n = splice(0, nullptr, g_temp.fd, nullptr, size, SPLICE_F_MOVE);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0 && errno == EINVAL) {
      buffer.resize(size);
      if (!read_all(0, buffer.data(), size)) {
        return false;
      }
      write_chunk(buffer);
      return true;
    }
    if (n < 0 && (errno == ENOSPC || errno == EDQUOT || errno == EFBIG || errno == EIO)) {
      abort_upload(Reason::Write, errno);
    }
    if (n <= 0) {
      return false;
    }
    size -= static_cast<std::uint64_t>(n);
  }
  return true;
}

int upload(const char* root, const std::string& path) {
  int root_fd = open_root(root);
  g_temp.dir = open_beneath(root_fd, parent_of(path), O_PATH | O_DIRECTORY);
  if (g_temp.dir < 0) {
    fail(Reason::OpenParent, errno);
  }
  const std::string name = name_of(path);
  const mode_t mode = check_target(g_temp.dir, name);
  remove_stale_temps(g_temp.dir);
  g_temp.name = temp_name();
  g_temp.fd = openat(g_temp.dir, g_temp.name.c_str(),
                     O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (g_temp.fd < 0) {
    const int error = errno;
    g_temp.name.clear();
    fail(Reason::Open, error);
  }
  send_frame('R', {});
  std::uint64_t written = 0;
  StreamingWriteback writeback(g_temp.fd);  // common/files.hpp: no writeback storm at the rename
  char type = 0;
  std::string payload;
  char header[5];
  while (read_all(0, header, sizeof header)) {
    type = header[0];
    const std::uint32_t size = *get_u32(std::string_view(header, sizeof header), 1);
    if (size > k_max_frame_payload) {
      abort_upload(Reason::Protocol, EPROTO);
    }
    if (type == 'D') {
      if (!receive_data(size, payload)) {
        break;
      }
      written += size;
      writeback.wrote(size);
      continue;
    }
    payload.resize(size);
    if (!read_all(0, payload.data(), size)) {
      break;
    }
    if (type != 'C' || payload.size() != 8) {
      abort_upload(Reason::Protocol, EPROTO);
    }
    if (*get_u64(payload, 0) != written) {
      abort_upload(Reason::Count, EPROTO);
    }
    writeback.finish();
    if (fchmod(g_temp.fd, mode) < 0 || close(g_temp.fd) < 0) {
      abort_upload(Reason::Write, errno);
    }
    keep_replaced(name);
    if (renameat(g_temp.dir, g_temp.name.c_str(), g_temp.dir, name.c_str()) < 0) {
      abort_upload(Reason::Commit, errno);
    }
    g_temp.name.clear();
    std::string done;
    put_u64(done, written);
    send_frame('O', done);
    g_temp.remove();  // the replaced file, if kept: after the answer
    return 0;
  }
  abort_upload(Reason::Protocol, 0);
}

int download(const char* root, const std::string& path) {
  int fd = open_beneath(open_root(root), path, O_RDONLY | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) {
    fail(Reason::Open, errno);
  }
  struct stat st {};
  if (fstat(fd, &st) < 0) {
    fail(Reason::Open, errno);
  }
  if (S_ISDIR(st.st_mode)) {
    fail(Reason::IsDirectory, EISDIR);
  }
  if (!S_ISREG(st.st_mode)) {
    fail(Reason::NotRegular, EINVAL);
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  const auto size = static_cast<std::uint64_t>(st.st_size);
  std::string header;
  put_u64(header, size);
  send_frame('S', header);
  std::string buffer(k_chunk_bytes, '\0');
  std::uint64_t sent = 0;
  while (sent < size) {
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(k_chunk_bytes, size - sent));
    ssize_t n = ::read(fd, buffer.data(), want);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      fail(Reason::Read, errno);
    }
    if (n == 0) {
      break;  // the file shrank: the server sees fewer bytes than the size
    }
    send_frame('D', std::string_view(buffer.data(), static_cast<std::size_t>(n)));
    sent += static_cast<std::uint64_t>(n);
  }
  send_frame('O', {});
  return 0;
}

int list(const char* root, const std::string& path) {
  int fd = open_beneath(open_root(root), path, O_RDONLY | O_DIRECTORY);
  if (fd < 0) {
    fail(Reason::Open, errno);
  }
  DIR* stream = fdopendir(dup(fd));
  if (stream == nullptr) {
    fail(Reason::Open, errno);
  }
  int count = 0;
  bool truncated = false;
  while (dirent* entry = readdir(stream)) {
    const std::string_view name = entry->d_name;
    if (name == "." || name == "..") {
      continue;
    }
    if (count >= k_list_limit) {
      truncated = true;
      break;
    }
    struct stat st {};
    if (fstatat(fd, entry->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
      continue;  // vanished meanwhile
    }
    send_frame('N', encode_entry({st.st_mode, static_cast<std::uint64_t>(st.st_size),
                                  st.st_mtim.tv_sec, std::string(name)}));
    ++count;
  }
  closedir(stream);
  send_frame('O', std::string(1, truncated ? '\1' : '\0'));
  return 0;
}

int make_dirs(const char* root, const std::string& path) {
  int root_fd = open_root(root);
  std::string prefix;
  std::size_t start = 1;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string::npos) {
      end = path.size();
    }
    prefix = path.substr(0, end);
    start = end + 1;
    int fd = open_beneath(root_fd, prefix, O_PATH | O_DIRECTORY);
    if (fd >= 0) {
      close(fd);
      continue;
    }
    int parent = open_beneath(root_fd, parent_of(prefix), O_PATH | O_DIRECTORY);
    if (parent < 0 || (mkdirat(parent, name_of(prefix).c_str(), 0755) < 0 && errno != EEXIST)) {
      fail(Reason::Open, errno);
    }
    close(parent);
  }
  send_frame('O', {});
  return 0;
}

}  // namespace

int box_file_main(int argc, char** argv) {
  // argv: boxd local __box-file OP ROOT PATH
  std::signal(SIGPIPE, SIG_IGN);
  if (argc != 6 || argv[5][0] != '/') {
    fail(Reason::Protocol, EINVAL);
  }
  const std::string op = argv[3];
  const char* root = argv[4];
  const std::string path = argv[5];
  if (op == "upload") {
    return upload(root, path);
  }
  if (op == "download") {
    return download(root, path);
  }
  if (op == "list") {
    return list(root, path);
  }
  if (op == "mkdir") {
    return make_dirs(root, path);
  }
  fail(Reason::Protocol, EINVAL);
}

}  // namespace boxd::local
