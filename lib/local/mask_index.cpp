#include "local/mask_index.hpp"

#include "common/log.hpp"
#include "local/runtime_support.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>

namespace boxd::local {

namespace fs = std::filesystem;

namespace {

constexpr std::uint64_t k_watched_events =
    FAN_CREATE | FAN_DELETE | FAN_MOVED_FROM | FAN_MOVED_TO | FAN_ATTRIB | FAN_ONDIR;

void collect_roots(const fs::path& dir, bool top, const fs::path& hidden,
                   std::vector<fs::path>& out) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const fs::path& path = entry.path();
    struct stat st {};
    if (lstat(path.c_str(), &st) < 0 || !S_ISDIR(st.st_mode)) {
      continue;
    }
    if ((top && box_own_top_dir(path.filename().native())) || path == hidden) {
      continue;
    }
    if (path_under(hidden.native(), path.native())) {
      collect_roots(path, false, hidden, out);
      continue;
    }
    out.push_back(path);
  }
}

void erase_subtree(std::map<std::string, HostMask>& masks, const std::string& rel) {
  masks.erase(rel);
  masks.erase(masks.lower_bound(rel + "/"), masks.lower_bound(rel + "0"));  // '0' follows '/'
}

// The path of an open directory; "" when it has none (deleted) or it is too
// long to read. readlink marks a deleted one with " (deleted)", which a real
// name may end with too: the inode behind the path tells them apart.
std::string resolve_fd(int fd, bool& too_long) {
  too_long = false;
  char buffer[4096];
  const std::string link = "/proc/self/fd/" + std::to_string(fd);
  ssize_t n = readlink(link.c_str(), buffer, sizeof buffer);
  if (n <= 0 || n >= static_cast<ssize_t>(sizeof buffer)) {
    too_long = n >= static_cast<ssize_t>(sizeof buffer) || errno == ENAMETOOLONG;
    return {};
  }
  std::string path(buffer, static_cast<std::size_t>(n));
  if (path.empty() || path[0] != '/') {
    return {};
  }
  if (path.ends_with(" (deleted)")) {
    struct stat named {};
    struct stat opened {};
    if (lstat(path.c_str(), &named) < 0 || fstat(fd, &opened) < 0 ||
        named.st_dev != opened.st_dev || named.st_ino != opened.st_ino) {
      return {};
    }
  }
  return path;
}

// open_by_handle_at's answer for an inode that is no more: ESTALE, or
// ENOMEM when the file system finds no dentry for it (seen here for files
// of a box's overlay work directory removed a moment before).
bool handle_gone(int error) {
  return error == ESTALE || error == ENOMEM;
}

}  // namespace

std::vector<fs::path> box_overlay_roots(const fs::path& hidden) {
  std::vector<fs::path> roots;
  collect_roots("/", true, hidden, roots);
  return roots;
}

MaskIndex::MaskIndex(const fs::path& hidden)
    : MaskIndex(hidden, [hidden] { return box_overlay_roots(hidden); }) {}

MaskIndex::MaskIndex(const fs::path& hidden, RootsFn roots)
    : m_hidden(hidden), m_roots_fn(std::move(roots)) {
  m_wake.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  m_thread = std::thread([this] { run(); });
}

MaskIndex::~MaskIndex() {
  {
    std::lock_guard lock(m_mutex);
    m_stop = true;
  }
  const std::uint64_t one = 1;
  ssize_t ignored = write(m_wake.get(), &one, sizeof one);
  (void)ignored;
  m_thread.join();
}

