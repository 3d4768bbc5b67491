// Names of boxes, disks, templates, networks and users (DNS labels) and
// environment variable names, against their documented regular expressions.
#include <regex>
#include <string>

#include "common/names.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using boxd::fuzz::require;
  if (size > 256) {
    return -1;  // longer inputs add nothing (the limit is 63) and slow std::regex
  }
  static const std::regex k_label("[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?");
  static const std::regex k_env("[A-Za-z_][A-Za-z0-9_]*");
  const std::string text(boxd::fuzz::as_text(data, size));
  const bool valid = boxd::is_valid_name(text);
  require(valid == std::regex_match(text, k_label), "is_valid_name matches the DNS label rule");
  const std::string problem = boxd::name_problem(text);
  require(problem.empty() == valid, "name_problem is empty exactly for valid names");
  require(valid || problem.find("invalid name '" + text + "'") == 0, "name_problem names the name");
  require(boxd::is_valid_env_name(text) == std::regex_match(text, k_env),
          "is_valid_env_name matches the variable name rule");
  return 0;
}
