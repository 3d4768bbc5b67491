// Configuration resolution: flag > environment variable > profile in the
// config file > --environment preset (production default, staging, local).
// Pure: the environment and files are passed in, so tests need no setup.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>

namespace boxd::client {

// What the user gave on the command line (empty optional = not given).
struct ConfigFlags {
  std::optional<std::string> api_key;
  std::optional<std::string> token;
  std::optional<std::string> environment;
  std::optional<std::string> api_url;
  std::optional<std::string> exchange_url;
  std::optional<std::string> profile;
};

// Where a value came from, for `auth status`, `doctor` and -v.
enum class Source { Flag, Env, Profile, Credentials, Preset, Default, None };
std::string source_name(Source s);  // "flag", "environment variable", "profile", ...
// With the setting's name ("api_url", "api_key", ...): "flag --api-url",
// "env BOXD_API_URL", "profile", "credentials.json", "preset", ...
std::string describe_source(const std::string& key, Source s);

struct Endpoint {
  std::string target;  // "host:port" for grpc::CreateChannel
  bool tls = false;    // scheme rules: docs/wire-contract.md, section 5
};

// Parses an api_url: http:// plaintext, https:// TLS, bare host:port TLS
// except localhost/127.*/[::1]. Throws boxd::Error(Usage) on garbage.
Endpoint parse_endpoint(const std::string& api_url);

struct ResolvedConfig {
  std::string environment;  // production | staging | local | custom profile env
  std::string api_url;
  std::string exchange_url;
  std::string api_key;  // may be empty; never log
  std::string token;    // may be empty; never log
  std::string profile;  // empty = none
  Endpoint endpoint;
  std::map<std::string, Source> sources;  // "api_url" -> Source::Env, ...
  bool key_from_argv = false;             // warn: visible in the process list
};

using Getenv = std::function<std::optional<std::string>(const std::string&)>;

// config_json: contents of $BOXD_CONFIG_DIR/config.json (may be empty);
// credentials_json: contents of credentials.json (may be empty).
// Throws boxd::Error(Usage) for an unknown environment or profile.
ResolvedConfig resolve_config(const ConfigFlags& flags, const Getenv& getenv,
                              const std::string& config_json, const std::string& credentials_json);

// The same, reading the real environment and files under config_dir().
ResolvedConfig resolve_config(const ConfigFlags& flags);

}  // namespace boxd::client
