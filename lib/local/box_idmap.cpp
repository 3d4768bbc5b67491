#include "local/box_idmap.hpp"

#include "common/error.hpp"
#include "common/fd.hpp"
#include "common/files.hpp"

#include <fcntl.h>
#include <ftw.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace boxd::local {
namespace {

namespace fs = std::filesystem;

constexpr std::uint32_t k_first_base = 1U << 30;
constexpr std::uint32_t k_slots = 16384;  // 2^30 .. 2^31
constexpr const char* k_default_registry = "/var/lib/boxd-local/idmap";

fs::path registry() {
  const char* forced = getenv("BOXD_IDMAP_REGISTRY");
  return forced != nullptr && forced[0] != '\0' ? fs::path(forced) : fs::path(k_default_registry);
}

std::string read_first_line(const fs::path& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

// Ranges /etc/subuid and /etc/subgid give to users ("name:start:count").
std::vector<std::pair<std::uint64_t, std::uint64_t>> reserved_ranges() {
  std::vector<std::pair<std::uint64_t, std::uint64_t>> ranges;
  for (const char* file : {"/etc/subuid", "/etc/subgid"}) {
    std::ifstream in(file);
    std::string line;
    while (std::getline(in, line)) {
      auto first = line.find(':');
      auto second = line.find(':', first == std::string::npos ? first : first + 1);
      if (first == std::string::npos || second == std::string::npos) {
        continue;
      }
      try {
        std::uint64_t start = std::stoull(line.substr(first + 1, second - first - 1));
        std::uint64_t count = std::stoull(line.substr(second + 1));
        ranges.emplace_back(start, start + count);
      } catch (const std::exception&) {
      }
    }
  }
  return ranges;
}

bool overlaps_reserved(std::uint64_t base,
                       const std::vector<std::pair<std::uint64_t, std::uint64_t>>& reserved) {
  for (const auto& [start, end] : reserved) {
    if (base < end && start < base + k_box_id_count) {
      return true;
    }
  }
  return false;
}

// A slot is stale when the box directory that claimed it no longer holds it.
bool slot_is_stale(const fs::path& slot_dir, std::uint32_t base) {
  const std::string owner = read_first_line(slot_dir / "owner");
  if (owner.empty()) {
    return true;
  }
  return read_first_line(fs::path(owner) / "idmap") != std::to_string(base);
}

class RegistryLock {
 public:
  explicit RegistryLock(const fs::path& dir) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    chmod(dir.c_str(), 0700);
    m_fd = open((dir / ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (m_fd < 0 || flock(m_fd, LOCK_EX) < 0) {
      throw Error(ErrorClass::Internal,
                  std::string("cannot lock the id registry: ") + std::strerror(errno));
    }
  }
  ~RegistryLock() {
    if (m_fd >= 0) {
      close(m_fd);
    }
  }
  RegistryLock(const RegistryLock&) = delete;
  RegistryLock& operator=(const RegistryLock&) = delete;

 private:
  int m_fd = -1;
};

// Where this process's next search starts: the slot after the one it took
// last. Every slot below may be taken (by live boxes of this or another
// server), and checking one costs a mkdir and two file reads: from 0 every
// time, a create with 130 boxes on the host spent 10-20 ms here.
std::atomic<std::uint32_t> g_next_slot{0};

std::uint32_t allocate(const fs::path& box_dir, DurableFiles* batch) {
  const fs::path dir = registry();
  RegistryLock lock(dir);
  const auto reserved = reserved_ranges();
  const std::uint32_t start = g_next_slot.load() % k_slots;
  for (std::uint32_t i = 0; i < k_slots; ++i) {
    const std::uint32_t slot = (start + i) % k_slots;
    const std::uint32_t base = k_first_base + slot * k_box_id_count;
    if (overlaps_reserved(base, reserved)) {
      continue;
    }
    const fs::path slot_dir = dir / std::to_string(slot);
    if (mkdir(slot_dir.c_str(), 0700) < 0) {
      if (errno != EEXIST || !slot_is_stale(slot_dir, base)) {
        continue;
      }
    }
    // The slot's owner is on disk before the box's record of the slot can
    // be: a box whose `idmap` survives a crash always finds its slot taken
    // by it (else the slot would read as stale and be handed out again).
    write_file_atomic(slot_dir / "owner", fs::absolute(box_dir).string() + "\n", 0600);
    if (batch != nullptr) {
      write_file_atomic(box_dir / "idmap", std::to_string(base) + "\n", 0600, Sync::None);
      batch->keep(box_dir / "idmap");
    } else {
      write_file_atomic(box_dir / "idmap", std::to_string(base) + "\n", 0600);
    }
    g_next_slot = slot + 1;
    return base;
  }
  throw Error(ErrorClass::QuotaExceeded, "no free user id range for another box");
}

struct ShiftState {
  std::uint32_t from = 0;
  std::uint32_t to = 0;
  int errors = 0;
};
thread_local ShiftState* t_shift = nullptr;

std::uint32_t shifted(std::uint32_t id, const ShiftState& s) {
  if (id >= s.from && id - s.from < k_box_id_count) {
    return s.to + (id - s.from);
  }
  return id;
}

int shift_one(const char* path, const struct stat* st, int /*flag*/, struct FTW* /*ftw*/) {
  ShiftState& s = *t_shift;
  const std::uint32_t uid = shifted(st->st_uid, s);
  const std::uint32_t gid = shifted(st->st_gid, s);
  if (uid == st->st_uid && gid == st->st_gid) {
    return 0;
  }
  if (lchown(path, uid, gid) < 0) {
    ++s.errors;
    return 0;
  }
  // chown clears set-user/group-ID bits, even for root: put them back.
  if (!S_ISLNK(st->st_mode) && (st->st_mode & (S_ISUID | S_ISGID)) != 0) {
    chmod(path, st->st_mode & 07777);
  }
  return 0;
}

bool write_id_map(const std::string& path, const std::string& map) {
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_CLOEXEC));
  return fd.valid() && write(fd.get(), map.data(), map.size()) == static_cast<ssize_t>(map.size());
}

// The child of make_box_userns: a copy of one thread of a threaded server,
// so async-signal-safe calls only. Waits for the end of `hold` and exits.
[[noreturn]] void hold_userns_child(int hold) {
  syscall(SYS_close_range, 0U, static_cast<unsigned>(hold) - 1U, 0U);
  syscall(SYS_close_range, static_cast<unsigned>(hold) + 1U, ~0U, 0U);
  char byte = 0;
  while (read(hold, &byte, 1) < 0 && errno == EINTR) {
  }
  _exit(0);
}

}  // namespace

