#include "local/host_masks.hpp"

#include <ftw.h>

#include <charconv>
#include <cstdio>

namespace boxd::local {

namespace {

struct Walk {
  std::size_t prefix = 0;  // length of the root's path
  std::string skip;
  const std::function<void(const HostMask&)>* found = nullptr;
};
thread_local Walk* t_walk = nullptr;

int visit(const char* path, const struct stat* st, int flag, struct FTW* ftw) {
  const Walk& walk = *t_walk;
  if (ftw->level == 0 || flag == FTW_SL || flag == FTW_NS) {
    return FTW_CONTINUE;
  }
  if (!walk.skip.empty() && walk.skip == path) {
    return FTW_SKIP_SUBTREE;
  }
  if (!masked_mode(st->st_mode)) {
    return FTW_CONTINUE;
  }
  HostMask mask;
  mask.rel.assign(path + walk.prefix + 1);
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
                     const std::function<void(const HostMask&)>& found) {
  Walk walk;
  walk.prefix = root.native().size();
  while (walk.prefix > 1 && root.native()[walk.prefix - 1] == '/') {
    --walk.prefix;
  }
  walk.skip = skip.native();
  walk.found = &found;
  Walk* outer = t_walk;
  t_walk = &walk;
  nftw(root.c_str(), visit, 32, FTW_PHYS | FTW_MOUNT | FTW_ACTIONRETVAL);
  t_walk = outer;
}

std::string encode_host_masks(const HostMaskList& list) {
  std::string out;
  for (const auto& [dir, masks] : list) {
    out += 'R';
    out += dir;
    out += '\0';
    for (const auto& mask : masks) {
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
  std::vector<HostMask>* current = nullptr;
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
      current = &list[std::string(record)];
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
    current->push_back(std::move(mask));
  }
  return list;
}

}  // namespace boxd::local
