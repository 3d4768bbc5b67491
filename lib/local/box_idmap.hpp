// Per-box user-namespace id ranges (subordinate ids).
//
// Every box of the namespace runtime runs in a user namespace that maps box
// ids 0..65535 to host ids BASE..BASE+65535, a range no other box, no other
// boxd server and no host user has: box root is host uid BASE, box user
// `boxd` (1000) is host uid BASE+1000, and neither is anybody on the host.
//
// Allocation is host-wide, so parallel servers (tests run many) never hand
// out the same range: a registry directory (/var/lib/boxd-local/idmap, one
// subdirectory per slot, created atomically under an flock) records which
// box directory holds each slot. A slot whose box directory is gone (a state
// dir deleted without destroying its boxes) is taken over. Ranges start at
// 2^30 and skip every range /etc/subuid or /etc/subgid hands to a user.
//
// The range of a box is written to <box dir>/idmap. Files on a box's disk
// are owned by its host ids; the disk records the base it is shifted to
// (<disk>/.idbase, absent = 0: ids as seen inside the box). A disk copied
// from another box (fork, snapshot) or written by an older boxd is shifted
// to the box's own range at boot (ensure_disk_ids).
#pragma once

#include <cstdint>
#include <filesystem>

#include "common/files.hpp"
#include "common/unique_fd.hpp"

namespace boxd::local {

constexpr std::uint32_t k_box_id_count = 65536;

// The box's base host id; allocates a range on first use. The slot's owner
// record is always durable first; with `batch`, the box's own record of its
// range (box_dir/idmap) is written without waiting for the disk and made
// durable with the batch (a new box's disk: one wait for all its files);
// a crash before that leaves the box without a range and the slot taken
// until it reads as stale. Throws boxd::Error.
std::uint32_t box_id_base(const std::filesystem::path& box_dir, DurableFiles* batch = nullptr);

// A new user namespace mapping ids 0..65535 to host ids base..base+65535
// (uid and gid), as an fd (O_CLOEXEC) for setns() and idmapped mounts. A
// short-lived child is cloned into it so that we, host root, can write its
// maps; the child is gone when this returns. Throws boxd::Error.
UniqueFd make_box_userns(std::uint32_t base);

// Gives the box's range back (destroy). Best effort.
void release_box_ids(const std::filesystem::path& box_dir);

// Shifts the owner and group of every file below `root` (not following
// symlinks, not crossing into other file systems) from the range at `from`
// to the range at `to`; ids outside the `from` range are left alone.
// set-user/group-ID bits survive the change.
void shift_tree_ids(const std::filesystem::path& root, std::uint32_t from, std::uint32_t to);

// Makes the disk's files owned by the range at `base` (reads and rewrites
// <disk>/.idbase).
void ensure_disk_ids(const std::filesystem::path& disk, std::uint32_t base);

// The base recorded on a disk (0 when none).
std::uint32_t disk_id_base(const std::filesystem::path& disk);

// Writes the base a disk's files are owned by (after a copy).
void set_disk_id_base(const std::filesystem::path& disk, std::uint32_t base);

}  // namespace boxd::local
