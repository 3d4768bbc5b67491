// The boxd client library: a thin, typed layer over the BoxdApi gRPC stubs,
// shaped like the Python SDK's Compute object. It resolves credentials
// (token, cached JWT, or an API key exchanged once), attaches
// `authorization: Bearer` and `x-boxd-client` metadata to every call, turns
// every failure into boxd::Error, and on UNAUTHENTICATED with a cached token
// drops it, exchanges once more and retries once (never for CreateVm's
// side effects: a retry happens only when the server refused the token).
// No printing, no CLI11, no exit().
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "boxd/api/v1/api.grpc.pb.h"
#include "client/config.hpp"

namespace boxd::client {

namespace api = boxd::api::v1;

// One exec call in flight. Thread-safe in the way gRPC streams are: one
// thread may write (stdin, resize, close) while another reads.
class ExecSession {
 public:
  virtual ~ExecSession() = default;
  virtual bool write_stdin(const std::string& data) = 0;   // false: stream closed
  virtual bool resize(unsigned cols, unsigned rows) = 0;
  virtual void close_stdin() = 0;                          // half-close (WritesDone)
  // Next server chunk (output, or the final one with exit_code); false at end.
  virtual bool read(api::ExecChunk& chunk) = 0;
  // After read() returned false: throws boxd::Error if the call failed.
  virtual void finish() = 0;
  virtual void cancel() = 0;                               // TryCancel
};

struct ExecRequest {
  std::string vm;          // name or id
  std::string command;     // the one command string ("" = login shell)
  bool tty = false;
  unsigned cols = 0, rows = 0;
  std::string term;        // sent with the first chunk in tty mode
  std::optional<std::chrono::milliseconds> deadline;  // --timeout
};

class Client {
 public:
  explicit Client(ResolvedConfig config);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  const ResolvedConfig& config() const;

  // Boxes
  api::CreateVmResponse create_vm(const api::CreateVmRequest& request);
  api::GetVmResponse get_vm(const std::string& vm);
  std::vector<api::GetVmResponse> list_vms();
  api::ForkVmResponse fork_vm(const api::ForkVmRequest& request);
  void start_vm(const std::string& vm);
  void stop_vm(const std::string& vm);
  void reboot_vm(const std::string& vm);
  void destroy_vm(const std::string& vm);
  api::SuspendVmResponse suspend_vm(const std::string& vm);
  api::ResumeVmResponse resume_vm(const std::string& vm);

  // Exec: sends the first chunk and returns the open stream.
  std::unique_ptr<ExecSession> exec(const ExecRequest& request);

  // Identity
  api::WhoamiResponse whoami();
  api::GetConfigResponse get_config();

  // The JWT in use (exchanging if needed), for `auth status` / doctor. Never log it.
  std::string current_token();
  // Where the credential came from ("BOXD_TOKEN", "credentials.json", "--api-key"...).
  std::string credential_source() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

// Exchanges an API key for a JWT over HTTP(S) (POST {"api_key":...}).
// 401 -> Authentication, 429 -> QuotaExceeded ("rate limited"), 5xx and
// network errors -> Connection, malformed/oversized body or a redirect ->
// Internal. Never follows redirects. Never puts the key in a message.
struct ExchangeResult {
  std::string token;
  std::int64_t expires_at = 0;
  std::string user_id;
};
ExchangeResult exchange_api_key(const std::string& exchange_url, const std::string& api_key,
                                std::chrono::milliseconds timeout = std::chrono::seconds(15));

}  // namespace boxd::client
