#include "local/box_path.hpp"

#include <vector>

#include "local/fault.hpp"

namespace boxd::local {

NormalisedPath normalise_path(std::string_view absolute) {
  NormalisedPath out;
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (start <= absolute.size()) {
    std::size_t end = absolute.find('/', start);
    if (end == std::string_view::npos) {
      end = absolute.size();
    }
    const std::string_view part = absolute.substr(start, end - start);
    if (part == "..") {
      out.dotdot = true;
      if (parts.empty()) {
        out.climbed = true;
        break;
      }
      parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    start = end + 1;
  }
  for (const auto part : parts) {
    out.path += "/";
    out.path += part;
  }
  if (out.path.empty()) {
    out.path = "/";
  }
  return out;
}

std::string absolute_in_box(const std::string& raw) {
  if (raw.empty()) {
    fail(Fault::InvalidArgument, "path is required");
  }
  if (raw.find('\0') != std::string::npos) {
    fail(Fault::InvalidArgument, "path contains a NUL byte");
  }
  const std::string home(k_box_home);
  std::string path = raw;
  if (path == "~") {
    path = home;
  } else if (path.starts_with("~/")) {
    path = home + path.substr(1);
  } else if (path[0] != '/') {
    path = home + "/" + path;
  }
  const auto normal = normalise_path(path);
  if (normal.climbed) {
    fail(Fault::InvalidArgument, "path '" + raw + "' is outside the box");
  }
  return normal.path;
}

}  // namespace boxd::local
