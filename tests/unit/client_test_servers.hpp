// In-process fakes for the client tests: a key exchange over HTTP on
// 127.0.0.1:<free port>, scripted per test, recording what it received.
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace boxd::test {

class FakeExchange {
 public:
  // handler gets the request body and fills the response.
  using Handler = std::function<void(const std::string& body, httplib::Response& res)>;

  explicit FakeExchange(Handler handler) : m_handler(std::move(handler)) {
    m_server.Post("/api/v1/auth/token",
                  [this](const httplib::Request& req, httplib::Response& res) {
                    {
                      std::lock_guard lock(m_mutex);
                      m_bodies.push_back(req.body);
                      m_content_types.push_back(req.get_header_value("Content-Type"));
                    }
                    m_handler(req.body, res);
                  });
    m_server.Get("/elsewhere", [this](const httplib::Request&, httplib::Response& res) {
      m_followed = true;
      res.set_content(R"({"token":"t","expires_at":1,"user_id":"u"})", "application/json");
    });
    m_port = m_server.bind_to_any_port("127.0.0.1");
    m_thread = std::thread([this] { m_server.listen_after_bind(); });
    // stop() is a no-op until the loop runs: wait for it, or a quick
    // destruction would hang in join().
    while (!m_server.is_running()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  ~FakeExchange() {
    m_server.stop();
    m_thread.join();
  }

  FakeExchange(const FakeExchange&) = delete;
  FakeExchange& operator=(const FakeExchange&) = delete;

  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(m_port) + "/api/v1/auth/token";
  }
  std::string base() const { return "http://127.0.0.1:" + std::to_string(m_port); }
  std::size_t calls() const {
    std::lock_guard lock(m_mutex);
    return m_bodies.size();
  }
  std::string body(std::size_t i) const {
    std::lock_guard lock(m_mutex);
    return m_bodies.at(i);
  }
  std::string content_type(std::size_t i) const {
    std::lock_guard lock(m_mutex);
    return m_content_types.at(i);
  }
  bool followed_redirect() const { return m_followed; }

 private:
  Handler m_handler;
  httplib::Server m_server;
  int m_port = 0;
  std::thread m_thread;
  mutable std::mutex m_mutex;
  std::vector<std::string> m_bodies;
  std::vector<std::string> m_content_types;
  std::atomic<bool> m_followed{false};
};

}  // namespace boxd::test
