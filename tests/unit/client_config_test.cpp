// Configuration precedence and API URL rules (lib/client/config.cpp).
#include <doctest/doctest.h>

#include <map>

#include "client/config.hpp"
#include "common/error.hpp"

using boxd::ErrorClass;
using boxd::client::ConfigFlags;
using boxd::client::Endpoint;
using boxd::client::parse_endpoint;
using boxd::client::resolve_config;
using boxd::client::Source;

namespace {

boxd::client::Getenv env_of(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) {
      return std::nullopt;
    }
    return it->second;
  };
}

const char* k_config = R"({
  "profiles": {
    "work": {"environment": "staging", "api_url": "http://work.example:1234",
             "exchange_url": "http://work.example:1235/api/v1/auth/token"},
    "dev": {"environment": "local"},
    "custom": {"environment": "mycloud", "api_url": "https://my.cloud:443",
               "exchange_url": "https://my.cloud/api/v1/auth/token"}
  }
})";

ErrorClass class_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const boxd::Error& e) {
    return e.error_class();
  }
  FAIL("expected a boxd::Error");
  return ErrorClass::Internal;
}

}  // namespace

TEST_CASE("config: production preset is the default") {
  auto cfg = resolve_config({}, env_of({}), "", "");
  CHECK(cfg.environment == "production");
  CHECK(cfg.api_url == "boxd.sh:9443");
  CHECK(cfg.exchange_url == "https://boxd.sh/api/v1/auth/token");
  CHECK(cfg.sources.at("api_url") == Source::Preset);
  CHECK(cfg.sources.at("environment") == Source::Default);
  CHECK(cfg.endpoint.target == "boxd.sh:9443");
  CHECK(cfg.endpoint.tls);  // auto's default; the server is asked (transport_mode)
  CHECK(cfg.api_key.empty());
  CHECK(cfg.token.empty());
  CHECK(cfg.profile.empty());
}

TEST_CASE("config: staging and local presets") {
  ConfigFlags flags;
  flags.environment = "staging";
  auto staging = resolve_config(flags, env_of({}), "", "");
  CHECK(staging.api_url == "boxd-stg.sh:9443");
  CHECK(staging.exchange_url == "https://boxd-stg.sh/api/v1/auth/token");
  auto local = resolve_config({}, env_of({{"BOXD_ENVIRONMENT", "local"}}), "", "");
  CHECK(local.api_url == "127.0.0.1:9443");
  CHECK(local.exchange_url == "http://127.0.0.1:9444/api/v1/auth/token");
  CHECK(local.sources.at("environment") == Source::Env);
}

TEST_CASE("config: flag beats env beats profile beats preset") {
  const std::string urls_env = "http://env.example:1";
  ConfigFlags flags;
  flags.profile = "work";

  auto from_profile = resolve_config(flags, env_of({}), k_config, "");
  CHECK(from_profile.api_url == "http://work.example:1234");
  CHECK(from_profile.environment == "staging");
  CHECK(from_profile.sources.at("api_url") == Source::Profile);
  CHECK(from_profile.sources.at("profile") == Source::Flag);

  auto from_env = resolve_config(flags, env_of({{"BOXD_API_URL", urls_env}}), k_config, "");
  CHECK(from_env.api_url == urls_env);
  CHECK(from_env.sources.at("api_url") == Source::Env);
  CHECK(from_env.exchange_url == "http://work.example:1235/api/v1/auth/token");

  flags.api_url = "http://flag.example:2";
  auto from_flag = resolve_config(flags, env_of({{"BOXD_API_URL", urls_env}}), k_config, "");
  CHECK(from_flag.api_url == "http://flag.example:2");
  CHECK(from_flag.sources.at("api_url") == Source::Flag);

  // A profile that names only the environment falls back to its preset.
  ConfigFlags dev;
  dev.profile = "dev";
  auto from_preset = resolve_config(dev, env_of({}), k_config, "");
  CHECK(from_preset.api_url == "127.0.0.1:9443");
  CHECK(from_preset.sources.at("api_url") == Source::Preset);

  // --environment beats the profile's environment.
  dev.environment = "staging";
  CHECK(resolve_config(dev, env_of({}), k_config, "").api_url == "boxd-stg.sh:9443");
}

