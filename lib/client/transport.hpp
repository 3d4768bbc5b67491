// The transport of an endpoint whose URL does not say (docs/wire-contract.md,
// section 5): the presets and a bare loopback host:port are "auto". boxd's
// own material disagrees on whether production speaks TLS or plaintext
// HTTP/2 (h2c) on 9443, so the client asks the server once: it sends a TLS
// ClientHello and reads the first bytes of the answer. A TLS record (a
// handshake or an alert) means TLS; anything else, or the connection closed
// on the hello (what an h2c server does with bytes that are not the HTTP/2
// preface), means h2c. TLS is tried first because it is the safe default: a
// server that cannot be reached or does not answer in time gives no answer,
// the channel stays TLS and nothing is cached. The certificate is not
// judged here: gRPC verifies it on the real channel, so a bad certificate
// fails the call instead of downgrading it. An explicit https:// (or
// http://) is never probed.
//
// The answer is cached per endpoint in <cache_dir>/transport.json for a week,
// so the warm path reads one small file and opens no extra connection. When
// a call with a cached answer cannot connect, the client probes again and, if
// the server changed its mind, retries once with the new transport.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "client/config.hpp"

namespace boxd::client {

inline constexpr std::chrono::milliseconds k_tls_probe_timeout{1500};
inline constexpr std::int64_t k_transport_cache_secs = 7 * 24 * 3600;

struct ProbeResult {
  enum class Kind { Tls, Plaintext, Unknown } kind = Kind::Unknown;
  std::string detail;  // "the server answered the TLS hello with a TLS handshake record"
};

// Connects to `target` ("host:port", "[v6]:port") within `timeout`, sends a
// TLS ClientHello (SNI for a host name, ALPN h2) and classifies the answer.
ProbeResult probe_tls(const std::string& target, std::chrono::milliseconds timeout);

// "" when a TCP connection to `target` succeeds within `timeout`, else why
// not ("connection refused", "timed out after 300 ms", "cannot resolve ...").
std::string tcp_connect_error(const std::string& target, std::chrono::milliseconds timeout);

struct CachedTransport {
  bool tls = false;
  std::int64_t checked_at = 0;  // unix seconds
  std::string reason;
};

// <dir>/transport.json: {"host:port": {"transport": "tls"|"plaintext",
// "checked_at": N, "reason": "..."}}. Unreadable = a miss; writing is best effort.
class TransportCache {
 public:
  explicit TransportCache(std::filesystem::path file);
  static TransportCache default_cache();
  const std::filesystem::path& path() const { return m_file; }
  // The entry if present and younger than k_transport_cache_secs at `now`.
  std::optional<CachedTransport> load(const std::string& target, std::int64_t now) const;
  bool store(const std::string& target, const CachedTransport& entry) const;
  void drop(const std::string& target) const;

 private:
  std::filesystem::path m_file;
};

// How the configuration asks for the transport: by the API URL's scheme
// (http:// h2c, https:// TLS), a bare host:port (TLS), or auto for the
// presets and a bare loopback host:port.
struct TransportMode {
  bool auto_transport = false;
  bool tls = false;  // the transport, or auto's default when the server gives no answer
  std::string rule;  // "http://", "https://", "host:port", "loopback host:port", "preset"
};
TransportMode transport_mode(const ResolvedConfig& config);

// What the channel uses and why, for -v and doctor.
struct TransportChoice {
  bool tls = false;
  bool probed = false;      // a probe ran just now
  bool from_cache = false;  // the cached answer was used
  std::string reason;       // "auto (preset): TLS, cached 2h ago: the server answered ..."
};

// The transport for the configured endpoint: as the URL says unless it is
// auto; then the cached answer, else a probe (cached when it gave an
// answer). `fresh` ignores the cache (doctor, and after a failed call).
TransportChoice choose_transport(const ResolvedConfig& config, const TransportCache& cache,
                                 bool fresh = false,
                                 std::chrono::milliseconds timeout = k_tls_probe_timeout);

}  // namespace boxd::client