void MaskIndex::start() {
  std::lock_guard lock(m_mutex);
  // Directory handle and name of every event, and the handle of what
  // changed (check_links()).
  m_fan.reset(fanotify_init(
      FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK | FAN_REPORT_DFID_NAME | FAN_REPORT_FID,
      O_RDONLY | O_CLOEXEC));
  if (!m_fan.valid()) {
    m_why_not = std::string("fanotify: ") + std::strerror(errno);
  }
  m_roots_stale = true;
  const auto started = std::chrono::steady_clock::now();
  try {
    settle();
  } catch (const std::exception& e) {
    // Without a list every boot walks the host itself: slower, as safe.
    m_why_not = std::string("listing the host's directories: ") + e.what();
    m_fan.reset();
    m_roots.clear();
  }
  m_ready = true;
  m_ready_cv.notify_all();
  if (!m_fan.valid()) {
    logging::warn("host masks: every boot walks the host's directories (" + m_why_not + ")");
    return;
  }
  std::size_t masks = 0;
  std::size_t watched = 0;
  for (const auto& [path, root] : m_roots) {
    masks += root.masks.size();
    watched += root.watched ? 1 : 0;
  }
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - started)
                      .count();
  logging::info("host masks listed", {{"masks", static_cast<std::int64_t>(masks)},
                                      {"dirs", static_cast<std::int64_t>(watched)},
                                      {"walk_ms", static_cast<std::int64_t>(ms)}});
}

void MaskIndex::run() {
  start();
  while (true) {
    struct pollfd fds[2] = {{m_wake.get(), POLLIN, 0}, {m_fan.get(), POLLIN, 0}};
    const nfds_t count = m_fan.valid() ? 2 : 1;
    if (poll(fds, count, -1) < 0 && errno != EINTR) {
      return;
    }
    std::lock_guard lock(m_mutex);
    if (m_stop) {
      return;
    }
    try {
      drain();
    } catch (const std::exception&) {
      all_stale("an event could not be applied");  // walked again before the next boot
    }
  }
}

HostMaskList MaskIndex::snapshot() {
  std::unique_lock lock(m_mutex);
  m_ready_cv.wait(lock, [this] { return m_ready; });
  try {
    settle();
  } catch (const std::exception&) {
    all_stale("the list could not be settled");
    return {};  // the init walks every directory itself
  }
  HostMaskList list;
  for (const auto& [path, root] : m_roots) {
    if (!root.watched || root.stale) {
      continue;
    }
    auto& listed = list[path];
    listed.dev = root.dev;
    listed.ino = root.ino;
    listed.masks.reserve(root.masks.size());
    for (const auto& [rel, mask] : root.masks) {
      listed.masks.push_back(mask);
    }
  }
  return list;
}

MaskIndex::Stats MaskIndex::stats() {
  std::unique_lock lock(m_mutex);
  m_ready_cv.wait(lock, [this] { return m_ready; });
  Stats stats;
  stats.watching = m_fan.valid();
  stats.why_not = m_why_not;
  stats.roots = m_roots.size();
  for (const auto& [path, root] : m_roots) {
    stats.watched += root.watched ? 1 : 0;
    stats.masks += root.masks.size();
  }
  stats.events = m_events;
  stats.skipped = m_skipped;
  stats.walks = m_walks;
  return stats;
}

// Applies what happened on the host up to now (lock held).
void MaskIndex::settle() {
  if (!m_fan.valid()) {
    return;
  }
  drain();
  check_mounts();
  if (m_roots_stale) {
    refresh_roots();
    m_mounts = relevant_mounts();  // before the walks: a mount made during one is seen next time
  }
  if (m_mounts_changed) {
    // Mount ids and device numbers are reused: look the mounts up again.
    m_mounts_changed = false;
    m_mount_fds.clear();
    m_boxes_own_dirs.clear();  // a directory may show through a new mount
    for (auto& [path, root] : m_roots) {
      root.stale = root.stale || (root.watched && !add_mount(root.path));
    }
  }
  bool walked = false;
  for (auto& [path, root] : m_roots) {
    if (root.stale) {
      walk(root);
      walked = true;
    }
  }
  if (walked) {
    drain();  // what changed during the walks (an event on a walked entry is harmless)
  }
}

