// What a box must not see of the host's directories, shared by the box's
// init (which builds the mask layers) and the server's MaskIndex (which
// keeps the list current; mask_index.hpp).
//
// A box's lower layers are the host's directories mounted idmapped, so host
// uid N's files belong to box uid N. Every entry that "other" may not read
// (a file without o+r, a directory without o+r or o+x) is therefore covered
// in the box by an empty file or an empty opaque directory of the same mode
// and owner: the box sees what any local user of the host could read, and
// no more. A masked directory hides everything below it.
//
// The walk: every entry below `root` on the same file system as `root`
// (mounts below it are not part of the box's lower layer), symlinks never
// followed nor masked, `skip` (the server's state) not entered.
//
// The list a server hands to a booting init is a file of NUL-terminated
// records: "R<dev> <ino> <absolute host dir>" starts a directory's masks, each
// "M<st_mode octal> <uid> <gid> <path relative to it>" is one mask.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace boxd::local {

// The top-level directories a box gets its own of instead of the host's
// (the init's populate_special()): never overlaid, never masked.
inline bool box_own_top_dir(std::string_view name) {
  for (std::string_view own : {"proc", "sys", "dev", "run", "home", "root", "tmp"}) {
    if (name == own) {
      return true;
    }
  }
  return false;
}

// True when "other" may not read an entry of this mode.
inline bool masked_mode(mode_t mode) {
  if (S_ISLNK(mode)) {
    return false;
  }
  return (mode & S_IROTH) == 0 || (S_ISDIR(mode) && (mode & S_IXOTH) == 0);
}

struct HostMask {
  std::string rel;  // below the scanned directory, no leading '/'
  mode_t mode = 0;  // st_mode, type bits included
  uid_t uid = 0;
  gid_t gid = 0;
  bool operator==(const HostMask&) const = default;
};

// Calls `found` for every entry below `root` that must be masked, in walk
// order (a directory before its contents; a masked directory's contents are
// not visited). `skip`, when not empty, is neither reported nor entered.
// The walk goes through a clone of `root`'s mount without the mounts below
// it (open_tree), which is what a box's lower layer shows: what a mount
// covers is walked, what is mounted is not, and directories of the same
// mount on another device number (btrfs subvolumes) are. `every`, when
// set, is called every few thousand entries.
void scan_host_masks(const std::filesystem::path& root, const std::filesystem::path& skip,
                     const std::function<void(const HostMask&)>& found,
                     const std::function<void()>& every = {});

// The masks of one host directory, and which directory they were taken of
// (device and inode: one replaced since, by a rename or a mount, is walked
// again at boot instead).
struct HostMaskDir {
  std::uint64_t dev = 0;
  std::uint64_t ino = 0;
  std::vector<HostMask> masks;
  bool operator==(const HostMaskDir&) const = default;
};

// Masks of several host directories, keyed by the directory's absolute path.
using HostMaskList = std::map<std::string, HostMaskDir>;

// The file format above. decode_host_masks returns nullopt for a damaged file.
std::string encode_host_masks(const HostMaskList& list);
std::optional<HostMaskList> decode_host_masks(std::string_view text);

}  // namespace boxd::local
