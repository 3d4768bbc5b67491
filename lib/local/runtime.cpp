// make_runtime() and the small helpers both runtimes share.
#include "local/runtime.hpp"

#include "common/error.hpp"
#include "common/fd.hpp"
#include "local/runtime_support.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <poll.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace boxd::local {

void throw_errno(const std::string& what) {
  throw Error(ErrorClass::Internal, what + ": " + std::strerror(errno));
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  pointers.reserve(strings.size() + 1);
  for (auto& s : strings) {
    pointers.push_back(s.data());
  }
  pointers.push_back(nullptr);
  return pointers;
}

// /proc/mounts escapes space, tab, newline and backslash as \ooo.
std::string unescape_mount_path(const std::string& text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 3 < text.size()) {
      const std::string octal = text.substr(i + 1, 3);
      if (std::all_of(octal.begin(), octal.end(), [](char c) { return c >= '0' && c <= '7'; })) {
        out.push_back(static_cast<char>(std::stoi(octal, nullptr, 8)));
        i += 3;
        continue;
      }
    }
    out.push_back(text[i]);
  }
  return out;
}

std::vector<MountInfoLine> read_mountinfo(const std::string& path) {
  std::vector<MountInfoLine> lines;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string parent;
    MountInfoLine m;
    if (fields >> m.id >> parent >> m.device >> m.root >> m.point) {
      m.root = unescape_mount_path(m.root);
      m.point = unescape_mount_path(m.point);
      lines.push_back(std::move(m));
    }
  }
  return lines;
}

bool path_under(const std::string& path, const std::string& dir) {
  if (dir == "/") {
    return !path.empty() && path[0] == '/';
  }
  return path.size() >= dir.size() && path.compare(0, dir.size(), dir) == 0 &&
         (path.size() == dir.size() || path[dir.size()] == '/');
}

std::string ns_link(int pid, const char* ns) {
  char buffer[128];
  const std::string path = "/proc/" + std::to_string(pid) + "/ns/" + ns;
  const ssize_t n = readlink(path.c_str(), buffer, sizeof buffer - 1);
  return n > 0 ? std::string(buffer, static_cast<std::size_t>(n)) : std::string();
}

std::optional<ProcStat> read_proc_stat(int pid) {
  if (pid <= 0) {
    return std::nullopt;
  }
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!in || !std::getline(in, text)) {
    return std::nullopt;
  }
  // "pid (comm) S ppid ...": comm may hold spaces and parentheses.
  auto close_paren = text.rfind(')');
  if (close_paren == std::string::npos) {
    return std::nullopt;
  }
  std::istringstream fields(text.substr(close_paren + 1));
  ProcStat stat;
  std::string field;
  for (int index = 3; index <= 22 && (fields >> field); ++index) {
    if (index == 3) {
      stat.state = field.empty() ? '?' : field[0];
    } else if (index == 22) {
      stat.start_time = std::stoull(field);
      return stat;
    }
  }
  return std::nullopt;
}

bool process_matches(int pid, std::uint64_t start_time) {
  auto stat = read_proc_stat(pid);
  return stat && stat->start_time == start_time && stat->state != 'Z' && stat->state != 'X';
}