void MaskIndex::drain() {
  if (!m_fan.valid()) {
    return;
  }
  alignas(fanotify_event_metadata) char buffer[64 * 1024];
  while (true) {
    ssize_t n = read(m_fan.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return;
    }
    std::size_t offset = 0;
    // Events follow each other unaligned: every field is copied out.
    while (offset + sizeof(fanotify_event_metadata) <= static_cast<std::size_t>(n)) {
      fanotify_event_metadata meta{};
      std::memcpy(&meta, buffer + offset, sizeof meta);
      if (meta.event_len < sizeof(fanotify_event_metadata) ||
          offset + meta.event_len > static_cast<std::size_t>(n)) {
        break;
      }
      apply(buffer + offset, meta.event_len);
      offset += meta.event_len;
    }
  }
}

void MaskIndex::apply(const char* event, std::size_t length) {
  ++m_events;
  fanotify_event_metadata meta{};
  std::memcpy(&meta, event, sizeof meta);
  if ((meta.mask & FAN_Q_OVERFLOW) != 0) {
    all_stale("the event queue overflowed");
    return;
  }
  const bool attrib_only =
      (meta.mask & (FAN_CREATE | FAN_DELETE | FAN_MOVED_FROM | FAN_MOVED_TO)) == 0;
  FidRecord dir_record;  // the directory (and the name)
  FidRecord object;      // what changed
  std::string name;
  read_records(event, meta.metadata_len, length, dir_record, object, name);
  const std::string dir_key = dir_record.valid ? fid_key(dir_record) : std::string();
  if (!dir_key.empty() && m_boxes_own_dirs.count(dir_key) != 0) {
    // In the server's state, as its last event was: nothing to do. (A
    // directory moved in here stays in the state, with all it holds.)
    ++m_skipped;
    return;
  }
  const Where where = locate(dir_record, name);
  // The boxes' own disks (in the server's state) share no file with the
  // host's directories: their events cost one lookup, never a walk, and
  // the next ones in the same directory not even that (a box's boot makes
  // ~200 directories and files in a few of them).
  const bool boxes_own = !where.paths.empty() &&
                         std::all_of(where.paths.begin(), where.paths.end(),
                                     [this](const std::string& path) { return hidden_path(path); });
  const bool in_state = boxes_own && !where.gone && !where.unresolvable;
  if ((meta.mask & FAN_MOVED_TO) != 0 && (meta.mask & FAN_ONDIR) != 0 && !in_state) {
    // A directory moved out of the state, maybe, with directories known to
    // be in it: forget them all.
    m_boxes_own_dirs.clear();
  }
  // What is cached is the directory, so the directory itself must be in
  // the state (not only the entry: the state directory's own parent is the
  // host's).
  const bool dir_in_state =
      in_state && std::all_of(where.dirs.begin(), where.dirs.end(),
                              [this](const std::string& dir) { return hidden_path(dir); });
  if (dir_in_state && !dir_key.empty()) {
    if (m_boxes_own_dirs.size() >= 4096) {
      m_boxes_own_dirs.clear();
    }
    m_boxes_own_dirs.insert(dir_key);
  }
  if (attrib_only && (meta.mask & FAN_ONDIR) == 0 && !boxes_own) {
    check_links(object, where.paths);
  }
  if (where.unresolvable) {
    all_stale("an event named no path");  // cannot tell what changed: walk before the next boot
    return;
  }
  if (where.gone || where.paths.empty()) {
    return;
  }
  bool handled = false;
  for (const auto& path : where.paths) {
    handled = apply_path(path, attrib_only) || handled;
  }
  if (!handled) {
    apply_outside(where.paths.front(), attrib_only);
  }
}

