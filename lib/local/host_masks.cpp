#include "local/host_masks.hpp"

#include <fcntl.h>
#include <ftw.h>
#include <sys/mount.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>

namespace boxd::local {

namespace {

struct Walk {
  std::size_t prefix = 0;  // length of the walked path
  std::string skip;        // relative to the root
  const std::function<void(const HostMask&)>* found = nullptr;
  const std::function<void()>* every = nullptr;
  std::size_t visited = 0;
};
thread_local Walk* t_walk = nullptr;

int visit(const char* path, const struct stat* st, int flag, struct FTW* ftw) {
  Walk& walk = *t_walk;
  if (walk.every != nullptr && *walk.every && ++walk.visited % 4096 == 0) {
    (*walk.every)();
  }
  if (ftw->level == 0 || flag == FTW_SL || flag == FTW_NS) {
    return FTW_CONTINUE;
  }
  const char* rel = path + walk.prefix;
  while (*rel == '/') {
    ++rel;
  }
  if (!walk.skip.empty() && walk.skip == rel) {
    return FTW_SKIP_SUBTREE;
  }
  if (!masked_mode(st->st_mode)) {
    return FTW_CONTINUE;
  }
  HostMask mask;
  mask.rel.assign(rel);
  mask.mode = st->st_mode;
  mask.uid = st->st_uid;
  mask.gid = st->st_gid;
  (*walk.found)(mask);
  return S_ISDIR(st->st_mode) ? FTW_SKIP_SUBTREE : FTW_CONTINUE;
}

template <typename T>
bool parse_number(std::string_view& text, T& value, int base, char end) {
  auto [next, error] = std::from_chars(text.data(), text.data() + text.size(), value, base);
  if (error != std::errc() || next == text.data() + text.size() || *next != end) {
    return false;
  }
  text.remove_prefix(static_cast<std::size_t>(next - text.data()) + 1);
  return true;
}

// A relative path of plain names: no "", "." or ".." component.
bool plain_relative(std::string_view rel) {
  while (true) {
    const auto slash = rel.find('/');
    const std::string_view part = rel.substr(0, slash);
    if (part.empty() || part == "." || part == "..") {
      return false;
    }
    if (slash == std::string_view::npos) {
      return true;
    }
    rel.remove_prefix(slash + 1);
  }
}

}  // namespace

void scan_host_masks(const std::filesystem::path& root, const std::filesystem::path& skip,
                     const std::function<void(const HostMask&)>& found,
                     const std::function<void()>& every) {
  Walk walk;
  const std::string& dir = root.native();
  if (skip.native().size() > dir.size() && skip.native().compare(0, dir.size(), dir) == 0 &&
      skip.native()[dir.size()] == '/') {
    walk.skip = skip.native().substr(dir.size() + 1);
  }
  walk.found = &found;
  walk.every = &every;
  // The clone has no mounts below it: the walk may cross device numbers.
  const int tree = open_tree(AT_FDCWD, root.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
  const std::string start = tree >= 0 ? "/proc/self/fd/" + std::to_string(tree) + "/." : dir;
  walk.prefix = start.size();
  Walk* outer = t_walk;
  t_walk = &walk;
  nftw(start.c_str(), visit, 32, FTW_PHYS | FTW_ACTIONRETVAL | (tree >= 0 ? 0 : FTW_MOUNT));
  t_walk = outer;
  if (tree >= 0) {
    close(tree);
  }
}

std::string encode_host_masks(const HostMaskList& list) {
  std::string out;
  for (const auto& [dir, listed] : list) {
    out += 'R' + std::to_string(listed.dev) + ' ' + std::to_string(listed.ino) + ' ';
    out += dir;
    out += '\0';
    for (const auto& mask : listed.masks) {
      char numbers[64];
      int n = std::snprintf(numbers, sizeof numbers, "M%o %u %u ", static_cast<unsigned>(mask.mode),
                            static_cast<unsigned>(mask.uid), static_cast<unsigned>(mask.gid));
      out.append(numbers, static_cast<std::size_t>(n));
      out += mask.rel;
      out += '\0';
    }
  }
  return out;
}

std::optional<HostMaskList> decode_host_masks(std::string_view text) {
  HostMaskList list;
  HostMaskDir* current = nullptr;
  while (!text.empty()) {
    const auto end = text.find('\0');
    if (end == std::string_view::npos || end < 2) {
      return std::nullopt;
    }
    std::string_view record = text.substr(0, end);
    text.remove_prefix(end + 1);
    const char kind = record.front();
    record.remove_prefix(1);
    if (kind == 'R') {
      std::uint64_t dev = 0;
      std::uint64_t ino = 0;
      if (!parse_number(record, dev, 10, ' ') || !parse_number(record, ino, 10, ' ') ||
          record.empty() || record.front() != '/') {
        return std::nullopt;
      }
      current = &list[std::string(record)];
      current->dev = dev;
      current->ino = ino;
      continue;
    }
    if (kind != 'M' || current == nullptr) {
      return std::nullopt;
    }
    HostMask mask;
    unsigned mode = 0;
    unsigned uid = 0;
    unsigned gid = 0;
    if (!parse_number(record, mode, 8, ' ') || !parse_number(record, uid, 10, ' ') ||
        !parse_number(record, gid, 10, ' ') || !plain_relative(record)) {
      return std::nullopt;
    }
    mask.mode = static_cast<mode_t>(mode);
    mask.uid = static_cast<uid_t>(uid);
    mask.gid = static_cast<gid_t>(gid);
    mask.rel.assign(record);
    current->masks.push_back(std::move(mask));
  }
  return list;
}

}  // namespace boxd::local
