// The auto transport: what a TLS hello's answer means, the per-endpoint
// cache, and which URLs are auto. The probes talk to tiny in-process TCP
// listeners scripted per test.
#include <doctest/doctest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "client/config.hpp"
#include "client/token_cache.hpp"
#include "client/transport.hpp"

using namespace boxd::client;

namespace {

// Accepts one connection on 127.0.0.1:<free port>, reads what comes, then
// writes `answer` (none: closes at once; hold: keeps it open, silent).
class Listener {
 public:
  explicit Listener(std::string answer, bool hold = false) {
    m_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(m_fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
    ::listen(m_fd, 4);
    socklen_t length = sizeof address;
    ::getsockname(m_fd, reinterpret_cast<sockaddr*>(&address), &length);
    m_port = ntohs(address.sin_port);
    m_thread = std::thread([this, answer = std::move(answer), hold] {
      const int client = ::accept(m_fd, nullptr, nullptr);
      if (client < 0) {
        return;
      }
      char buffer[4096];
      m_received = ::recv(client, buffer, sizeof buffer, 0);
      if (!answer.empty()) {
        ::send(client, answer.data(), answer.size(), MSG_NOSIGNAL);
      }
      if (hold) {
        std::this_thread::sleep_for(std::chrono::milliseconds(600));
      }
      ::close(client);
    });
  }
  ~Listener() {
    ::shutdown(m_fd, SHUT_RDWR);
    m_thread.join();
    ::close(m_fd);
  }
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;
  std::string target() const { return "127.0.0.1:" + std::to_string(m_port); }
  long received() const { return m_received; }

 private:
  int m_fd = -1;
  int m_port = 0;
  std::atomic<long> m_received{0};
  std::thread m_thread;
};

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    char name[] = "/tmp/boxd-transport-XXXXXX";
    path = ::mkdtemp(name);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

ResolvedConfig config_with(const std::string& api_url, Source source) {
  ResolvedConfig config;
  config.api_url = api_url;
  config.endpoint = parse_endpoint(api_url);
  config.sources["api_url"] = source;
  return config;
}

}  // namespace

TEST_CASE("probe: a TLS record in answer means TLS, anything else h2c") {
  {
    Listener tls(std::string("\x16\x03\x03\x00\x10", 5));
    const ProbeResult result = probe_tls(tls.target(), std::chrono::milliseconds(2000));
    CHECK(result.kind == ProbeResult::Kind::Tls);
    CHECK(tls.received() > 40);  // a ClientHello was sent
  }
  {
    Listener alert(std::string("\x15\x03\x01\x00\x02\x02\x28", 7));
    CHECK(probe_tls(alert.target(), std::chrono::milliseconds(2000)).kind ==
          ProbeResult::Kind::Tls);
  }
  {
    // An HTTP/2 frame (GOAWAY) as an h2c server might send it.
    Listener h2c(std::string("\x00\x00\x08\x07\x00\x00\x00\x00\x00", 9));
    CHECK(probe_tls(h2c.target(), std::chrono::milliseconds(2000)).kind ==
          ProbeResult::Kind::Plaintext);
  }
  {
    Listener closes("");
    const ProbeResult result = probe_tls(closes.target(), std::chrono::milliseconds(2000));
    CHECK(result.kind == ProbeResult::Kind::Plaintext);
    CHECK(result.detail.find("closed") != std::string::npos);
  }
}

TEST_CASE("probe: silence and a dead port give no answer, within the timeout") {
  Listener silent("", true);
  const auto start = std::chrono::steady_clock::now();
  const ProbeResult result = probe_tls(silent.target(), std::chrono::milliseconds(200));
  CHECK(result.kind == ProbeResult::Kind::Unknown);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::milliseconds(550));

  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  const std::string dead = "127.0.0.1:" + std::to_string(ntohs(address.sin_port));
  ::close(fd);
  const ProbeResult refused = probe_tls(dead, std::chrono::milliseconds(500));
  CHECK(refused.kind == ProbeResult::Kind::Unknown);
  CHECK(refused.detail.find("cannot connect") != std::string::npos);
  CHECK(tcp_connect_error(dead, std::chrono::milliseconds(300)) == "connection refused");
}