// The directory and object handles (and the name) of one event's info
// records, each copied out of the unaligned buffer.
void MaskIndex::read_records(const char* event, std::size_t offset, std::size_t length,
                             FidRecord& dir_record, FidRecord& object, std::string& name) {
  static_assert(sizeof(file_handle) + MAX_HANDLE_SZ <= sizeof(FidRecord::handle));
  while (offset + sizeof(fanotify_event_info_header) <= length) {
    fanotify_event_info_header header{};
    std::memcpy(&header, event + offset, sizeof header);
    if (header.len == 0 || offset + header.len > length) {
      return;
    }
    const char* record = event + offset;
    const char* record_end = record + header.len;
    // header, fsid, struct file_handle (handle_bytes, handle_type, bytes)
    const char* fsid = record + sizeof header;
    const char* handle = fsid + sizeof(FidRecord::fsid);
    unsigned int handle_bytes = 0;
    if (handle + sizeof(file_handle) > record_end) {
      return;
    }
    std::memcpy(&handle_bytes, handle, sizeof handle_bytes);
    const char* after_handle = handle + sizeof(file_handle) + handle_bytes;
    if (handle_bytes > MAX_HANDLE_SZ || after_handle > record_end) {
      return;
    }
    FidRecord* target = nullptr;
    if (header.info_type == FAN_EVENT_INFO_TYPE_DFID_NAME) {
      target = &dir_record;
      name.assign(after_handle, strnlen(after_handle, record_end - after_handle));
    } else if (header.info_type == FAN_EVENT_INFO_TYPE_DFID) {
      target = &dir_record;  // the directory itself
    } else if (header.info_type == FAN_EVENT_INFO_TYPE_FID) {
      target = &object;
    }
    if (target != nullptr) {
      std::memcpy(target->fsid, fsid, sizeof target->fsid);
      std::memcpy(target->handle, handle, sizeof(file_handle) + handle_bytes);
      target->valid = true;
    }
    offset += header.len;
  }
}

// A directory's identity: its file system and handle (the handle's type
// and bytes; a handle is never reused for another inode).
std::string MaskIndex::fid_key(FidRecord& record) {
  const struct ::file_handle* handle = record.file();
  std::string key(reinterpret_cast<const char*>(record.fsid), sizeof record.fsid);
  key.append(reinterpret_cast<const char*>(&handle->handle_type), sizeof handle->handle_type);
  key.append(reinterpret_cast<const char*>(handle->f_handle),
             std::min<std::size_t>(handle->handle_bytes, MAX_HANDLE_SZ));
  return key;
}

// Marks stale every indexed root that directory `fd` is in (itself or below
// it), found through ".." up to "/": all of them, since two roots may be
// one directory (a bind mount). False when the walk failed or went deeper
// than k_max_depth (then the caller cannot tell where the change was): a
// lookup costs two system calls a level, and events in a chain of tiny
// names could otherwise keep the event thread busy for milliseconds each.
bool MaskIndex::mark_roots_above(int fd) {
  constexpr int k_max_depth = 128;  // PATH_MAX is 16 names of 255 bytes
  UniqueFd current(openat(fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC));
  struct stat here {};
  if (!current.valid() || fstat(current.get(), &here) < 0) {
    return false;
  }
  std::vector<Root*> found;
  for (int depth = 0; depth < k_max_depth; ++depth) {
    for (auto& [path, root] : m_roots) {
      if (root.dev == here.st_dev && root.ino == here.st_ino) {
        found.push_back(&root);
      }
    }
    UniqueFd parent(openat(current.get(), "..", O_PATH | O_DIRECTORY | O_CLOEXEC));
    struct stat above {};
    if (!parent.valid() || fstat(parent.get(), &above) < 0) {
      return false;
    }
    if (above.st_dev == here.st_dev && above.st_ino == here.st_ino) {  // "/"
      for (Root* root : found) {
        root->stale = true;
      }
      return true;
    }
    current = std::move(parent);
    here = above;
  }
  return false;
}

