#include "client/transport.hpp"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/ssl.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <memory>

#include <nlohmann/json.hpp>

#include "client/token_cache.hpp"
#include "common/files.hpp"
#include "common/paths.hpp"
#include "common/unique_fd.hpp"

namespace boxd::client {

namespace {

using Clock = std::chrono::steady_clock;

// "host:port" or "[v6]:port" -> host (brackets removed) and port.
std::pair<std::string, std::string> split_host_port(const std::string& target) {
  const auto colon = target.rfind(':');
  std::string host = target.substr(0, colon);
  std::string port = colon == std::string::npos ? "" : target.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return {host, port};
}

int ms_left(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

using Fd = UniqueFd;

// A connected socket to one of the target's addresses, or the error.
std::string connect_to(const std::string& target, Clock::time_point deadline, Fd& out) {
  const auto [host, port] = split_host_port(target);
  struct addrinfo hints {};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  struct addrinfo* list = nullptr;
  if (const int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &list); rc != 0) {
    return "cannot resolve " + host + ": " + ::gai_strerror(rc);
  }
  std::unique_ptr<struct addrinfo, void (*)(struct addrinfo*)> owned(list, ::freeaddrinfo);
  std::string error = "no address";
  for (const auto* a = list; a != nullptr; a = a->ai_next) {
    Fd fd(::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol));
    if (fd.get() < 0) {
      error = std::strerror(errno);
      continue;
    }
    if (::connect(fd.get(), a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) {
      error = std::strerror(errno);
      continue;
    }
    struct pollfd pfd {
      fd.get(), POLLOUT, 0
    };
    const int ready = ::poll(&pfd, 1, ms_left(deadline));
    if (ready <= 0) {
      error = ready == 0 ? "timed out" : std::strerror(errno);
      continue;
    }
    int so_error = 0;
    socklen_t length = sizeof so_error;
    ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &so_error, &length);
    if (so_error != 0) {
      error = std::strerror(so_error);
      continue;
    }
    out.reset(fd.release());
    return {};
  }
  return error;
}

bool is_ip_literal(const std::string& host) {
  unsigned char buffer[sizeof(struct in6_addr)];
  return ::inet_pton(AF_INET, host.c_str(), buffer) == 1 ||
         ::inet_pton(AF_INET6, host.c_str(), buffer) == 1;
}

// The bytes of a TLS ClientHello for `host` (memory BIOs: no socket I/O).
std::string client_hello(const std::string& host) {
  std::unique_ptr<SSL_CTX, void (*)(SSL_CTX*)> ctx(SSL_CTX_new(TLS_client_method()), SSL_CTX_free);
  if (!ctx) {
    return {};
  }
  std::unique_ptr<SSL, void (*)(SSL*)> ssl(SSL_new(ctx.get()), SSL_free);
  if (!ssl) {
    return {};
  }
  BIO* in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl.get(), in, out);  // ssl owns both now
  if (!is_ip_literal(host)) {
    SSL_set_tlsext_host_name(ssl.get(), host.c_str());
  }
  static const unsigned char k_alpn[] = {2, 'h', '2'};
  SSL_set_alpn_protos(ssl.get(), k_alpn, sizeof k_alpn);
  SSL_connect(ssl.get());  // wants to read: the hello is in `out`
  char* data = nullptr;
  const long size = BIO_get_mem_data(out, &data);
  return size > 0 ? std::string(data, static_cast<std::size_t>(size)) : std::string();
}

bool send_all(int fd, const std::string& data, Clock::time_point deadline) {
  std::size_t sent = 0;
  while (sent < data.size()) {
    const ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
      return false;
    }
    struct pollfd pfd {
      fd, POLLOUT, 0
    };
    if (::poll(&pfd, 1, ms_left(deadline)) <= 0) {
      return false;
    }
  }
  return true;
}

