// parse_endpoint: an api_url from a flag, an environment variable or a
// profile. Garbage is a usage error (boxd::Error), never a crash or another
// exception; what it accepts is a host:port that parses again to itself.
#include <string>

#include "client/config.hpp"
#include "common/error.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using boxd::fuzz::require;
  const std::string url(boxd::fuzz::as_text(data, size));
  boxd::client::Endpoint endpoint;
  try {
    endpoint = boxd::client::parse_endpoint(url);
  } catch (const boxd::Error& e) {
    require(e.error_class() == boxd::ErrorClass::Usage, "a bad URL is a usage error");
    return 0;
  }
  const auto colon = endpoint.target.rfind(':');
  require(colon != std::string::npos && colon > 0, "the target is host:port");
  const std::string port = endpoint.target.substr(colon + 1);
  require(!port.empty() && port.size() <= 5 &&
              port.find_first_not_of("0123456789") == std::string::npos,
          "the port is a number");
  const int number = std::stoi(port);
  require(number >= 1 && number <= 65535, "the port is in range");
  require(endpoint.target.find_first_of("/@ \r\n") == std::string::npos,
          "the target has no path, user information or white space");
  for (const char* scheme : {"http://", "https://"}) {
    const auto again = boxd::client::parse_endpoint(scheme + endpoint.target);
    require(again.target == endpoint.target, "the target parses again to itself");
    require(again.tls == (scheme[4] == 's'), "the scheme decides TLS");
  }
  return 0;
}
