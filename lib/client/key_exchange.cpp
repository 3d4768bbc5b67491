// The API-key exchange: one HTTP(S) POST that trades a long-lived key for a
// short-lived JWT.
//
//   POST <exchange_url>  Content-Type: application/json  {"api_key":"bxd_..."}
//   200 {"token":"<jwt>","expires_at":<unix s>,"user_id":"..."}
//   401 bad key · 429 rate limited · 5xx unavailable
//
// The request carries a secret, so the transfer is deliberately narrow:
// redirects are never followed (a 3xx could send the key to another host;
// it is an error instead), only http and https are allowed, the response body
// is capped at 64 KiB (a misconfigured URL pointing at a big page fails fast
// instead of eating memory), and both connecting and the whole transfer have
// timeouts. Messages name the exchange URL and the HTTP status, never the key
// or the body (which a broken proxy might echo the key into). libcurl is
// initialised once per process, before the first transfer, under call_once.
#include <curl/curl.h>

#include <cctype>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <utility>

#include <nlohmann/json.hpp>

#include "client/client.hpp"
#include "client/exchange_response.hpp"
#include "common/error.hpp"
#include "common/version.hpp"

namespace boxd::client {

namespace {

constexpr std::size_t k_max_body_bytes = 64 * 1024;
constexpr long k_connect_timeout_ms = 10'000;

void global_init_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Body {
  std::string data;
  bool too_large = false;
};

size_t write_body(char* ptr, size_t size, size_t nmemb, void* user) {
  auto* body = static_cast<Body*>(user);
  const size_t n = size * nmemb;
  if (body->data.size() + n > k_max_body_bytes) {
    body->too_large = true;
    return 0;  // aborts the transfer with CURLE_WRITE_ERROR
  }
  body->data.append(ptr, n);
  return n;
}

struct CurlDeleter {
  void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};
struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

// Loopback is never sent through a proxy (the local server, tests); the
// user's own NO_PROXY list still applies on top.
std::string no_proxy_list() {
  std::string list = "localhost,127.0.0.1,::1";
  for (const char* name : {"NO_PROXY", "no_proxy"}) {
    if (const char* value = std::getenv(name); value != nullptr && *value != '\0') {
      list += ",";
      list += value;
      break;
    }
  }
  return list;
}

// A transfer that failed before an HTTP status: what to tell the user.
Error transfer_error(CURL* handle, CURLcode rc, const std::string& exchange_url) {
  const std::string what = curl_easy_strerror(rc);
  if (rc == CURLE_UNSUPPORTED_PROTOCOL || rc == CURLE_URL_MALFORMAT) {
    return Error(ErrorClass::Usage, "invalid key exchange URL '" + exchange_url + "': " + what,
                 "use an http:// or https:// URL (--exchange-url or BOXD_EXCHANGE_URL)");
  }
  if (rc == CURLE_OPERATION_TIMEDOUT) {
    return Error(ErrorClass::Connection,
                 "the key exchange at " + exchange_url + " did not answer in time");
  }
  long os_errno = 0;
  curl_easy_getinfo(handle, CURLINFO_OS_ERRNO, &os_errno);
  std::string why = what;
  if (rc == CURLE_COULDNT_CONNECT && os_errno != 0) {
    why = std::strerror(static_cast<int>(os_errno));
    why[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(why[0])));
  }
  return Error(ErrorClass::Connection,
               "cannot reach the key exchange at " + exchange_url + ": " + why);
}

// The HTTP answer: 200's body, or the Error its status stands for.
ExchangeResult exchange_answer(long status, const std::string& body,
                               const std::string& exchange_url) {
  if (status == 200) {
    auto fields = parse_exchange_response(body, exchange_url);
    return ExchangeResult{std::move(fields.token), fields.expires_at, std::move(fields.user_id)};
  }
  if (status == 401) {
    throw Error(ErrorClass::Authentication,
                "invalid API key (the key exchange at " + exchange_url + " refused it)",
                "run 'boxd auth login'");
  }
  if (status == 429) {
    throw Error(ErrorClass::QuotaExceeded, "rate limited by the key exchange at " + exchange_url,
                "wait a minute and try again");
  }
  if (status >= 300 && status < 400) {
    throw Error(ErrorClass::Internal,
                "unexpected redirect from the key exchange at " + exchange_url + " (HTTP " +
                    std::to_string(status) + ")",
                "check --exchange-url / BOXD_EXCHANGE_URL; redirects are never followed");
  }
  if (status >= 500) {
    throw Error(ErrorClass::Connection, "the key exchange at " + exchange_url +
                                            " is unavailable (HTTP " + std::to_string(status) +
                                            ")");
  }
  throw Error(ErrorClass::Internal, "unexpected HTTP " + std::to_string(status) +
                                        " from the key exchange at " + exchange_url);
}

}  // namespace

ExchangeResult exchange_api_key(const std::string& exchange_url, const std::string& api_key,
                                std::chrono::milliseconds timeout) {
  global_init_once();
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (!curl) {
    throw Error(ErrorClass::Internal, "cannot initialise libcurl");
  }
  const std::string payload = nlohmann::json{{"api_key", api_key}}.dump();
  const std::string user_agent = std::string("boxd-cli/") + k_version;
  const std::string no_proxy = no_proxy_list();
  std::unique_ptr<curl_slist, SlistDeleter> headers;
  {
    curl_slist* list = curl_slist_append(nullptr, "Content-Type: application/json");
    list = curl_slist_append(list, "Accept: application/json");
    headers.reset(list);
  }
  Body body;
  CURL* handle = curl.get();
  curl_easy_setopt(handle, CURLOPT_URL, exchange_url.c_str());
  curl_easy_setopt(handle, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(handle, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(handle, CURLOPT_POST, 1L);
  curl_easy_setopt(handle, CURLOPT_POSTFIELDS, payload.c_str());
  curl_easy_setopt(handle, CURLOPT_POSTFIELDSIZE, static_cast<long>(payload.size()));
  curl_easy_setopt(handle, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(handle, CURLOPT_USERAGENT, user_agent.c_str());
  curl_easy_setopt(handle, CURLOPT_NOPROXY, no_proxy.c_str());
  curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT_MS,
                   std::min<long>(k_connect_timeout_ms, static_cast<long>(timeout.count())));
  curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, write_body);
  curl_easy_setopt(handle, CURLOPT_WRITEDATA, &body);

  const CURLcode rc = curl_easy_perform(handle);
  if (body.too_large) {
    throw Error(ErrorClass::Internal,
                "response from the key exchange at " + exchange_url + " is larger than 64 KiB");
  }
  if (rc != CURLE_OK) {
    throw transfer_error(handle, rc, exchange_url);
  }
  long status = 0;
  curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &status);
  return exchange_answer(status, body.data, exchange_url);
}

}  // namespace boxd::client
