// Configuration resolution.
//
// Every setting is looked up in four layers, highest first: the command-line
// flag, the environment variable, the active profile in config.json, and the
// environment preset (production, staging, local). The profile is itself
// chosen by --profile > BOXD_PROFILE > config.json's "default_profile"; the
// preset by --environment > BOXD_ENVIRONMENT > the profile's "environment" >
// "production". Credentials (api_key, token) come from flag > env >
// credentials.json, where the entry is keyed by the active profile's name,
// else by the environment name.
//
// When both an API key and a token are present, the one from the higher layer
// wins and the other is dropped (BOXD_TOKEN beats a stored key; --api-key
// beats BOXD_TOKEN). On the same layer both are kept and the client prefers
// the token.
//
// What can go wrong: a typo in an environment or profile name silently
// pointing at production; so both are checked and the error lists the valid
// names. A broken config file is a usage error naming the file, never a
// crash, and no message ever contains a credential.
#include "client/config.hpp"

#include <cstdlib>

#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "common/files.hpp"
#include "common/paths.hpp"

namespace boxd::client {

namespace {

// The presets' API URLs carry no scheme: their transport is auto
// (client/transport.hpp), since boxd's API reference says h2c on 9443 and
// its clients use TLS there.
struct Preset {
  const char* name;
  const char* api_url;
  const char* exchange_url;
};

constexpr Preset k_presets[] = {
    {"production", "boxd.sh:9443", "https://boxd.sh/api/v1/auth/token"},
    {"staging", "boxd-stg.sh:9443", "https://boxd-stg.sh/api/v1/auth/token"},
    {"local", "127.0.0.1:9443", "http://127.0.0.1:9444/api/v1/auth/token"},
};

constexpr int k_default_port = 9443;

const Preset* find_preset(const std::string& name) {
  for (const auto& preset : k_presets) {
    if (name == preset.name) {
      return &preset;
    }
  }
  return nullptr;
}

std::string preset_names() {
  std::string names;
  for (const auto& preset : k_presets) {
    if (!names.empty()) {
      names += ", ";
    }
    names += preset.name;
  }
  return names;
}

nlohmann::json parse_json_file(const std::string& text, const char* file_name) {
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) {
    return nlohmann::json::object();
  }
  nlohmann::json doc = nlohmann::json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    throw Error(ErrorClass::Usage, std::string(file_name) + " is not a valid JSON object",
                "fix or remove the file in " + config_dir().string());
  }
  return doc;
}

std::optional<std::string> string_field(const nlohmann::json& object, const char* key) {
  if (!object.is_object()) {
    return std::nullopt;
  }
  auto it = object.find(key);
  if (it == object.end() || !it->is_string()) {
    return std::nullopt;
  }
  std::string value = it->get<std::string>();
  if (value.empty()) {
    return std::nullopt;
  }
  return value;
}

// One setting through the flag > env > profile > fallback layers.
struct Layered {
  std::optional<std::string> value;
  Source source = Source::None;
};

Layered pick(const std::optional<std::string>& flag, const Getenv& getenv, const char* env_name,
             const std::optional<std::string>& profile_value) {
  if (flag && !flag->empty()) {
    return {flag, Source::Flag};
  }
  if (auto env = getenv(env_name); env && !env->empty()) {
    return {env, Source::Env};
  }
  if (profile_value) {
    return {profile_value, Source::Profile};
  }
  return {};
}

bool is_loopback_host(const std::string& host) {
  return host == "localhost" || host == "[::1]" || host.rfind("127.", 0) == 0;
}

bool valid_host_name(const std::string& host) {
  for (char c : host) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '.' || c == '_';
    if (!ok) {
      return false;
    }
  }
  return true;
}

bool valid_ipv6_literal(const std::string& inner) {
  if (inner.empty() || inner.find(':') == std::string::npos) {
    return false;
  }
  for (char c : inner) {
    const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
                    c == ':' || c == '.';
    if (!ok) {
      return false;
    }
  }
  return true;
}

[[noreturn]] void bad_url(const std::string& api_url, const std::string& why) {
  throw Error(ErrorClass::Usage, "invalid API URL '" + api_url + "': " + why,
              "use http://HOST:PORT (plaintext), https://HOST:PORT (TLS) or HOST:PORT");
}

}  // namespace

std::string source_name(Source s) {
  switch (s) {
    case Source::Flag:
      return "flag";
    case Source::Env:
      return "environment variable";
    case Source::Profile:
      return "profile";
    case Source::Credentials:
      return "credentials.json";
    case Source::Preset:
      return "preset";
    case Source::Default:
      return "default";
    case Source::None:
      return "none";
  }
  return "none";
}

