#include "boxd/auth/credentials_store.hpp"

#include <sys/stat.h>

#include <cstdio>

#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "common/files.hpp"
#include "common/paths.hpp"

namespace boxd::cli {

namespace {

nlohmann::json load(const std::filesystem::path& path) {
  const auto text = read_file(path);
  if (!text || text->find_first_not_of(" \t\r\n") == std::string::npos) {
    return nlohmann::json::object();
  }
  nlohmann::json doc = nlohmann::json::parse(*text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    // Never echo the content: it holds secrets.
    throw Error(ErrorClass::Usage, path.string() + " is not a valid JSON object",
                "fix or remove the file, then run 'boxd auth login' again");
  }
  return doc;
}

void save(const std::filesystem::path& path, const nlohmann::json& doc) {
  ensure_dir(path.parent_path(), 0700);
  write_file_atomic(path, doc.dump(2) + "\n", 0600);
}

}  // namespace

std::filesystem::path credentials_path() {
  return config_dir() / "credentials.json";
}

void store_api_key(const std::filesystem::path& path, const std::string& entry,
                   const std::string& api_key) {
  nlohmann::json doc = load(path);
  doc[entry] = nlohmann::json{{"api_key", api_key}};
  save(path, doc);
}

bool remove_credentials(const std::filesystem::path& path, const std::string& entry) {
  nlohmann::json doc = load(path);
  if (!doc.contains(entry)) {
    return false;
  }
  doc.erase(entry);
  save(path, doc);
  return true;
}

std::optional<std::string> credentials_permission_problem(const std::filesystem::path& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) {
    return std::nullopt;
  }
  const unsigned mode = info.st_mode & 07777U;
  if ((mode & 077U) == 0) {
    return std::nullopt;
  }
  char octal[8];
  std::snprintf(octal, sizeof octal, "%04o", mode);
  return "permissions " + std::string(octal) + " for '" + path.string() +
         "' are too open: it holds your credentials; run 'chmod 600 " + path.string() + "'";
}

}  // namespace boxd::cli