UniqueFd open_box_file(int pid, std::uint64_t start_time, const char* relative, int flags,
                       unsigned mode) {
  if (pid <= 0) {
    errno = ESRCH;
    return UniqueFd();
  }
  UniqueFd root(
      open(("/proc/" + std::to_string(pid) + "/root").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  struct stat theirs {};
  struct stat ours {};
  // A process whose root is still ours (an init before its pivot_root, a
  // stand-in) has no box files: its etc/... would be the host's.
  if (!root.valid() || !process_matches(pid, start_time) || fstat(root.get(), &theirs) != 0 ||
      stat("/", &ours) != 0 || (theirs.st_dev == ours.st_dev && theirs.st_ino == ours.st_ino)) {
    errno = ESRCH;  // no box there: not a missing file (write_box_file would create it)
    return UniqueFd();
  }
  struct open_how how {};
  how.flags = static_cast<std::uint64_t>(flags) | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC;
  how.mode = (flags & O_CREAT) != 0 ? mode : 0;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  UniqueFd fd(static_cast<int>(syscall(SYS_openat2, root.get(), relative, &how, sizeof how)));
  const int open_errno = errno;  // for the caller (ENOENT: create it)
  root.reset();
  struct stat st {};
  if (!fd.valid()) {
    errno = open_errno;
    return fd;
  }
  if (fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    errno = EINVAL;
    return UniqueFd();
  }
  return fd;
}

std::optional<std::string> read_box_file(int pid, std::uint64_t start_time, const char* relative,
                                         std::size_t max_bytes) {
  const UniqueFd fd = open_box_file(pid, start_time, relative, O_RDONLY);
  if (!fd.valid()) {
    return std::nullopt;
  }
  // In pieces: a passwd file is a few KiB, and this runs on every exec.
  constexpr std::size_t k_piece = 64 * 1024;
  std::string text;
  std::size_t got = 0;
  while (got < max_bytes) {
    text.resize(std::min(max_bytes, got + k_piece));
    const ssize_t n = read(fd.get(), text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      break;
    }
    got += static_cast<std::size_t>(n);
  }
  text.resize(got);
  return text;
}

ProcessWatch::~ProcessWatch() {
  for (const auto& [pid, entry] : m_entries) {
    close(entry.fd);
  }
}

bool ProcessWatch::alive(int pid, std::uint64_t start_time) {
  if (pid <= 0) {
    return false;
  }
  std::lock_guard lock(m_mutex);
  if (auto it = m_entries.find(pid); it != m_entries.end()) {
    if (it->second.start_time == start_time) {
      pollfd p{it->second.fd, POLLIN, 0};
      if (poll(&p, 1, 0) == 0) {
        return true;
      }
      // Exited: reap it if it is our child (exactly this process, by its pidfd).
      siginfo_t info{};
      waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(it->second.fd), &info,
             WEXITED | WNOHANG);
      close(it->second.fd);
      m_entries.erase(it);
      return false;
    }
    // Another process with this pid: the one watched is gone.
    close(it->second.fd);
    m_entries.erase(it);
  }
  auto stat = read_proc_stat(pid);
  if (!stat || stat->start_time != start_time) {
    return false;
  }
  if (stat->state == 'Z' || stat->state == 'X') {
    waitpid(pid, nullptr, WNOHANG);  // our child: reap it
    return false;
  }
  // At most half the fds the process may open: the server's sockets and
  // files must not run short (a soft limit of 1024 and 1,000 boxes).
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) < 0 || m_entries.size() >= files.rlim_cur / 2) {
    return true;  // no pidfd: the next check reads /proc again
  }
  const int fd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));  // close-on-exec
  if (fd < 0) {
    return true;
  }
  // The pid may have been reused between the read and the open.
  if (!process_matches(pid, start_time)) {
    close(fd);
    return false;
  }
  m_entries[pid] = Entry{start_time, fd};
  return true;
}

void ProcessWatch::forget(int pid) {
  std::lock_guard lock(m_mutex);
  if (auto it = m_entries.find(pid); it != m_entries.end()) {
    close(it->second.fd);
    m_entries.erase(it);
  }
}

std::size_t ProcessWatch::watched() const {
  std::lock_guard lock(m_mutex);
  return m_entries.size();
}