ProbeResult classify(const unsigned char* bytes, ssize_t n) {
  using Kind = ProbeResult::Kind;
  if (n == 0) {
    return {Kind::Plaintext,
            "the server closed the connection on a TLS hello (as a plaintext HTTP/2 server does)"};
  }
  const bool tls_version = n < 2 || bytes[1] == 0x03;
  if (bytes[0] == 0x16 && tls_version) {
    return {Kind::Tls, "the server answered a TLS hello with a TLS handshake"};
  }
  if (bytes[0] == 0x15 && tls_version) {
    return {Kind::Tls, "the server answered a TLS hello with a TLS alert"};
  }
  return {Kind::Plaintext,
          "the server answered a TLS hello with bytes that are not TLS "
          "(plaintext HTTP/2)"};
}

std::string age_text(std::int64_t seconds) {
  if (seconds < 60) {
    return "just now";
  }
  if (seconds < 3600) {
    return std::to_string(seconds / 60) + "m ago";
  }
  if (seconds < 86400) {
    return std::to_string(seconds / 3600) + "h ago";
  }
  return std::to_string(seconds / 86400) + "d ago";
}

}  // namespace

std::string tcp_connect_error(const std::string& target, std::chrono::milliseconds timeout) {
  Fd fd;
  std::string error = connect_to(target, Clock::now() + timeout, fd);
  if (error == "timed out") {
    error += " after " + std::to_string(timeout.count()) + " ms";
  }
  if (!error.empty()) {
    error[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(error[0])));
  }
  return error;
}

ProbeResult probe_tls(const std::string& target, std::chrono::milliseconds timeout) {
  using Kind = ProbeResult::Kind;
  const auto deadline = Clock::now() + timeout;
  Fd fd;
  if (std::string error = connect_to(target, deadline, fd); !error.empty()) {
    return {Kind::Unknown, "cannot connect to " + target + ": " + error};
  }
  const std::string hello = client_hello(split_host_port(target).first);
  if (hello.empty()) {
    return {Kind::Unknown, "cannot build a TLS hello (OpenSSL)"};
  }
  if (!send_all(fd.get(), hello, deadline)) {
    return {Kind::Unknown, "cannot send a TLS hello to " + target};
  }
  for (;;) {
    struct pollfd pfd {
      fd.get(), POLLIN, 0
    };
    const int ready = ::poll(&pfd, 1, ms_left(deadline));
    if (ready == 0) {
      return {Kind::Unknown, "no answer to a TLS hello from " + target + " within " +
                                 std::to_string(timeout.count()) + " ms"};
    }
    unsigned char bytes[2] = {};
    const ssize_t n = ready < 0 ? -1 : ::recv(fd.get(), bytes, sizeof bytes, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      continue;
    }
    if (n < 0) {
      // A reset right after the hello: the server dropped it, as h2c does.
      if (errno == ECONNRESET) {
        return classify(bytes, 0);
      }
      return {Kind::Unknown,
              std::string("reading the answer to a TLS hello: ") + std::strerror(errno)};
    }
    return classify(bytes, n);
  }
}

TransportCache::TransportCache(std::filesystem::path file) : m_file(std::move(file)) {}

TransportCache TransportCache::default_cache() {
  return TransportCache(cache_dir() / "transport.json");
}

namespace {
nlohmann::json read_cache(const std::filesystem::path& file) {
  std::optional<std::string> text;
  try {
    text = read_file(file);
  } catch (...) {
    return nlohmann::json::object();
  }
  nlohmann::json doc = nlohmann::json::parse(text.value_or(""), nullptr, false);
  return doc.is_object() ? doc : nlohmann::json::object();
}

bool write_cache(const std::filesystem::path& file, const nlohmann::json& doc) {
  try {
    ensure_dir(file.parent_path(), 0700);
    write_file_atomic(file, doc.dump(2) + "\n", 0600);
    return true;
  } catch (...) {
    return false;
  }
}
}  // namespace