TEST_CASE("transport cache: per endpoint, expires after a week, garbage is a miss") {
  TempDir dir;
  const TransportCache cache(dir.path / "transport.json");
  const std::int64_t now = unix_now();
  CHECK_FALSE(cache.load("a:1", now));
  CHECK(cache.store("a:1", {true, now, "why a"}));
  CHECK(cache.store("b:2", {false, now, "why b"}));
  REQUIRE(cache.load("a:1", now));
  CHECK(cache.load("a:1", now)->tls);
  CHECK(cache.load("a:1", now)->reason == "why a");
  REQUIRE(cache.load("b:2", now));
  CHECK_FALSE(cache.load("b:2", now)->tls);
  CHECK_FALSE(cache.load("a:1", now + k_transport_cache_secs + 1));
  cache.drop("a:1");
  CHECK_FALSE(cache.load("a:1", now));
  CHECK(cache.load("b:2", now));
  std::ofstream(dir.path / "transport.json") << "{not json";
  CHECK_FALSE(cache.load("b:2", now));
  CHECK(std::filesystem::status(dir.path / "transport.json").permissions() !=
        std::filesystem::perms::none);
}

TEST_CASE("transport mode: the scheme decides; presets and bare loopback are auto") {
  CHECK_FALSE(transport_mode(config_with("http://boxd.sh:9443", Source::Flag)).auto_transport);
  CHECK_FALSE(transport_mode(config_with("http://boxd.sh:9443", Source::Flag)).tls);
  const TransportMode https = transport_mode(config_with("https://127.0.0.1:9443", Source::Env));
  CHECK_FALSE(https.auto_transport);  // never downgraded
  CHECK(https.tls);
  const TransportMode bare = transport_mode(config_with("boxd.sh:9443", Source::Flag));
  CHECK_FALSE(bare.auto_transport);
  CHECK(bare.tls);
  CHECK(transport_mode(config_with("127.0.0.1:9443", Source::Flag)).auto_transport);
  const TransportMode preset = transport_mode(config_with("boxd.sh:9443", Source::Preset));
  CHECK(preset.auto_transport);
  CHECK(preset.tls);  // the default when the server gives no answer
  CHECK(preset.rule == "preset");
}

TEST_CASE("choose_transport: a cached answer opens no connection; explicit schemes no probe") {
  TempDir dir;
  const TransportCache cache(dir.path / "transport.json");
  // Nothing listens at this target: only the cache can answer.
  const ResolvedConfig config = config_with("127.0.0.1:1", Source::Flag);
  cache.store("127.0.0.1:1", {true, unix_now(), "handshake"});
  const TransportChoice cached = choose_transport(config, cache);
  CHECK(cached.from_cache);
  CHECK_FALSE(cached.probed);
  CHECK(cached.tls);
  CHECK(cached.reason.find("cached") != std::string::npos);

  const TransportChoice fresh =
      choose_transport(config, cache, true, std::chrono::milliseconds(300));
  CHECK(fresh.probed);
  CHECK_FALSE(fresh.tls);  // loopback's default when nobody answers
  CHECK(fresh.reason.find("nothing cached") != std::string::npos);

  const TransportChoice https =
      choose_transport(config_with("https://127.0.0.1:1", Source::Flag), cache);
  CHECK(https.tls);
  CHECK_FALSE(https.probed);
}

TEST_CASE("choose_transport: a probe's answer is cached for the endpoint") {
  TempDir dir;
  const TransportCache cache(dir.path / "transport.json");
  Listener h2c("");
  const ResolvedConfig config = config_with(h2c.target(), Source::Flag);
  const TransportChoice choice = choose_transport(config, cache);
  CHECK(choice.probed);
  CHECK_FALSE(choice.tls);
  REQUIRE(cache.load(h2c.target(), unix_now()));
  CHECK_FALSE(cache.load(h2c.target(), unix_now())->tls);
}
