#include "boxd/validators.hpp"

#include "common/names.hpp"
#include "common/sizes.hpp"

namespace boxd::cli {

CLI::Validator box_name_validator() {
  return CLI::Validator([](std::string& value) { return name_problem(value); }, "", "NAME");
}

CLI::Validator size_validator() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        if (parse_size(value)) {
          return {};
        }
        return "invalid size '" + value + "': use e.g. 512M, 4G, 1.5G, 10GiB or a number of bytes";
      },
      "", "SIZE");
}

CLI::Validator memory_validator() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        const auto bytes = parse_size(value);
        if (!bytes) {
          return "invalid size '" + value +
                 "': use e.g. 512M, 4G, 1.5G, 10GiB or a number of bytes";
        }
        return box_memory_problem(*bytes);
      },
      "", "SIZE");
}

CLI::Validator env_pair_validator() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        const auto eq = value.find('=');
        if (eq == std::string::npos) {
          return "invalid environment variable '" + value + "': use KEY=VALUE";
        }
        const std::string name = value.substr(0, eq);
        if (!is_valid_env_name(name)) {
          return "invalid environment variable name '" + name +
                 "': use letters, digits and '_', not starting with a digit";
        }
        return {};
      },
      "", "ENV");
}

std::pair<std::string, std::string> split_env_pair(const std::string& text) {
  const auto eq = text.find('=');
  if (eq == std::string::npos) {
    return {text, ""};
  }
  return {text.substr(0, eq), text.substr(eq + 1)};
}

}  // namespace boxd::cli