std::string describe_source(const std::string& key, Source s) {
  static const std::map<std::string, std::pair<std::string, std::string>> k_names = {
      {"api_key", {"--api-key", "BOXD_API_KEY"}},
      {"token", {"--token", "BOXD_TOKEN"}},
      {"environment", {"--environment", "BOXD_ENVIRONMENT"}},
      {"api_url", {"--api-url", "BOXD_API_URL"}},
      {"exchange_url", {"--exchange-url", "BOXD_EXCHANGE_URL"}},
      {"profile", {"--profile", "BOXD_PROFILE"}},
  };
  auto it = k_names.find(key);
  if (s == Source::Flag && it != k_names.end()) {
    return "flag " + it->second.first;
  }
  if (s == Source::Env && it != k_names.end()) {
    return "env " + it->second.second;
  }
  return source_name(s);
}

namespace {

// "HOST[:PORT]" or "[IPv6][:PORT]" (no scheme, no path): the host (IPv6 in
// brackets) and the port's text ("" when none is given).
std::pair<std::string, std::string> split_host_port(const std::string& rest,
                                                    const std::string& api_url) {
  std::string host;
  std::string port_text;
  if (!rest.empty() && rest.front() == '[') {
    auto close = rest.find(']');
    if (close == std::string::npos) {
      bad_url(api_url, "unterminated IPv6 address");
    }
    host = rest.substr(0, close + 1);
    if (!valid_ipv6_literal(host.substr(1, host.size() - 2))) {
      bad_url(api_url, "invalid IPv6 address");
    }
    std::string after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        bad_url(api_url, "unexpected text after the IPv6 address");
      }
      port_text = after.substr(1);
      if (port_text.empty()) {
        bad_url(api_url, "empty port");
      }
    }
  } else {
    auto colon = rest.find(':');
    host = rest.substr(0, colon);
    if (colon != std::string::npos) {
      port_text = rest.substr(colon + 1);
      if (port_text.empty()) {
        bad_url(api_url, "empty port");
      }
    }
    if (!valid_host_name(host)) {
      bad_url(api_url, "invalid host name");
    }
  }
  if (host.empty()) {
    bad_url(api_url, "missing host");
  }
  return {host, port_text};
}

int parse_port(const std::string& port_text, const std::string& api_url) {
  int port = k_default_port;
  if (!port_text.empty()) {
    if (port_text.size() > 5 || port_text.find_first_not_of("0123456789") != std::string::npos) {
      bad_url(api_url, "invalid port '" + port_text + "'");
    }
    port = std::stoi(port_text);
    if (port < 1 || port > 65535) {
      bad_url(api_url, "port out of range");
    }
  }
  return port;
}

}  // namespace

Endpoint parse_endpoint(const std::string& api_url) {
  std::string rest = api_url;
  enum class Scheme { Http, Https, Bare } scheme = Scheme::Bare;
  if (auto pos = rest.find("://"); pos != std::string::npos) {
    const std::string name = rest.substr(0, pos);
    if (name == "http") {
      scheme = Scheme::Http;
    } else if (name == "https") {
      scheme = Scheme::Https;
    } else {
      bad_url(api_url, "unsupported scheme '" + name + "'");
    }
    rest = rest.substr(pos + 3);
  }
  if (!rest.empty() && rest.back() == '/') {
    rest.pop_back();
  }
  if (rest.find('/') != std::string::npos) {
    bad_url(api_url, "a gRPC endpoint has no path");
  }
  if (rest.find('@') != std::string::npos) {
    bad_url(api_url, "user information is not allowed");
  }

  const auto [host, port_text] = split_host_port(rest, api_url);
  const int port = parse_port(port_text, api_url);

  Endpoint endpoint;
  endpoint.target = host + ":" + std::to_string(port);
  switch (scheme) {
    case Scheme::Http:
      endpoint.tls = false;
      break;
    case Scheme::Https:
      endpoint.tls = true;
      break;
    case Scheme::Bare:
      endpoint.tls = !is_loopback_host(host);
      break;
  }
  return endpoint;
}

