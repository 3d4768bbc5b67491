// `boxd box cp SRC DST`: one side is VM:PATH, the other a local path or `-`.
//
// Files stream through the client library in 1 MiB chunks (bounded memory
// both ways) and count as copied only when the byte counts agree. Local
// writes go to a temp file beside the target, renamed at the end, so an
// interrupted or failed download leaves nothing; stdin is spooled to an
// unlinked temp file first, because an upload must announce its size.
// Directories (-r): uploads walk the local tree, create the directories with
// one `mkdir -p` in the box and upload file by file; downloads walk the box
// with ListDir. Modes: there is no mode field on the wire, so after an upload
// the modes that differ from 0644 (files) / 0755 (directories) are set with
// one `chmod` run in the box; downloads apply the permissions ListDir
// reports. Symlinks and special files are skipped with a warning.
#include "boxd/box/cp.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "boxd/box/interrupt.hpp"
#include "boxd/command.hpp"
#include "common/error.hpp"
#include "common/fd.hpp"
#include "common/files.hpp"
#include "common/shell_quote.hpp"
#include "common/sizes.hpp"

namespace boxd::cli {

namespace fs = std::filesystem;

CpEndpoint parse_cp_endpoint(const std::string& text) {
  CpEndpoint e;
  if (text == "-") {
    e.stdio = true;
    return e;
  }
  const auto colon = text.find(':');
  if (colon != std::string::npos && colon > 0 &&
      text.substr(0, colon).find('/') == std::string::npos) {
    e.vm = text.substr(0, colon);
    e.path = text.substr(colon + 1);
    return e;
  }
  e.path = text;
  return e;
}

CLI::App* define_box_cp(CLI::App& parent, CpOptions& options) {
  CLI::App* cmd = parent.add_subcommand("cp", "Copy files between this machine and a box");
  cmd->add_option("SRC", options.source, "VM:PATH, a local path, or - for stdin")->required();
  cmd->add_option("DST", options.destination, "VM:PATH, a local path, or - for stdout")->required();
  cmd->add_flag("-r,--recursive", options.recursive, "Copy directories (modes kept)");
  cmd->footer(
      "Box paths are relative to /home/boxd; ~ is /home/boxd. Exactly one side is VM:PATH.\n"
      "A progress line is shown on stderr when it is a terminal.\n"
      "\n"
      "Examples:\n"
      "  boxd box cp ./app.tar.gz web:app.tar.gz\n"
      "  boxd box cp web:/var/log/syslog ./syslog\n"
      "  boxd box cp -r ./site web:~/site\n"
      "  tar cz . | boxd box cp - web:src.tar.gz\n"
      "  boxd box cp web:report.csv - | head");
  return cmd;
}

void add_box_cp(CLI::App& parent, Context& ctx) {
  add_leaf<CpOptions>(parent, ctx, define_box_cp, run_cp);
}

namespace {

using Fd = UniqueFd;

// A local temp file beside `target`, renamed onto it by commit(), removed otherwise.
class LocalTemp {
 public:
  explicit LocalTemp(const fs::path& target) : m_target(target) {
    fs::path dir = target.parent_path().empty() ? fs::path(".") : target.parent_path();
    std::string pattern = (dir / ("." + target.filename().string() + ".boxd-XXXXXX")).string();
    m_fd = ::mkstemp(pattern.data());
    if (m_fd < 0) {
      if (errno == ENOENT || errno == ENOTDIR) {
        throw Error(ErrorClass::NotFound, "local directory '" + dir.string() + "' does not exist");
      }
      throw Error(ErrorClass::Internal,
                  "cannot write in '" + dir.string() + "': " + std::strerror(errno));
    }
    m_path = pattern;
  }
  ~LocalTemp() {
    if (m_fd >= 0) {
      ::close(m_fd);
    }
    if (!m_path.empty()) {
      ::unlink(m_path.c_str());
    }
  }
  LocalTemp(const LocalTemp&) = delete;
  LocalTemp& operator=(const LocalTemp&) = delete;

