#include "common/shell_quote.hpp"

namespace boxd {

namespace {

bool is_bare_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.' || c == '/' || c == '=' || c == ':' || c == '@' || c == '%' ||
         c == '+' || c == ',';
}

}  // namespace

std::string shell_quote(const std::string& word) {
  bool bare = !word.empty();
  for (char c : word) {
    if (!is_bare_char(c)) {
      bare = false;
      break;
    }
  }
  if (bare) {
    return word;
  }
  std::string out = "'";
  for (char c : word) {
    if (c == '\'') {
      out += "'\"'\"'";
    } else {
      out += c;
    }
  }
  out += "'";
  return out;
}

std::string join_command(const std::vector<std::string>& argv) {
  if (argv.empty()) {
    return {};
  }
  if (argv.size() == 1) {
    return argv.front();
  }
  std::string out;
  for (const auto& word : argv) {
    if (!out.empty()) {
      out += ' ';
    }
    out += shell_quote(word);
  }
  return out;
}

std::string wrap_command(const std::string& command,
                         const std::vector<std::pair<std::string, std::string>>& env,
                         const std::string& workdir) {
  std::string out;
  for (const auto& [key, value] : env) {
    out += "export " + key + "=" + shell_quote(value) + "; ";
  }
  if (!workdir.empty()) {
    out += "cd " + shell_quote(workdir) + " || exit 1; ";
  }
  if (command.empty()) {
    // A login shell, started where the prefix left us.
    if (out.empty()) {
      return {};
    }
    out += "exec \"${SHELL:-/bin/sh}\" -l";
    return out;
  }
  return out + command;
}

}  // namespace boxd
