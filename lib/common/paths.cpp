#include "common/paths.hpp"

#include <pwd.h>
#include <unistd.h>
#include <cstdlib>

namespace boxd {

namespace {

std::filesystem::path env_path(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') {
    return {};
  }
  return value;
}

std::filesystem::path home_dir() {
  if (auto home = env_path("HOME"); !home.empty()) {
    return home;
  }
  if (const passwd* pw = ::getpwuid(::getuid()); pw != nullptr && pw->pw_dir != nullptr) {
    return pw->pw_dir;
  }
  return "/";
}

std::filesystem::path xdg(const char* variable, const char* fallback) {
  if (auto dir = env_path(variable); !dir.empty() && dir.is_absolute()) {
    return dir;
  }
  return home_dir() / fallback;
}

}  // namespace

std::filesystem::path config_dir() {
  if (auto dir = env_path("BOXD_CONFIG_DIR"); !dir.empty()) {
    return dir;
  }
  return xdg("XDG_CONFIG_HOME", ".config") / "boxd";
}

std::filesystem::path cache_dir() {
  return xdg("XDG_CACHE_HOME", ".cache") / "boxd";
}

std::filesystem::path local_state_dir() {
  return xdg("XDG_DATA_HOME", ".local/share") / "boxd-local";
}

}  // namespace boxd