// The path of an event's entry through every mount of its file system we
// hold: a bind mount shows the same directory under another listed path.
MaskIndex::Where MaskIndex::locate(FidRecord& dir_record, const std::string& name) {
  Where where;
  for (const auto& mount : m_mount_fds) {
    if (!dir_record.valid || where.gone || where.unresolvable ||
        std::memcmp(mount.fsid, dir_record.fsid, sizeof mount.fsid) != 0) {
      continue;
    }
    UniqueFd dir(open_by_handle_at(mount.fd.get(), dir_record.file(), O_PATH | O_CLOEXEC));
    struct stat st {};
    if (!dir.valid() && handle_gone(errno)) {
      where.gone = true;
      continue;
    }
    if (!dir.valid() || fstat(dir.get(), &st) < 0) {
      where.unresolvable = true;
      continue;
    }
    if (st.st_nlink == 0) {
      where.gone = true;
      continue;
    }
    bool too_long = false;
    std::string path = resolve_fd(dir.get(), too_long);
    if (path.empty() && too_long) {
      // Too long to read: found by walking up. Below roots, those are
      // walked again; below none (/tmp, which boxes get their own of),
      // nothing to do. Before, every such event made every directory
      // stale: a program making paths past PATH_MAX in /tmp cost the next
      // box create a walk of the whole host (~0.5 s).
      where.unresolvable = !mark_roots_above(dir.get());
      continue;
    }
    if (path.empty()) {
      where.gone = true;  // deleted (a box's overlay work directory, mostly), and what it held
      continue;
    }
    where.dirs.push_back(path);
    if (!name.empty() && name != ".") {
      path = path == "/" ? "/" + name : path + "/" + name;
    }
    where.paths.push_back(std::move(path));
  }
  return where;
}

// An attribute change of a file: when it has other links and became
// private, those links (in any directory, named by no event) must be
// masked too, so the directories on its file system are walked again.
// The file is looked at through its own handle: the name the event came
// through may be gone or renamed by now, or inside a masked directory.
void MaskIndex::check_links(FidRecord& object, const std::vector<std::string>& paths) {
  struct stat st {};
  bool seen = false;  // on a file system of the listed directories
  bool looked = false;
  for (const auto& mount : m_mount_fds) {
    if (!object.valid || std::memcmp(mount.fsid, object.fsid, sizeof mount.fsid) != 0) {
      continue;
    }
    seen = true;
    UniqueFd fd(open_by_handle_at(mount.fd.get(), object.file(), O_PATH | O_CLOEXEC));
    if (!fd.valid() && handle_gone(errno)) {
      return;  // gone: no link is left to show
    }
    looked = fd.valid() && fstat(fd.get(), &st) == 0;
    break;
  }
  if (object.valid && !seen) {
    return;  // links do not cross file systems
  }
  if (!looked && (paths.empty() || lstat(paths.front().c_str(), &st) < 0)) {
    // Neither the handle nor the name the event came with: walk.
    all_stale("a linked file could not be looked at");
    return;
  }
  if (S_ISDIR(st.st_mode) || st.st_nlink < 2) {
    return;
  }
  const bool masked = masked_mode(st.st_mode);
  const auto key =
      std::make_pair(static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino));
  auto known = m_links.find(key);
  if (masked && (known == m_links.end() || !known->second)) {
    logging::debug("host masks: a private file has more links",
                   {{"path", paths.empty() ? std::string("?") : paths.front()}});
    for (auto& [dir, root] : m_roots) {
      root.stale = root.stale || root.dev == st.st_dev;
    }
  }
  if (m_links.size() > 65536) {
    m_links.clear();
  }
  m_links[key] = masked;
}

void MaskIndex::all_stale(const char* why) {
  logging::debug("host masks: every directory is walked again", {{"why", why}});
  // Events may be lost (an overflow): a directory that left the state
  // unseen must not stay known as the state's.
  m_boxes_own_dirs.clear();
  for (auto& [path, root] : m_roots) {
    root.stale = true;
  }
  m_roots_stale = true;
}

bool MaskIndex::hidden_path(const std::string& path) const {
  return path_under(path, m_hidden.native());
}

