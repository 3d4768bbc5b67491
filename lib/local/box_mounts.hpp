// Mounts injected into a running box from outside (disks) and paths opened
// beneath a box's root (files). See box_mounts.cpp.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace boxd::local {

// Bind-mounts the host directory `source` at the absolute path `target` in
// the mount namespace of `init_pid` (which must still have `start_time`),
// read-only if asked. `target` must exist (make_dir_in_box, box_file.hpp).
// Throws boxd::Error.
void inject_bind_mount(int init_pid, std::uint64_t start_time, const std::filesystem::path& source,
                       const std::string& target, bool read_only);
// Lazily unmounts `target` in that namespace; a path that is not a mount
// point is fine.
// Unmounts every mount of `source` (its directory, or anything below it)
// in the box's mount namespace, found by what it is, not where: the box may
// have moved the mount point since (a rename of a parent carries the mount
// along). `target` is only for messages. Throws when one stays.
void remove_injected_mount(int init_pid, std::uint64_t start_time,
                           const std::filesystem::path& source, const std::string& target);

// openat2(dirfd, path, flags, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS):
// `path` is resolved as if dirfd were "/" (".." and absolute symlinks stay
// beneath it). Returns the fd or -1 with errno set.
int open_beneath(int root_fd, const std::string& path, int flags, unsigned mode = 0);

}  // namespace boxd::local
