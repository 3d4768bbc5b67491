// Atomic file replacement: write a sibling temp file (created with the final
// mode, so a secret is never briefly world-readable), fsync it, rename it over
// the target, then fsync the directory so the rename itself is durable. A
// crash (or kill -9) at any point leaves either the old or the new content.
#include "common/files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/error.hpp"
#include "common/jwt.hpp"

namespace boxd {

void StreamingWriteback::wrote(std::uint64_t bytes) {
  m_written += bytes;
  if (m_written - m_started >= k_step) {
    start();
  }
}

void StreamingWriteback::finish() {
  if (m_written > m_started) {
    start();
  }
}

void StreamingWriteback::start() {
  ::sync_file_range(m_fd, static_cast<off64_t>(m_started),
                    static_cast<off64_t>(m_written - m_started), SYNC_FILE_RANGE_WRITE);
  m_started = m_written;
}

namespace {

[[noreturn]] void fail(const std::string& what, const std::filesystem::path& path) {
  throw Error(ErrorClass::Internal, what + " " + path.string() + ": " + std::strerror(errno));
}

std::filesystem::path dir_of(const std::filesystem::path& path) {
  return path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
}

// The temp sibling of `path`, created with `mode` (and owner) and holding
// `content`; the open fd is returned. Removed again on failure.
UniqueFd write_temp(const std::filesystem::path& path, std::string_view content, unsigned mode,
                    int owner, int group, std::filesystem::path& tmp) {
  tmp = dir_of(path) / ("." + path.filename().string() + ".tmp-" + random_hex(6));
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
  if (!fd.valid()) {
    fail("cannot create", tmp);
  }
  const bool owned = (owner < 0 && group < 0) || ::fchown(fd.get(), owner, group) == 0;
  // umask must not widen or narrow the requested mode (and fchown clears
  // set-id bits, so the mode comes after it)
  if (owned) {
    ::fchmod(fd.get(), mode);
  }
  if (!owned || !write_all(fd.get(), content)) {
    const int saved = errno;
    ::unlink(tmp.c_str());
    errno = saved;
    fail(owned ? "cannot write" : "cannot change the owner of", tmp);
  }
  return fd;
}

void rename_into_place(const std::filesystem::path& tmp, const std::filesystem::path& path) {
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int saved = errno;
    ::unlink(tmp.c_str());
    errno = saved;
    fail("cannot replace", path);
  }
}

void fsync_dir(const std::filesystem::path& dir) {
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

}  // namespace

void remove_file_durably(const std::filesystem::path& path) {
  if (::unlink(path.c_str()) == 0) {
    fsync_dir(dir_of(path));
  }
}

void write_file_atomic(const std::filesystem::path& path, std::string_view content, unsigned mode,
                       Sync sync) {
  std::filesystem::path tmp;
  UniqueFd fd = write_temp(path, content, mode, -1, -1, tmp);
  if ((sync != Sync::None && ::fsync(fd.get()) != 0) || ::close(fd.release()) != 0) {
    ::unlink(tmp.c_str());
    fail("cannot flush", tmp);
  }
  rename_into_place(tmp, path);
  if (sync == Sync::Durable) {
    fsync_dir(dir_of(path));
  }
}

DurableFiles::~DurableFiles() {
  for (const auto& p : m_pending) {
    if (!p.tmp.empty()) {
      ::unlink(p.tmp.c_str());
    }
  }
}

void DurableFiles::keep(const std::filesystem::path& path) {
  Pending p;
  p.target = path;
  p.fd = UniqueFd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!p.fd.valid()) {
    fail("cannot open", path);
  }
  m_pending.push_back(std::move(p));
}

void DurableFiles::add(const std::filesystem::path& path, std::string_view content, unsigned mode,
                       int owner, int group) {
  Pending p;
  p.target = path;
  p.fd = write_temp(path, content, mode, owner, group, p.tmp);
  m_pending.push_back(std::move(p));
}

void DurableFiles::commit_unsynced() {
  for (auto& p : m_pending) {
    if (::close(p.fd.release()) != 0) {
      fail("cannot write", p.tmp.empty() ? p.target : p.tmp);
    }
    if (!p.tmp.empty()) {
      rename_into_place(p.tmp, p.target);
    }
  }
  m_pending.clear();
}

void DurableFiles::commit() {
  for (const auto& p : m_pending) {
    // Only a hint (start writing now): the fsync below is the guarantee.
    ::sync_file_range(p.fd.get(), 0, 0, SYNC_FILE_RANGE_WRITE);
  }
  for (auto& p : m_pending) {
    if (::fsync(p.fd.get()) != 0 || ::close(p.fd.release()) != 0) {
      fail("cannot flush", p.tmp.empty() ? p.target : p.tmp);
    }
  }
  std::vector<std::filesystem::path> dirs;
  for (const auto& p : m_pending) {
    if (!p.tmp.empty()) {
      rename_into_place(p.tmp, p.target);
    }
    const auto dir = dir_of(p.target);
    if (std::find(dirs.begin(), dirs.end(), dir) == dirs.end()) {
      dirs.push_back(dir);
    }
  }
  m_pending.clear();
  for (const auto& dir : dirs) {
    fsync_dir(dir);
  }
}

std::optional<std::string> read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT || !std::filesystem::exists(path)) {
      return std::nullopt;
    }
    fail("cannot read", path);
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void ensure_dir(const std::filesystem::path& dir, unsigned mode) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    throw Error(ErrorClass::Internal,
                "cannot create directory " + dir.string() + ": " + ec.message());
  }
  ::chmod(dir.c_str(), mode);
}

}  // namespace boxd