MaskIndex::Root* MaskIndex::root_of(const std::string& path, std::string& rel) {
  std::size_t end = path.size();
  while (end > 1) {
    auto it = m_roots.find(path.substr(0, end));
    if (it != m_roots.end()) {
      rel = end < path.size() ? path.substr(end + 1) : std::string();
      return &it->second;
    }
    end = path.rfind('/', end - 1);
    if (end == std::string::npos || end == 0) {
      break;
    }
  }
  return nullptr;
}

// An event on `path` seen through one mount; false when the path is neither
// the server's state nor in an indexed directory (another mount of the same
// file system may show it elsewhere).
bool MaskIndex::apply_path(const std::string& path, bool attrib_only) {
  if (hidden_path(path)) {
    return true;
  }
  std::string rel;
  Root* root = root_of(path, rel);
  if (root == nullptr) {
    return false;
  }
  if (rel.empty()) {
    if (!attrib_only) {
      m_roots_stale = true;  // the directory itself came or went
    }
    return true;
  }
  if (root->watched && !root->stale) {
    apply_below(*root, rel, attrib_only);
  }
  return true;
}

// An event outside every indexed directory: the set of directories may have
// changed.
void MaskIndex::apply_outside(const std::string& path, bool attrib_only) {
  const std::string parent = fs::path(path).parent_path().native();
  if (!attrib_only &&
      (parent == "/" || (path_under(m_hidden.native(), parent) && parent != m_hidden.native()))) {
    m_roots_stale = true;
  }
}

void MaskIndex::apply_below(Root& root, const std::string& rel, bool attrib_only) {
  for (auto slash = rel.rfind('/'); slash != std::string::npos && slash > 0;
       slash = rel.rfind('/', slash - 1)) {
    auto it = root.masks.find(rel.substr(0, slash));
    if (it != root.masks.end() && S_ISDIR(it->second.mode)) {
      return;  // inside a masked directory: hidden whatever it is
    }
  }
  const fs::path path = root.path / rel;
  struct statx st {};
  auto it = root.masks.find(rel);
  if (statx(AT_FDCWD, path.c_str(), AT_SYMLINK_NOFOLLOW,
            STATX_TYPE | STATX_MODE | STATX_UID | STATX_GID | STATX_MNT_ID, &st) < 0) {
    if (errno == ENOENT || errno == ENOTDIR) {
      erase_subtree(root.masks, rel);
    } else {
      root.stale = true;  // cannot look (a path too long...): walk it
    }
    return;
  }
  if (st.stx_mnt_id != root.mount_id || S_ISLNK(st.stx_mode)) {
    // A symlink is never masked; what is on another mount is not in the
    // box's lower layer (a clone of the directory's mount alone).
    erase_subtree(root.masks, rel);
    return;
  }
  const mode_t mode = st.stx_mode;
  if (masked_mode(mode)) {
    const HostMask mask{rel, mode, st.stx_uid, st.stx_gid};
    if (it != root.masks.end() && it->second == mask) {
      return;
    }
    erase_subtree(root.masks, rel);
    root.masks.emplace(rel, mask);
    return;
  }
  if (attrib_only && it == root.masks.end()) {
    return;  // visible before and after
  }
  erase_subtree(root.masks, rel);
  if (S_ISDIR(mode)) {
    scan_host_masks(path, m_hidden, [&](const HostMask& found) {
      HostMask mask = found;
      mask.rel = rel + "/" + found.rel;
      root.masks.emplace(mask.rel, std::move(mask));
    });
  }
}

// Mount points at, below or above an indexed directory ("<id> <path>").
std::set<std::string> MaskIndex::relevant_mounts() {
  std::set<std::string> mounts;
  for (const auto& m : read_mountinfo("/proc/self/mountinfo")) {
    for (const auto& [dir, root] : m_roots) {
      if (path_under(m.point, dir) || path_under(dir, m.point)) {
        mounts.insert(std::to_string(m.id) + " " + m.point);
        break;
      }
    }
  }
  return mounts;
}

