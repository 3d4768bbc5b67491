// credentials.json (contracts.md point 3): {"NAME": {"api_key": "..."}},
// keyed by the active profile, else the environment name. Written
// atomically (temp file, fsync, rename), mode 0600, in a 0700 directory;
// other entries are kept as they are.
#pragma once

#include <filesystem>
#include <string>

namespace boxd::cli {

std::filesystem::path credentials_path();

// Sets entry -> {"api_key": api_key}, replacing what the entry held.
void store_api_key(const std::filesystem::path& path, const std::string& entry,
                   const std::string& api_key);

// Removes the entry. Returns false when there was none.
bool remove_credentials(const std::filesystem::path& path, const std::string& entry);

}  // namespace boxd::cli
