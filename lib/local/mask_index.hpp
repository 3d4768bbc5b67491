// The server's live list of what boxes must not see of the host
// (host_masks.hpp), so that a box's boot does not walk the host's
// directories.
//
// Before: every boot walked every host directory it overlays (28,000
// entries under /work alone on a developer machine, ~7 us each), which was
// most of a box create, and skipped /usr (160,000 entries, ~1 s).
//
// Now the server walks them once, in the background after it starts, with a
// fanotify group watching the file systems they are on (FAN_MARK_FILESYSTEM,
// directory entry and attribute events reported by directory handle and
// name), and keeps the list current from the events: an entry created,
// moved in, made private (chmod/chown) or public, moved away or deleted is
// looked at again (lstat, and a walk of a directory that came in or became
// visible). /usr is covered like every other directory.
//
// When a boot asks (snapshot()), every event queued so far is applied
// first. The kernel queues an event before the system call that caused it
// returns, so a chmod that finished before the box create is in the boot's
// list: the list is as exact as the walk at boot it replaces.
//
// What makes a directory's list untrustworthy is handled by walking it again
// before the next boot: the event queue overflowing (FAN_Q_OVERFLOW); a
// mount appearing or going at, below or above a directory
// (/proc/self/mountinfo, which fanotify does not report); a file with more
// than one hard link becoming private (the event names one link only); the
// set of overlaid directories changing (a directory made or removed at the
// top of the host's tree). A directory on a file system fanotify cannot watch
// (no file handles) is left out of the list, and the init walks it itself.
//
// Events under the server's own state directory (the boxes' disks) are
// dropped after their directory is resolved: a box cannot add work beyond
// one open_by_handle_at and readlink per event, and an overflow it causes
// costs the next boot one walk.
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

#include "common/unique_fd.hpp"
#include "local/host_masks.hpp"

struct file_handle;

namespace boxd::local {

// The host directories a box's root overlays (the init's populate(): every
// directory of / but the box's own (proc, sys, dev, run, home, root, tmp),
// `hidden` left out and each of its ancestors replaced by its children).
std::vector<std::filesystem::path> box_overlay_roots(const std::filesystem::path& hidden);

class MaskIndex {
 public:
  using RootsFn = std::function<std::vector<std::filesystem::path>()>;

  // Indexes box_overlay_roots(hidden).
  explicit MaskIndex(const std::filesystem::path& hidden);
  // Indexes what `roots` returns (asked again when the set may have changed).
  MaskIndex(const std::filesystem::path& hidden, RootsFn roots);
  ~MaskIndex();
  MaskIndex(const MaskIndex&) = delete;
  MaskIndex& operator=(const MaskIndex&) = delete;

  // The masks of every watched directory, with every change on the host that
  // finished before the call. Waits for the first walk.
  HostMaskList snapshot();

  struct Stats {
    bool watching = false;    // fanotify works here
    std::string why_not;      // when not
    std::size_t roots = 0;    // directories indexed
    std::size_t watched = 0;  // of which watched (the rest are walked at boot)
    std::size_t masks = 0;
    std::size_t events = 0;   // applied since start
    std::size_t skipped = 0;  // of which dropped unlooked-at (known to be in the state)
    std::size_t walks = 0;    // directory walks since start (first walk included)
  };
  Stats stats();

 private:
  struct Root {
    std::filesystem::path path;
    dev_t dev = 0;
    ino_t ino = 0;
    std::uint64_t mount_id = 0;  // the mount the box's lower layer is a clone of
    bool watched = false;
    bool stale = true;
    std::map<std::string, HostMask> masks;  // by path relative to `path`
  };

  void run();
  void start();
  void settle();
  void drain();
  void apply(const char* event, std::size_t length);
  bool apply_path(const std::string& path, bool attrib_only);
  void apply_outside(const std::string& path, bool attrib_only);
  // A file handle of an event (copied out: events are not aligned).
  struct FidRecord {
    unsigned char fsid[8] = {};
    alignas(8) unsigned char handle[8 + 128] = {};  // struct file_handle + MAX_HANDLE_SZ
    bool valid = false;
    struct ::file_handle* file() {
      return reinterpret_cast<struct ::file_handle*>(handle);
    }
  };
  void check_links(FidRecord& object, const std::vector<std::string>& paths);
  // Where an event's entry is: its paths (one per mount), or why none.
  static std::string fid_key(FidRecord& record);
  struct Where {
    std::vector<std::string> paths;
    std::vector<std::string> dirs;  // the directory of each of paths
    bool gone = false;              // the directory was deleted, and what it held
    bool unresolvable = false;      // cannot tell where the change was
  };
  static void read_records(const char* event, std::size_t offset, std::size_t length,
                           FidRecord& dir_record, FidRecord& object, std::string& name);
  Where locate(FidRecord& dir_record, const std::string& name);
  bool mark_roots_above(int fd);
  void all_stale(const char* why);
  void apply_below(Root& root, const std::string& rel, bool attrib_only);
  void check_mounts();
  void refresh_roots();
  void walk(Root& root);
  bool mark(const std::filesystem::path& dir);
  bool add_mount(const std::filesystem::path& dir);
  Root* root_of(const std::string& path, std::string& rel);
  std::set<std::string> relevant_mounts();
  bool hidden_path(const std::string& path) const;

  const std::filesystem::path m_hidden;
  const RootsFn m_roots_fn;

  std::mutex m_mutex;
  std::condition_variable m_ready_cv;
  bool m_ready = false;
  bool m_roots_stale = false;
  UniqueFd m_fan;
  UniqueFd m_mountinfo;
  UniqueFd m_wake;
  std::string m_why_not;
  std::map<std::string, Root> m_roots;
  struct MountFd {
    std::uint64_t id = 0;  // mount id
    unsigned char fsid[8] = {};
    UniqueFd fd;
  };
  std::vector<MountFd> m_mount_fds;
  std::set<std::string> m_mounts;  // relevant mountinfo lines (id + mount point)
  bool m_mounts_changed = false;
  std::map<std::pair<std::uint64_t, std::uint64_t>, bool> m_links;  // (dev, ino): was private
  // Directories (fsid + handle) found to be in the server's state only, so
  // their next events skip the lookup; forgotten when a directory moves
  // to anywhere else (it may hold some of them) or the mounts change.
  std::unordered_set<std::string> m_boxes_own_dirs;
  std::size_t m_events = 0;
  std::size_t m_skipped = 0;
  std::size_t m_walks = 0;
  bool m_stop = false;
  std::thread m_thread;
};

}  // namespace boxd::local
