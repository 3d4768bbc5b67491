// credentials.json (docs/design.md, section 3): {"NAME": {"api_key": "..."}},
// keyed by the active profile, else the environment name. Written
// atomically (temp file, fsync, rename), mode 0600, in a 0700 directory;
// other entries are kept as they are.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace boxd::cli {

std::filesystem::path credentials_path();

// Sets entry -> {"api_key": api_key}, replacing what the entry held.
void store_api_key(const std::filesystem::path& path, const std::string& entry,
                   const std::string& api_key);

// Removes the entry. Returns false when there was none.
bool remove_credentials(const std::filesystem::path& path, const std::string& entry);

// Like ssh with a private key: when the file can be read or written by
// anyone but its owner (any of mode 077), the warning to print; nullopt when
// the mode is fine or the file does not exist.
std::optional<std::string> credentials_permission_problem(const std::filesystem::path& path);

}  // namespace boxd::cli
