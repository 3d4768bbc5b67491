// CLI11 validators for the values boxd checks before any network call, so a
// bad name, size or env pair is a usage error (exit 2) with the command's help.
#pragma once

#include <string>
#include <utility>

#include <CLI/CLI.hpp>

namespace boxd::cli {

// A VM name: a DNS label (lib/common/names.hpp).
CLI::Validator box_name_validator();
// A size: 512M, 4G, 1.5G, 10GiB, plain bytes (lib/common/sizes.hpp).
CLI::Validator size_validator();
// A box's memory: a size of at least 64 MiB (the server's rule too).
CLI::Validator memory_validator();
// KEY=VALUE with a valid environment variable name.
CLI::Validator env_pair_validator();

// "A=1=2" -> {"A", "1=2"}; call only on values env_pair_validator accepted.
std::pair<std::string, std::string> split_env_pair(const std::string& text);

}  // namespace boxd::cli
