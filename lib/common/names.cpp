#include "common/names.hpp"

namespace boxd {

bool is_valid_name(std::string_view name) {
  if (name.empty() || name.size() > 63) {
    return false;
  }
  auto lower_or_digit = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!lower_or_digit(name.front()) || name.back() == '-') {
    return false;
  }
  for (char c : name) {
    if (!lower_or_digit(c) && c != '-') {
      return false;
    }
  }
  return true;
}

std::string name_problem(std::string_view name) {
  if (is_valid_name(name)) {
    return {};
  }
  return "invalid name '" + std::string(name) +
         "': use 1-63 lowercase letters, digits and '-', starting with a letter or digit "
         "and not ending with '-'";
}

bool is_valid_env_name(std::string_view name) {
  if (name.empty()) {
    return false;
  }
  auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; };
  if (!alpha(name.front())) {
    return false;
  }
  for (char c : name) {
    if (!alpha(c) && !(c >= '0' && c <= '9')) {
      return false;
    }
  }
  return true;
}

}  // namespace boxd