  int fd() const { return m_fd; }

  void commit(mode_t mode) {
    ::fchmod(m_fd, mode);
    if (::close(m_fd) < 0) {
      m_fd = -1;
      throw Error(ErrorClass::Internal,
                  "writing '" + m_target.string() + "': " + std::strerror(errno));
    }
    m_fd = -1;
    if (::rename(m_path.c_str(), m_target.c_str()) < 0) {
      throw Error(ErrorClass::Internal,
                  "cannot create '" + m_target.string() + "': " + std::strerror(errno));
    }
    m_path.clear();
  }

 private:
  fs::path m_target;
  std::string m_path;
  int m_fd = -1;
};

// common/fd.hpp's write_all; a failure is an Error naming what was written.
void write_or_throw(int fd, std::string_view data, const std::string& what) {
  if (!boxd::write_all(fd, data)) {
    throw Error(ErrorClass::Internal, "writing " + what + ": " + std::strerror(errno));
  }
}

client::ReadFn fd_reader(int fd, const std::string& what) {
  return [fd, what](char* buffer, std::size_t size) -> std::size_t {
    while (true) {
      ssize_t n = ::read(fd, buffer, size);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n < 0) {
        throw Error(ErrorClass::Internal, "reading " + what + ": " + std::strerror(errno));
      }
      return static_cast<std::size_t>(n);
    }
  };
}

// "~" and "~/x" as /home/boxd; "" as the home.
std::string box_path(const std::string& path) {
  if (path.empty() || path == "~") {
    return "/home/boxd";
  }
  if (path.starts_with("~/")) {
    return "/home/boxd" + path.substr(1);
  }
  return path;
}

std::string join_box(const std::string& dir, const std::string& name) {
  return dir.ends_with('/') ? dir + name : dir + "/" + name;
}

std::string base_name(std::string path) {
  while (path.size() > 1 && path.ends_with('/')) {
    path.pop_back();
  }
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

bool is_box_dir(Context& ctx, const std::string& vm, const std::string& path) {
  try {
    ctx.client().list_dir(vm, path);
    return true;
  } catch (const Error& e) {
    if (e.error_class() == ErrorClass::NotFound || e.error_class() == ErrorClass::InvalidArgument) {
      return false;
    }
    throw;
  }
}

mode_t mode_from_permissions(const std::string& p) {
  mode_t mode = 0;
  for (std::size_t i = 0; i < 9 && i + 1 < p.size(); ++i) {
    const char c = p[i + 1];
    if (c != '-' && c != 'S' && c != 'T') {
      mode |= 0400U >> i;
    }
  }
  if (p.size() >= 10) {
    if (p[3] == 's' || p[3] == 'S') {
      mode |= S_ISUID;
    }
    if (p[6] == 's' || p[6] == 'S') {
      mode |= S_ISGID;
    }
    if (p[9] == 't' || p[9] == 'T') {
      mode |= S_ISVTX;
    }
  }
  return mode;
}

mode_t current_umask() {
  const mode_t mask = ::umask(022);
  ::umask(mask);
  return mask;
}

// Runs one shell command in the box as boxd; throws when it fails.
void run_in_box(Context& ctx, const std::string& vm, const std::string& command) {
  client::ExecRequest request;
  request.vm = vm;
  request.command = command;
  auto session = ctx.client().exec(request);
  session->close_stdin();
  api::v1::ExecChunk chunk;
  std::string errors;
  int exit_code = 0;
  while (session->read(chunk)) {
    if (chunk.is_stderr() && errors.size() < 4096) {
      errors += chunk.data();
    }
    if (chunk.exit_code() != 0) {
      exit_code = chunk.exit_code();
    }
  }
  session->finish();
  if (exit_code != 0) {
    while (!errors.empty() && errors.back() == '\n') {
      errors.pop_back();
    }
    throw Error(ErrorClass::Internal,
                "in the box, '" + command.substr(0, 60) + "' failed: " + errors);
  }
}

// Runs `prefix ARG...` in batches so no command line gets huge.
void run_batched(Context& ctx, const std::string& vm, const std::vector<std::string>& commands) {
  std::string script;
  for (const auto& c : commands) {
    script += c + " && ";
    if (script.size() > 64 * 1024) {
      run_in_box(ctx, vm, script + "true");
      script.clear();
    }
  }
  if (!script.empty()) {
    run_in_box(ctx, vm, script + "true");
  }
}

class Progress {
 public:
  Progress(Context& ctx, bool enabled) : m_ctx(ctx), m_enabled(enabled) {}

  client::ProgressFn for_file(const std::string& name) {
    if (!m_enabled) {
      return {};
    }
    return [this, name](std::uint64_t done, std::uint64_t total) {
      const auto now = std::chrono::steady_clock::now();
      if (done != total && now - m_last < std::chrono::milliseconds(100)) {
        return;
      }
      m_last = now;
      const int percent = total == 0 ? 100 : static_cast<int>(done * 100 / total);
      m_ctx.err << "\r\x1b[K" << name << "  " << format_size(done) << " / " << format_size(total)
                << "  " << percent << "%" << std::flush;
      m_shown = true;
    };
  }

  void end_line() {
    if (m_shown) {
      m_ctx.err << "\n" << std::flush;
      m_shown = false;
    }
  }

 private:
  Context& m_ctx;
  bool m_enabled;
  bool m_shown = false;
  std::chrono::steady_clock::time_point m_last{};
};

struct Copier {
  Context& ctx;
  const CpOptions& options;
  client::CallCancel cancel;
  Progress progress;
  std::uint64_t bytes = 0;
  int files = 0;

  Copier(Context& c, const CpOptions& o)
      : ctx(c), options(o), progress(c, c.stderr_tty && !o.quiet) {}

  void upload_fd(int fd, std::uint64_t size, const std::string& vm, const std::string& path,
                 const std::string& label) {
    ctx.client().upload_file(vm, path, size, fd_reader(fd, label), progress.for_file(label),
                             &cancel);
    progress.end_line();
    bytes += size;
    ++files;
  }

  void download_to(const std::string& vm, const std::string& path, const fs::path& target,
                   mode_t mode) {
    LocalTemp temp(target);
    const int fd = temp.fd();
    const std::string label = target.string();
    StreamingWriteback writeback(fd);  // common/files.hpp: no writeback storm at the rename
    try {
      bytes += ctx.client().download_file(
          vm, path,
          [fd, &label, &writeback](std::string_view data) {
            write_or_throw(fd, data, label);
            writeback.wrote(data.size());
          },
          progress.for_file(base_name(path)), &cancel);
    } catch (const Error& e) {
      progress.end_line();
      if (e.error_class() == ErrorClass::InvalidArgument &&
          std::string(e.what()).find("is a directory") != std::string::npos && !options.recursive) {
        throw Error(e.error_class(), e.what(), "use -r to copy a directory");
      }
      throw;
    }
    progress.end_line();
    writeback.finish();
    temp.commit(mode);
    ++files;
  }

  // ---- local -> box ----
  int upload(const CpEndpoint& src, const CpEndpoint& dst) {
    std::string target = box_path(dst.path);
    if (src.stdio) {
      if (dst.path.empty() || dst.path.ends_with('/') || is_box_dir(ctx, dst.vm, target)) {
        throw Error(ErrorClass::Usage, "copying stdin needs a file name: VM:PATH/NAME");
      }
      const char* tmpdir = std::getenv("TMPDIR");
      Fd spool(::open(tmpdir != nullptr && tmpdir[0] != '\0' ? tmpdir : "/tmp",
                      O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
      if (spool.get() < 0) {
        throw Error(ErrorClass::Internal,
                    std::string("cannot spool stdin: ") + std::strerror(errno));
      }
      std::vector<char> buffer(1 << 20);
      std::uint64_t size = 0;
      while (true) {
        ssize_t n = ::read(ctx.in_fd, buffer.data(), buffer.size());
        if (n < 0 && errno == EINTR) {
          continue;
        }
        if (n < 0) {
          throw Error(ErrorClass::Internal, std::string("reading stdin: ") + std::strerror(errno));
        }
        if (n == 0) {
          break;
        }
        write_or_throw(spool.get(), std::string_view(buffer.data(), static_cast<std::size_t>(n)),
                       "the spool file");
        size += static_cast<std::uint64_t>(n);
      }
      ::lseek(spool.get(), 0, SEEK_SET);
      upload_fd(spool.get(), size, dst.vm, target, "stdin");
      return 0;
    }
    struct stat st {};
    if (::stat(src.path.c_str(), &st) < 0) {
      if (errno == ENOENT || errno == ENOTDIR) {
        throw Error(ErrorClass::NotFound, "local file '" + src.path + "' not found");
      }
      throw Error(ErrorClass::Internal, "'" + src.path + "': " + std::strerror(errno));
    }
    const bool into_dir =
        dst.path.empty() || dst.path.ends_with('/') || is_box_dir(ctx, dst.vm, target);
    if (S_ISDIR(st.st_mode)) {
      if (!options.recursive) {
        throw Error(ErrorClass::Usage, "'" + src.path + "' is a directory",
                    "use -r to copy a directory");
      }
      if (into_dir) {
        target = join_box(target, base_name(src.path));
      }
      upload_tree(src.path, dst.vm, target);
      return 0;
    }
    if (!S_ISREG(st.st_mode)) {
      throw Error(ErrorClass::Usage, "'" + src.path + "' is not a regular file");
    }
    if (into_dir) {
      target = join_box(target, base_name(src.path));
    }
    Fd fd(::open(src.path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) {
      throw Error(ErrorClass::Internal, "cannot read '" + src.path + "': " + std::strerror(errno));
    }
    upload_fd(fd.get(), static_cast<std::uint64_t>(st.st_size), dst.vm, target, src.path);
    if ((st.st_mode & 07777) != 0644) {
      run_in_box(ctx, dst.vm,
                 "chmod " + to_octal(st.st_mode & 07777) + " -- " + shell_quote(target));
    }
    return 0;
  }

  static std::string to_octal(mode_t mode) {
    char text[8];
    std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode));
    return text;
  }

  void upload_tree(const fs::path& root, const std::string& vm, const std::string& target) {
    std::vector<std::string> dirs = {target};
    std::vector<std::pair<fs::path, std::string>> files_to_copy;
    std::vector<std::string> chmods;
    struct stat root_st {};
    ::stat(root.c_str(), &root_st);
    if ((root_st.st_mode & 07777) != 0755) {
      chmods.push_back("chmod " + to_octal(root_st.st_mode & 07777) + " -- " + shell_quote(target));
    }
    for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator();
         ++it) {
      const auto rel = fs::relative(it->path(), root).generic_string();
      const std::string remote = join_box(target, rel);
      struct stat st {};
      if (::lstat(it->path().c_str(), &st) < 0) {
        continue;
      }
      const mode_t mode = st.st_mode & 07777;
      if (S_ISDIR(st.st_mode)) {
        dirs.push_back(remote);
        if (mode != 0755) {
          chmods.push_back("chmod " + to_octal(mode) + " -- " + shell_quote(remote));
        }
      } else if (S_ISREG(st.st_mode)) {
        files_to_copy.emplace_back(it->path(), remote);
        if (mode != 0644) {
          chmods.push_back("chmod " + to_octal(mode) + " -- " + shell_quote(remote));
        }
      } else {
        ctx.warn("skipping '" + it->path().string() + "': not a regular file or directory");
      }
    }
    std::vector<std::string> mkdirs;
    for (const auto& d : dirs) {
      mkdirs.push_back("mkdir -p -- " + shell_quote(d));
    }
    run_batched(ctx, vm, mkdirs);
    for (const auto& [local, remote] : files_to_copy) {
      Fd fd(::open(local.c_str(), O_RDONLY | O_CLOEXEC));
      struct stat st {};
      if (fd.get() < 0 || ::fstat(fd.get(), &st) < 0) {
        throw Error(ErrorClass::Internal,
                    "cannot read '" + local.string() + "': " + std::strerror(errno));
      }
      upload_fd(fd.get(), static_cast<std::uint64_t>(st.st_size), vm, remote, local.string());
    }
    // Deepest first, so a read-only directory is restricted only after its content.
    std::reverse(chmods.begin(), chmods.end());
    run_batched(ctx, vm, chmods);
  }

  // ---- box -> local ----
  int download(const CpEndpoint& src, const CpEndpoint& dst) {
    const std::string source = box_path(src.path);
    if (dst.stdio) {
      bytes += ctx.client().download_file(
          src.vm, source,
          [fd = ctx.out_fd](std::string_view data) { write_or_throw(fd, data, "stdout"); }, {},
          &cancel);
      return 0;
    }
    std::optional<api::v1::ListDirResponse> listing;
    if (options.recursive) {
      try {
        listing = ctx.client().list_dir(src.vm, source);
      } catch (const Error& e) {
        if (e.error_class() != ErrorClass::InvalidArgument) {
          throw;
        }
      }
    }
    fs::path target = dst.path;
    std::error_code ec;
    const bool into_dir = dst.path.ends_with('/') || fs::is_directory(target, ec);
    if (into_dir) {
      target /= base_name(source);
    }
    if (listing) {
      download_tree(src.vm, source, *listing, target);
      return 0;
    }
    download_to(src.vm, source, target, 0666 & ~current_umask());
    return 0;
  }

  void download_tree(const std::string& vm, const std::string& source,
                     const api::v1::ListDirResponse& listing, const fs::path& target) {
    if (listing.truncated()) {
      throw Error(ErrorClass::Internal, "'" + source + "' has too many entries to copy");
    }
    std::error_code ec;
    fs::create_directory(target, ec);
    if (ec && !fs::is_directory(target)) {
      throw Error(
          ec == std::errc::no_such_file_or_directory ? ErrorClass::NotFound : ErrorClass::Internal,
          "cannot create '" + target.string() + "': " + ec.message());
    }
    for (const auto& entry : listing.entries()) {
      const std::string remote = join_box(source, entry.name());
      const fs::path local = target / entry.name();
      const std::string& perms = entry.permissions();
      if (entry.is_dir()) {
        download_tree(vm, remote, ctx.client().list_dir(vm, remote), local);
        ::chmod(local.c_str(), mode_from_permissions(perms));
      } else if (!perms.empty() && perms[0] == '-') {
        download_to(vm, remote, local, mode_from_permissions(perms));
      } else {
        ctx.warn("skipping '" + remote + "': not a regular file or directory");
      }
    }
  }
};

}  // namespace

int run_cp(const CpOptions& options, Context& ctx) {
  const CpEndpoint src = parse_cp_endpoint(options.source);
  const CpEndpoint dst = parse_cp_endpoint(options.destination);
  if (src.vm.empty() == dst.vm.empty()) {
    throw Error(ErrorClass::Usage, "exactly one of SRC and DST must be VM:PATH",
                "boxd box cp ./file VM:path  or  boxd box cp VM:path ./file");
  }
  Copier copier(ctx, options);
  InterruptWatch watch(copier.cancel);
  const auto started = std::chrono::steady_clock::now();
  const int code = src.vm.empty() ? copier.upload(src, dst) : copier.download(src, dst);
  if (options.json) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - started)
                        .count();
    ctx.out << nlohmann::json{{"files", copier.files}, {"bytes", copier.bytes}, {"duration_ms", ms}}
                   .dump()
            << "\n";
  }
  return code;
}

}  // namespace boxd::cli
