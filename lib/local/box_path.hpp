// Paths inside a box, as its user sees them: the one lexical normalisation
// the file calls (files.cpp) and disk mount paths (disks.cpp) share. Nothing
// here touches a file system: symlinks are resolved later, inside the box,
// by the file helper (box_file.hpp).
#pragma once

#include <string>
#include <string_view>

namespace boxd::local {

// The box user's home: where relative paths start.
inline constexpr std::string_view k_box_home = "/home/boxd";

// An absolute path normalised lexically.
struct NormalisedPath {
  std::string path;      // "/" + the parts joined by "/"; "/" for the root
  bool dotdot = false;   // the path has a ".." part
  bool climbed = false;  // a ".." went above "/" (then path stops there)
};

// Normalises `absolute` (which starts with '/'): repeated slashes and "."
// parts are dropped, ".." removes the part before it.
// "/a//b/./c/../d" -> "/a/b/d"; "/.." -> climbed.
NormalisedPath normalise_path(std::string_view absolute);

// A path the caller gave for a file in the box, made absolute ("~" and
// "~/x" = in k_box_home, relative = relative to k_box_home) and
// normalised. INVALID_ARGUMENT when it is empty, holds a NUL byte or a
// ".." climbs above "/" ("path 'RAW' is outside the box").
std::string absolute_in_box(const std::string& raw);

}  // namespace boxd::local