std::optional<CachedTransport> TransportCache::load(const std::string& target,
                                                    std::int64_t now) const {
  const nlohmann::json doc = read_cache(m_file);
  auto it = doc.find(target);
  if (it == doc.end() || !it->is_object()) {
    return std::nullopt;
  }
  const auto transport = it->find("transport");
  const auto checked_at = it->find("checked_at");
  if (transport == it->end() || !transport->is_string() || checked_at == it->end() ||
      !checked_at->is_number_integer()) {
    return std::nullopt;
  }
  const std::string name = transport->get<std::string>();
  if (name != "tls" && name != "plaintext") {
    return std::nullopt;
  }
  CachedTransport entry{name == "tls", checked_at->get<std::int64_t>(), ""};
  if (auto reason = it->find("reason"); reason != it->end() && reason->is_string()) {
    entry.reason = reason->get<std::string>();
  }
  if (now - entry.checked_at > k_transport_cache_secs || entry.checked_at > now + 60) {
    return std::nullopt;
  }
  return entry;
}

bool TransportCache::store(const std::string& target, const CachedTransport& entry) const {
  nlohmann::json doc = read_cache(m_file);
  doc[target] = {{"transport", entry.tls ? "tls" : "plaintext"},
                 {"checked_at", entry.checked_at},
                 {"reason", entry.reason}};
  return write_cache(m_file, doc);
}

void TransportCache::drop(const std::string& target) const {
  nlohmann::json doc = read_cache(m_file);
  if (doc.erase(target) > 0) {
    write_cache(m_file, doc);
  }
}

TransportMode transport_mode(const ResolvedConfig& config) {
  TransportMode mode;
  mode.tls = config.endpoint.tls;
  const std::string& url = config.api_url;
  if (url.rfind("https://", 0) == 0) {
    mode.rule = "https://";
  } else if (url.rfind("http://", 0) == 0) {
    mode.rule = "http://";
  } else {
    auto it = config.sources.find("api_url");
    const bool preset = it != config.sources.end() && it->second == Source::Preset;
    // A bare host:port is TLS, except on loopback (parse_endpoint): there,
    // and for the presets, ask the server.
    mode.auto_transport = preset || !config.endpoint.tls;
    mode.rule = preset ? "preset" : config.endpoint.tls ? "host:port" : "loopback host:port";
  }
  return mode;
}

TransportChoice choose_transport(const ResolvedConfig& config, const TransportCache& cache,
                                 bool fresh, std::chrono::milliseconds timeout) {
  const TransportMode mode = transport_mode(config);
  const std::string& target = config.endpoint.target;
  TransportChoice choice;
  if (!mode.auto_transport) {
    choice.tls = mode.tls;
    choice.reason =
        std::string(mode.tls ? "TLS" : "plaintext (h2c)") + ", as " + mode.rule + " says";
    return choice;
  }
  const std::string prefix = "auto (" + mode.rule + "): ";
  const std::int64_t now = unix_now();
  if (!fresh) {
    if (auto cached = cache.load(target, now)) {
      choice.tls = cached->tls;
      choice.from_cache = true;
      choice.reason = prefix + (cached->tls ? "TLS" : "plaintext (h2c)") + ", cached " +
                      age_text(now - cached->checked_at) + ": " + cached->reason;
      return choice;
    }
  }
  const ProbeResult probe = probe_tls(target, timeout);
  choice.probed = true;
  if (probe.kind == ProbeResult::Kind::Unknown) {
    choice.tls = mode.tls;
    choice.reason = prefix + (mode.tls ? "TLS" : "plaintext (h2c)") +
                    " (the default; nothing cached: " + probe.detail + ")";
    return choice;
  }
  choice.tls = probe.kind == ProbeResult::Kind::Tls;
  cache.store(target, {choice.tls, now, probe.detail});
  choice.reason =
      prefix + (choice.tls ? "TLS" : "plaintext (h2c)") + ", probed just now: " + probe.detail;
  return choice;
}

}  // namespace boxd::client