void MaskIndex::check_mounts() {
  std::set<std::string> now = relevant_mounts();
  if (now == m_mounts) {
    return;
  }
  std::vector<std::string> changed;
  std::set_symmetric_difference(now.begin(), now.end(), m_mounts.begin(), m_mounts.end(),
                                std::back_inserter(changed));
  for (const auto& entry : changed) {
    const std::string point = entry.substr(entry.find(' ') + 1);
    for (auto& [dir, root] : m_roots) {
      if (path_under(point, dir) || path_under(dir, point)) {
        logging::debug("host masks: a mount changed", {{"dir", dir}, {"mount", point}});
        root.stale = true;
      }
      if (path_under(dir, point) && dir != point) {
        m_roots_stale = true;
      }
    }
  }
  m_mounts = std::move(now);
  m_mounts_changed = true;
}

void MaskIndex::refresh_roots() {
  m_roots_stale = false;
  std::map<std::string, Root> roots;
  for (const auto& path : m_roots_fn()) {
    auto it = m_roots.find(path.native());
    Root root;
    if (it != m_roots.end()) {
      root = std::move(it->second);
    } else {
      root.path = path;
      root.stale = true;
    }
    struct stat st {};
    if (lstat(path.c_str(), &st) < 0 || st.st_dev != root.dev || st.st_ino != root.ino) {
      root.stale = true;
    }
    roots.emplace(path.native(), std::move(root));
  }
  m_roots = std::move(roots);
}

// Watches the file system `dir` is on (again: a mark on a file system that
// was unmounted went with it) and keeps an fd on its mount.
bool MaskIndex::mark(const fs::path& dir) {
  return fanotify_mark(m_fan.get(), FAN_MARK_ADD | FAN_MARK_FILESYSTEM, k_watched_events, AT_FDCWD,
                       dir.c_str()) == 0 &&
         add_mount(dir);
}

// Keeps an fd on the mount `dir` is on: event handles are opened through
// each mount of their file system, so a directory reached through a bind
// mount resolves to the path the box's root uses.
bool MaskIndex::add_mount(const fs::path& dir) {
  struct statx info {};
  if (statx(AT_FDCWD, dir.c_str(), AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &info) < 0 ||
      (info.stx_mask & STATX_MNT_ID) == 0) {
    return false;
  }
  for (const auto& mount : m_mount_fds) {
    if (mount.id == info.stx_mnt_id) {
      return true;
    }
  }
  MountFd mount;
  mount.id = info.stx_mnt_id;
  mount.fd.reset(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  struct statfs fs_info {};
  if (!mount.fd.valid() || fstatfs(mount.fd.get(), &fs_info) < 0) {
    return false;
  }
  static_assert(sizeof mount.fsid == sizeof fs_info.f_fsid);
  std::memcpy(mount.fsid, &fs_info.f_fsid, sizeof mount.fsid);
  m_mount_fds.push_back(std::move(mount));
  return true;
}

void MaskIndex::walk(Root& root) {
  root.masks.clear();
  root.stale = false;
  struct statx st {};
  if (statx(AT_FDCWD, root.path.c_str(), AT_SYMLINK_NOFOLLOW, STATX_TYPE | STATX_INO | STATX_MNT_ID,
            &st) < 0 ||
      !S_ISDIR(st.stx_mode)) {
    root.watched = false;
    return;
  }
  root.dev = makedev(st.stx_dev_major, st.stx_dev_minor);
  root.ino = st.stx_ino;
  root.mount_id = st.stx_mnt_id;
  root.watched = mark(root.path);  // before the walk: nothing falls between
  if (!root.watched) {
    return;
  }
  ++m_walks;
  logging::debug("host masks: walking", {{"dir", root.path.string()}});
  // Events are applied during the walk too (this holds the lock the
  // event thread needs): a walk of /usr takes a second, and a queue that
  // overflows meanwhile would make every directory stale again.
  scan_host_masks(
      root.path, m_hidden, [&](const HostMask& mask) { root.masks.emplace(mask.rel, mask); },
      [this] { drain(); });
}

}  // namespace boxd::local