TEST_CASE("config: profile from BOXD_PROFILE and default_profile") {
  auto by_env = resolve_config({}, env_of({{"BOXD_PROFILE", "dev"}}), k_config, "");
  CHECK(by_env.profile == "dev");
  CHECK(by_env.environment == "local");
  const std::string with_default =
      R"({"profiles": {"dev": {"environment": "local"}}, "default_profile": "dev"})";
  auto by_default = resolve_config({}, env_of({}), with_default, "");
  CHECK(by_default.profile == "dev");
  CHECK(by_default.api_url == "127.0.0.1:9443");
}

TEST_CASE("config: a custom environment name is fine in a profile with both URLs") {
  ConfigFlags flags;
  flags.profile = "custom";
  auto cfg = resolve_config(flags, env_of({}), k_config, "");
  CHECK(cfg.environment == "mycloud");
  CHECK(cfg.endpoint.tls);
  CHECK(cfg.endpoint.target == "my.cloud:443");
}

TEST_CASE("config: unknown environment or profile is a usage error listing the valid ones") {
  ConfigFlags flags;
  flags.environment = "prod";
  try {
    resolve_config(flags, env_of({}), "", "");
    FAIL("expected an error");
  } catch (const boxd::Error& e) {
    CHECK(e.error_class() == ErrorClass::Usage);
    const std::string message = e.what();
    CHECK(message.find("'prod'") != std::string::npos);
    CHECK(message.find("production, staging, local") != std::string::npos);
  }
  CHECK(class_of([] {
          resolve_config({}, env_of({{"BOXD_ENVIRONMENT", "x"}}), "", "");
        }) == ErrorClass::Usage);

  ConfigFlags profile;
  profile.profile = "nope";
  try {
    resolve_config(profile, env_of({}), k_config, "");
    FAIL("expected an error");
  } catch (const boxd::Error& e) {
    CHECK(e.error_class() == ErrorClass::Usage);
    const std::string message = e.what();
    CHECK(message.find("'nope'") != std::string::npos);
    CHECK(message.find("custom, dev, work") != std::string::npos);
  }
  CHECK(class_of([] {
          resolve_config({}, env_of({{"BOXD_PROFILE", "x"}}), "", "");
        }) == ErrorClass::Usage);
  CHECK(class_of([] { resolve_config({}, env_of({}), "{not json", ""); }) == ErrorClass::Usage);
}

TEST_CASE("config: credentials.json is the lowest source, keyed by profile or environment") {
  const std::string credentials = R"({
    "production": {"api_key": "bxd_stored_production"},
    "local": {"token": "stored.local.jwt"},
    "dev": {"api_key": "bxd_stored_dev"}
  })";
  auto stored = resolve_config({}, env_of({}), k_config, credentials);
  CHECK(stored.api_key == "bxd_stored_production");
  CHECK(stored.sources.at("api_key") == Source::Credentials);
  CHECK_FALSE(stored.key_from_argv);

  auto local = resolve_config({}, env_of({{"BOXD_ENVIRONMENT", "local"}}), k_config, credentials);
  CHECK(local.token == "stored.local.jwt");
  CHECK(local.api_key.empty());

  ConfigFlags dev;
  dev.profile = "dev";
  CHECK(resolve_config(dev, env_of({}), k_config, credentials).api_key == "bxd_stored_dev");

  auto env_key = resolve_config({}, env_of({{"BOXD_API_KEY", "bxd_env"}}), k_config, credentials);
  CHECK(env_key.api_key == "bxd_env");
  CHECK(env_key.sources.at("api_key") == Source::Env);

  ConfigFlags flag_key;
  flag_key.api_key = "bxd_flag";
  auto flagged =
      resolve_config(flag_key, env_of({{"BOXD_API_KEY", "bxd_env"}}), k_config, credentials);
  CHECK(flagged.api_key == "bxd_flag");
  CHECK(flagged.key_from_argv);
}

