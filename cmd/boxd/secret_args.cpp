#include "boxd/secret_args.hpp"

#include <algorithm>
#include <cstring>
#include <string_view>

namespace boxd::cli {

namespace {

constexpr std::string_view k_secret_flags[] = {"--api-key", "--token"};

// The value itself; of KEY=USER (the server's --api-key), only KEY.
void wipe_value(char* value) {
  const std::string_view text(value);
  const auto eq = text.rfind('=');
  const std::size_t secret = eq == std::string_view::npos || eq == 0 ? text.size() : eq;
  std::fill_n(value, secret, '*');
}

}  // namespace

std::vector<std::string> take_secret_arguments(int argc, char** argv) {
  std::vector<std::string> copies(argv, argv + argc);
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg(argv[i]);
    if (arg == "--") {
      break;  // a command's own arguments (box exec ... -- cmd)
    }
    for (const auto flag : k_secret_flags) {
      if (arg == flag && i + 1 < argc) {
        wipe_value(argv[++i]);
        break;
      }
      if (arg.size() > flag.size() && arg.starts_with(flag) && arg[flag.size()] == '=') {
        wipe_value(argv[i] + flag.size() + 1);
        break;
      }
    }
  }
  return copies;
}

}  // namespace boxd::cli