namespace {

// 1. The profile (flag > env > default_profile): its object in config.json,
// or an empty one when none is chosen.
nlohmann::json resolve_profile(const ConfigFlags& flags, const Getenv& getenv,
                               const nlohmann::json& config_doc, ResolvedConfig& result) {
  nlohmann::json profiles = nlohmann::json::object();
  if (auto it = config_doc.find("profiles"); it != config_doc.end() && it->is_object()) {
    profiles = *it;
  }
  Layered profile = pick(flags.profile, getenv, "BOXD_PROFILE", std::nullopt);
  if (!profile.value) {
    if (auto name = string_field(config_doc, "default_profile")) {
      profile = {name, Source::Default};
    }
  }
  if (!profile.value) {
    return nlohmann::json::object();
  }
  auto it = profiles.find(*profile.value);
  if (it == profiles.end() || !it->is_object()) {
    std::string valid;
    for (const auto& [name, unused] : profiles.items()) {
      valid += valid.empty() ? name : ", " + name;
    }
    throw Error(ErrorClass::Usage,
                "unknown profile '" + *profile.value + "' (valid profiles: " +
                    (valid.empty() ? std::string("none defined") : valid) + ")",
                "profiles are defined in " + (config_dir() / "config.json").string());
  }
  result.profile = *profile.value;
  result.sources["profile"] = profile.source;
  return *it;
}

// 2. The environment (preset) and 3. the URLs and the endpoint.
void resolve_endpoint(const ConfigFlags& flags, const Getenv& getenv,
                      const nlohmann::json& profile_doc, ResolvedConfig& result) {
  Layered environment =
      pick(flags.environment, getenv, "BOXD_ENVIRONMENT", string_field(profile_doc, "environment"));
  if (!environment.value) {
    environment = {std::string("production"), Source::Default};
  }
  result.environment = *environment.value;
  result.sources["environment"] = environment.source;
  const Preset* preset = find_preset(result.environment);

  Layered api_url =
      pick(flags.api_url, getenv, "BOXD_API_URL", string_field(profile_doc, "api_url"));
  Layered exchange_url = pick(flags.exchange_url, getenv, "BOXD_EXCHANGE_URL",
                              string_field(profile_doc, "exchange_url"));
  // A custom environment name is fine in a profile that names both URLs;
  // anywhere else an unknown name is a typo.
  const bool needs_preset = !api_url.value || !exchange_url.value ||
                            environment.source == Source::Flag || environment.source == Source::Env;
  if (preset == nullptr && needs_preset) {
    throw Error(ErrorClass::Usage, "unknown environment '" + result.environment +
                                       "' (valid environments: " + preset_names() + ")");
  }
  if (!api_url.value) {
    api_url = {std::string(preset->api_url), Source::Preset};
  }
  if (!exchange_url.value) {
    exchange_url = {std::string(preset->exchange_url), Source::Preset};
  }
  result.api_url = *api_url.value;
  result.exchange_url = *exchange_url.value;
  result.sources["api_url"] = api_url.source;
  result.sources["exchange_url"] = exchange_url.source;
  result.endpoint = parse_endpoint(result.api_url);
}

// 4. Credentials: an API key or a token, whichever has the higher source.
void resolve_credentials(const ConfigFlags& flags, const Getenv& getenv,
                         const nlohmann::json& credentials_doc, ResolvedConfig& result) {
  const std::string credentials_key = result.profile.empty() ? result.environment : result.profile;
  nlohmann::json stored = nlohmann::json::object();
  if (auto it = credentials_doc.find(credentials_key);
      it != credentials_doc.end() && it->is_object()) {
    stored = *it;
  }
  Layered api_key = pick(flags.api_key, getenv, "BOXD_API_KEY", std::nullopt);
  if (!api_key.value) {
    if (auto value = string_field(stored, "api_key")) {
      api_key = {value, Source::Credentials};
    }
  }
  Layered token = pick(flags.token, getenv, "BOXD_TOKEN", std::nullopt);
  if (!token.value) {
    if (auto value = string_field(stored, "token")) {
      token = {value, Source::Credentials};
    }
  }
  // Source enumerators are ordered highest precedence first.
  if (api_key.value && token.value && api_key.source != token.source) {
    if (api_key.source < token.source) {
      token = {};
    } else {
      api_key = {};
    }
  }
  if (api_key.value) {
    result.api_key = *api_key.value;
    result.sources["api_key"] = api_key.source;
    result.key_from_argv = api_key.source == Source::Flag;
  }
  if (token.value) {
    result.token = *token.value;
    result.sources["token"] = token.source;
  }
}

}  // namespace

ResolvedConfig resolve_config(const ConfigFlags& flags, const Getenv& getenv,
                              const std::string& config_json, const std::string& credentials_json) {
  const nlohmann::json config_doc = parse_json_file(config_json, "config.json");
  const nlohmann::json credentials_doc = parse_json_file(credentials_json, "credentials.json");
  ResolvedConfig result;
  const nlohmann::json profile_doc = resolve_profile(flags, getenv, config_doc, result);
  resolve_endpoint(flags, getenv, profile_doc, result);
  resolve_credentials(flags, getenv, credentials_doc, result);
  return result;
}

ResolvedConfig resolve_config(const ConfigFlags& flags) {
  const Getenv getenv = [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) {
      return std::nullopt;
    }
    return std::string(value);
  };
  const auto dir = config_dir();
  const std::string config_json = read_file(dir / "config.json").value_or("");
  const std::string credentials_json = read_file(dir / "credentials.json").value_or("");
  return resolve_config(flags, getenv, config_json, credentials_json);
}

}  // namespace boxd::client