UniqueFd make_box_userns(std::uint32_t base) {
  Pipe hold;
  const long pid = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
  if (pid == 0) {
    hold_userns_child(hold.read_fd());
  }
  const int clone_errno = errno;
  hold.read_end().reset();
  if (pid < 0) {
    throw Error(ErrorClass::Internal,
                std::string("creating the box's user namespace: ") + std::strerror(clone_errno));
  }
  const std::string proc = "/proc/" + std::to_string(pid) + "/";
  const std::string map = "0 " + std::to_string(base) + " " + std::to_string(k_box_id_count) + "\n";
  UniqueFd fd;
  if (write_id_map(proc + "uid_map", map) && write_id_map(proc + "gid_map", map)) {
    fd.reset(open((proc + "ns/user").c_str(), O_RDONLY | O_CLOEXEC));
  }
  const int saved = errno;
  hold.write_end().reset();  // lets the child go
  while (waitpid(static_cast<pid_t>(pid), nullptr, 0) < 0 && errno == EINTR) {
  }
  if (!fd.valid()) {
    throw Error(ErrorClass::Internal,
                std::string("mapping the box's user namespace: ") + std::strerror(saved));
  }
  return fd;
}

std::uint32_t box_id_base(const fs::path& box_dir, DurableFiles* batch) {
  const std::string recorded = read_first_line(box_dir / "idmap");
  if (!recorded.empty()) {
    try {
      return static_cast<std::uint32_t>(std::stoul(recorded));
    } catch (const std::exception&) {
    }
  }
  return allocate(box_dir, batch);
}

void release_box_ids(const fs::path& box_dir) {
  const std::string recorded = read_first_line(box_dir / "idmap");
  if (recorded.empty()) {
    return;
  }
  try {
    const std::uint32_t base = static_cast<std::uint32_t>(std::stoul(recorded));
    const fs::path dir = registry();
    RegistryLock lock(dir);
    const fs::path slot_dir = dir / std::to_string((base - k_first_base) / k_box_id_count);
    if (read_first_line(slot_dir / "owner") == fs::absolute(box_dir).string()) {
      std::error_code ec;
      fs::remove_all(slot_dir, ec);
    }
  } catch (const std::exception&) {
  }
}

void shift_tree_ids(const fs::path& root, std::uint32_t from, std::uint32_t to) {
  if (from == to || !fs::exists(root)) {
    return;
  }
  ShiftState state{from, to, 0};
  t_shift = &state;
  nftw(root.c_str(), shift_one, 64, FTW_PHYS | FTW_MOUNT);
  t_shift = nullptr;
  if (state.errors > 0) {
    throw Error(ErrorClass::Internal,
                "could not change the owner of " + std::to_string(state.errors) + " files");
  }
}

std::uint32_t disk_id_base(const fs::path& disk) {
  const std::string recorded = read_first_line(disk / ".idbase");
  try {
    return recorded.empty() ? 0 : static_cast<std::uint32_t>(std::stoul(recorded));
  } catch (const std::exception&) {
    return 0;
  }
}

void set_disk_id_base(const fs::path& disk, std::uint32_t base) {
  write_file_atomic(disk / ".idbase", std::to_string(base) + "\n", 0600);
}

void ensure_disk_ids(const fs::path& disk, std::uint32_t base) {
  const std::uint32_t current = disk_id_base(disk);
  if (current == base) {
    return;
  }
  shift_tree_ids(disk, current, base);
  set_disk_id_base(disk, base);
}

}  // namespace boxd::local
