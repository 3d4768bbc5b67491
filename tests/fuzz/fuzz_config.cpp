// resolve_config: config.json and credentials.json (files a user edits by
// hand) and the BOXD_* environment variables. A broken file or value is a
// usage error (boxd::Error), never a crash or another exception.
//
// Input: config.json, credentials.json, BOXD_PROFILE, BOXD_ENVIRONMENT,
// BOXD_API_URL, BOXD_EXCHANGE_URL, BOXD_API_KEY, separated by lines "%%"
// (an empty field is an unset variable).
#include <map>
#include <string>

#include "client/config.hpp"
#include "common/error.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using boxd::fuzz::require;
  const auto field = boxd::fuzz::fields(boxd::fuzz::as_text(data, size), 7);
  const std::map<std::string, std::string> env = {{"BOXD_PROFILE", field[2]},
                                                  {"BOXD_ENVIRONMENT", field[3]},
                                                  {"BOXD_API_URL", field[4]},
                                                  {"BOXD_EXCHANGE_URL", field[5]},
                                                  {"BOXD_API_KEY", field[6]}};
  const boxd::client::Getenv getenv =
      [&env](const std::string& name) -> std::optional<std::string> {
    const auto it = env.find(name);
    if (it == env.end() || it->second.empty()) {
      return std::nullopt;
    }
    return it->second;
  };
  try {
    const auto config = boxd::client::resolve_config({}, getenv, field[0], field[1]);
    require(!config.api_url.empty() && !config.exchange_url.empty(), "both URLs are resolved");
    require(config.endpoint.target == boxd::client::parse_endpoint(config.api_url).target,
            "the endpoint is the api_url's");
    require(field[6].empty() || config.api_key == field[6], "BOXD_API_KEY beats the files");
  } catch (const boxd::Error& e) {
    require(e.error_class() == boxd::ErrorClass::Usage, "bad configuration is a usage error");
    // The key may only show where another field that contains it is echoed.
    const std::string& key = field[6];
    bool echoed = false;
    for (std::size_t i = 0; i < 6; ++i) {
      echoed = echoed || field[i].find(key) != std::string::npos;
    }
    const std::string message = std::string(e.what()) + e.hint();
    require(key.size() < 12 || echoed || message.find(key) == std::string::npos,
            "an error never shows the API key");
  }
  return 0;
}