TEST_CASE("config: between a key and a token the higher source wins") {
  const std::string credentials = R"({"production": {"api_key": "bxd_stored"}})";
  auto env_token = resolve_config({}, env_of({{"BOXD_TOKEN", "env.jwt"}}), "", credentials);
  CHECK(env_token.token == "env.jwt");
  CHECK(env_token.api_key.empty());

  ConfigFlags flags;
  flags.api_key = "bxd_flag";
  auto flag_key = resolve_config(flags, env_of({{"BOXD_TOKEN", "env.jwt"}}), "", credentials);
  CHECK(flag_key.api_key == "bxd_flag");
  CHECK(flag_key.token.empty());
}

TEST_CASE("config: errors never contain a credential") {
  ConfigFlags flags;
  flags.api_key = "bxd_secret_value";
  flags.environment = "bogus";
  try {
    resolve_config(flags, env_of({{"BOXD_TOKEN", "secret.jwt"}}), "", "");
    FAIL("expected an error");
  } catch (const boxd::Error& e) {
    const std::string text = std::string(e.what()) + e.hint();
    CHECK(text.find("bxd_secret_value") == std::string::npos);
    CHECK(text.find("secret.jwt") == std::string::npos);
  }
}

TEST_CASE("endpoint: scheme decides TLS") {
  Endpoint http = parse_endpoint("http://boxd.sh:9443");
  CHECK(http.target == "boxd.sh:9443");
  CHECK_FALSE(http.tls);
  Endpoint https = parse_endpoint("https://boxd.sh:9443/");
  CHECK(https.target == "boxd.sh:9443");
  CHECK(https.tls);
  Endpoint bare = parse_endpoint("boxd.sh:9443");
  CHECK(bare.target == "boxd.sh:9443");
  CHECK(bare.tls);
  CHECK(parse_endpoint("https://127.0.0.1:5000").tls);
}

TEST_CASE("endpoint: bare loopback stays plaintext") {
  CHECK_FALSE(parse_endpoint("localhost:9443").tls);
  CHECK_FALSE(parse_endpoint("127.0.0.1:9443").tls);
  CHECK_FALSE(parse_endpoint("127.1.2.3:80").tls);
  Endpoint v6 = parse_endpoint("[::1]:7000");
  CHECK(v6.target == "[::1]:7000");
  CHECK_FALSE(v6.tls);
  CHECK(parse_endpoint("[2001:db8::1]:7000").tls);
  CHECK(parse_endpoint("127x.example:1").tls);
}

TEST_CASE("endpoint: default port 9443") {
  CHECK(parse_endpoint("http://boxd.sh").target == "boxd.sh:9443");
  CHECK(parse_endpoint("localhost").target == "localhost:9443");
  CHECK(parse_endpoint("http://[::1]").target == "[::1]:9443");
}

TEST_CASE("endpoint: garbage is a usage error") {
  for (const std::string bad :
       {"", "http://", "https://:9443", ":9443", "ftp://boxd.sh:21", "boxd.sh:", "boxd.sh:abc",
        "boxd.sh:0", "boxd.sh:70000", "boxd.sh:123456", "http://boxd.sh:9443/path", "[::1",
        "[::1]x", "[]:1", "bo xd.sh:1", "user@boxd.sh:1", "grpc://x:1"}) {
    CAPTURE(bad);
    CHECK(class_of([&] { parse_endpoint(bad); }) == ErrorClass::Usage);
  }
}

TEST_CASE("config: describe_source names the flag or variable") {
  using boxd::client::describe_source;
  CHECK(describe_source("api_url", Source::Flag) == "flag --api-url");
  CHECK(describe_source("api_key", Source::Env) == "env BOXD_API_KEY");
  CHECK(describe_source("token", Source::Credentials) == "credentials.json");
}