namespace {

// One directory on the way down (remove_tree): its identity, to check
// that ".." leads back to it, and the entries still to remove.
struct Level {
  dev_t dev = 0;
  ino_t ino = 0;
  std::string name;  // its name in the level above
  std::vector<std::string> children;
  std::size_t next = 0;
};

std::string path_of(const std::string& root, const std::vector<Level>& levels,
                    const std::string& last = {}) {
  std::string path = root;
  for (std::size_t i = 1; i < levels.size(); ++i) {
    path += "/" + levels[i].name;
  }
  return last.empty() ? path : path + "/" + last;
}

// Opens `name` in `parent` as a directory to remove below: O_NOFOLLOW, on
// `device`, made listable (an overlay work dir can be mode 000, and a
// server that is not root must chmod it first). Invalid with errno when it
// is not a directory (any more), EXDEV when it is another file system.
UniqueFd open_level(int parent, const char* name, dev_t device, struct stat& st) {
  UniqueFd here(openat(parent, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!here.valid()) {
    return here;
  }
  if (fstat(here.get(), &st) < 0) {
    return UniqueFd();
  }
  if (st.st_dev != device) {
    errno = EXDEV;
    return UniqueFd();
  }
  chmod(("/proc/self/fd/" + std::to_string(here.get())).c_str(), 0700);
  UniqueFd listing(openat(here.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  return listing;
}

std::vector<std::string> entries_of(int dir_fd) {
  std::vector<std::string> names;
  const int copy = fcntl(dir_fd, F_DUPFD_CLOEXEC, 0);
  DIR* dir = copy >= 0 ? fdopendir(copy) : nullptr;
  if (dir == nullptr) {
    if (copy >= 0) {
      close(copy);
    }
    return names;
  }
  while (const dirent* entry = readdir(dir)) {
    const std::string name = entry->d_name;
    if (name != "." && name != "..") {
      names.push_back(name);
    }
  }
  closedir(dir);
  return names;
}

// Removes `name` in the directory `top` and everything below it, by
// descriptors: every step is relative to a directory already open, so a
// symlink or a rename a box makes meanwhile (in its disk, its upper layer)
// cannot lead the removal anywhere else. One directory is open at a time
// (the way back up is "..", checked against the device and inode it was
// entered from), and nothing grows with depth but the list of levels, so
// a tree as deep as a box can make it costs no stack and no descriptors.
class TreeRemoval {
 public:
  TreeRemoval(int top, dev_t device, std::string shown)
      : m_top(top), m_device(device), m_shown(std::move(shown)) {}

  void run(const std::string& name) {
    struct stat st {};
    if (fstatat(m_top, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) {
      if (errno == ENOENT) {
        return;
      }
      throw_errno("lstat " + m_shown);
    }
    if (!S_ISDIR(st.st_mode) || !enter(m_top, name, st)) {
      unlink_entry(m_top, name, m_shown);
      return;
    }
    while (!m_levels.empty()) {
      Level& level = m_levels.back();
      if (level.next < level.children.size()) {
        const std::string child = level.children[level.next++];
        step_into(child);
      } else {
        leave();
      }
    }
  }

 private:
  // A child of the current directory: entered when it is a directory of
  // this file system, else unlinked.
  void step_into(const std::string& child) {
    struct stat st {};
    if (fstatat(m_current.get(), child.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) {
      if (errno == ENOENT) {
        return;
      }
      throw_errno("lstat " + path_of(m_shown, m_levels, child));
    }
    if (!S_ISDIR(st.st_mode) || !enter(m_current.get(), child, st)) {
      unlink_entry(m_current.get(), child, path_of(m_shown, m_levels, child));
    }
  }

  // Opens the directory `name` in `parent` and makes it the current one;
  // false when it is no directory any more (the caller unlinks what it is).
  bool enter(int parent, const std::string& name, struct stat& st) {
    UniqueFd below = open_level(parent, name.c_str(), m_device, st);
    if (!below.valid()) {
      const std::string shown = path_of(m_shown, m_levels, name);
      if (errno == EXDEV) {
        throw Error(ErrorClass::Internal, "refusing to remove " + shown + ": it is a mount point");
      }
      if (errno == ENOTDIR || errno == ELOOP || errno == ENOENT) {
        return false;  // replaced by something else since the fstatat (or gone)
      }
      throw_errno("open " + shown);
    }
    std::vector<std::string> children = entries_of(below.get());
    m_current = std::move(below);
    m_levels.push_back(Level{st.st_dev, st.st_ino, name, std::move(children), 0});
    return true;
  }

  // Every entry of the current directory is gone: back up through "..",
  // which must be the directory it was entered from, and remove it there.
  void leave() {
    const Level done = std::move(m_levels.back());
    m_levels.pop_back();
    const std::string shown = path_of(m_shown, m_levels, done.name);
    int parent = m_top;
    if (!m_levels.empty()) {
      UniqueFd up(openat(m_current.get(), "..", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      struct stat ust {};
      if (!up.valid() || fstat(up.get(), &ust) < 0 || ust.st_dev != m_levels.back().dev ||
          ust.st_ino != m_levels.back().ino) {
        throw Error(ErrorClass::Internal,
                    "removing " + m_shown + ": " + shown + " was moved during the removal");
      }
      m_current = std::move(up);
      parent = m_current.get();
    } else {
      m_current.reset();
    }
    if (unlinkat(parent, done.name.c_str(), AT_REMOVEDIR) < 0 && errno != ENOENT) {
      throw_errno("rmdir " + shown);
    }
  }

  static void unlink_entry(int parent, const std::string& name, const std::string& shown) {
    if (unlinkat(parent, name.c_str(), 0) < 0 && errno != ENOENT) {
      throw_errno("unlink " + shown);
    }
  }

  int m_top;
  dev_t m_device;
  std::string m_shown;
  UniqueFd m_current;
  std::vector<Level> m_levels;
};

}  // namespace

void remove_tree(const std::filesystem::path& root) {
  const std::filesystem::path absolute = std::filesystem::absolute(root).lexically_normal();
  std::filesystem::path trimmed = absolute;
  if (!trimmed.has_filename() && trimmed.has_parent_path()) {
    trimmed = trimmed.parent_path();  // "dir/" -> "dir"
  }
  const std::string name = trimmed.filename().string();
  if (name.empty() || name == "." || name == "..") {
    throw Error(ErrorClass::Internal, "refusing to remove " + root.string());
  }
  const UniqueFd parent(open(trimmed.parent_path().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!parent.valid()) {
    if (errno == ENOENT) {
      return;
    }
    throw_errno("open " + trimmed.parent_path().string());
  }
  struct stat st {};
  if (fstatat(parent.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) {
    if (errno == ENOENT) {
      return;
    }
    throw_errno("lstat " + root.string());
  }
  TreeRemoval(parent.get(), st.st_dev, root.string()).run(name);
}

CommandResult run_command(const std::vector<std::string>& argv_in, bool want_output) {
  auto strings = argv_in;
  auto argv = c_strings(strings);
  Pipe err_pipe;  // stderr, or stdout with want_output
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, want_output ? 2 : 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, err_pipe.write_fd(), want_output ? 1 : 2);
  char* empty_env[] = {nullptr};
  pid_t pid = 0;
  int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), empty_env);
  posix_spawn_file_actions_destroy(&actions);
  err_pipe.write_end().reset();
  if (rc != 0) {
    errno = rc;
    throw_errno("running " + argv_in[0]);
  }
  CommandResult result;
  char buffer[4096];
  while (true) {
    ssize_t n = read(err_pipe.read_fd(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      break;
    }
    if (want_output) {
      result.output.append(buffer, static_cast<std::size_t>(n));
    } else if (result.error_output.size() < 8192) {
      result.error_output.append(buffer, static_cast<std::size_t>(n));
    }
  }
  err_pipe.read_end().reset();
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      throw_errno("waitpid");
    }
  }
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

std::vector<std::string> links_with_prefix(const std::string& prefix) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/sys/class/net", ec)) {
    std::string name = entry.path().filename().string();
    if (name.starts_with(prefix)) {
      names.push_back(std::move(name));
    }
  }
  return names;
}

void append_console(const std::filesystem::path& box_dir, const std::string& line) {
  int fd = open((box_dir / "console.log").c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return;
  }
  std::string text = line + "\n";
  ssize_t ignored = write(fd, text.data(), text.size());
  (void)ignored;
  close(fd);
}

namespace {

// The parent of `pid` from /proc/PID/stat; 0 when unknown.
int parent_pid_of(int pid) {
  const std::string path = "/proc/" + std::to_string(pid) + "/stat";
  const UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    return 0;
  }
  std::array<char, 512> buffer{};
  const ssize_t n = read(fd.get(), buffer.data(), buffer.size() - 1);
  if (n <= 0) {
    return 0;
  }
  const std::string text(buffer.data(), static_cast<std::size_t>(n));
  const auto paren = text.rfind(')');  // the command name may hold spaces
  if (paren == std::string::npos || paren + 4 >= text.size()) {
    return 0;
  }
  return std::atoi(text.c_str() + paren + 4);  // ") S PPID ..."
}

// Whether `pid`'s parent chain reaches `self` before the box's init.
bool descends_from(int pid, int self, int init_pid) {
  int at = pid;
  for (int step = 0; step < 64 && at > 1 && at != init_pid; ++step) {
    at = parent_pid_of(at);
    if (at == self) {
      return true;
    }
  }
  return false;
}

}  // namespace

bool Runtime::exec_in_flight(const BoxSpec& /*box*/, const BoxHandle& handle) const {
  const int init_pid = handle.init_pid;
  if (init_pid <= 0) {
    return false;
  }
  const std::string box_ns = ns_link(init_pid, "pid");
  if (box_ns.empty()) {
    return false;
  }
  const int self = static_cast<int>(getpid());
  DIR* proc = opendir("/proc");
  if (proc == nullptr) {
    return false;
  }
  bool found = false;
  while (dirent* entry = readdir(proc)) {
    char* end = nullptr;
    const long pid = std::strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0' || pid == init_pid ||
        ns_link(static_cast<int>(pid), "pid") != box_ns) {
      continue;
    }
    if (descends_from(static_cast<int>(pid), self, init_pid)) {
      found = true;
      break;
    }
  }
  closedir(proc);
  return found;
}

std::unique_ptr<Runtime> make_runtime(const std::string& kind, const RuntimeOptions& options) {
  if (kind == "process") {
    return make_process_runtime();
  }
  if (kind == "namespace" || kind == "auto") {
    std::string why;
    if (namespace_runtime_supported(&why)) {
      return make_namespace_runtime(options);
    }
    if (kind == "auto") {
      return make_process_runtime();
    }
    throw Error(ErrorClass::Usage, "the namespace runtime cannot work here: " + why,
                "run as root, or use --runtime process (no isolation)");
  }
  throw Error(ErrorClass::Usage,
              "unknown runtime '" + kind + "' (expected auto, namespace or process)");
}

}  // namespace boxd::local
