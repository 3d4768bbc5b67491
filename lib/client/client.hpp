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
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
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

// Lets another thread (a Ctrl-C watcher) cancel a streaming call in
// flight: cancel() cancels the current call, and any later one at once.
class CallCancel {
 public:
  void cancel();
  bool cancelled() const;
  // Used by the client around each call.
  void attach(grpc::ClientContext* context);
  void detach();

 private:
  mutable std::mutex m_mutex;
  grpc::ClientContext* m_context = nullptr;
  bool m_cancelled = false;
};

// Reads up to `size` bytes into `buffer`; returns the count, 0 at EOF.
using ReadFn = std::function<std::size_t(char* buffer, std::size_t size)>;
using WriteFn = std::function<void(std::string_view data)>;
// Bytes done so far and the total.
using ProgressFn = std::function<void(std::uint64_t done, std::uint64_t total)>;

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

  // Files and logs (client_files.cpp). upload_file streams exactly
  // total_size bytes from `read` in 1 MiB chunks and checks the server's
  // bytes_written == total_size (a short read or write is an Error).
  // download_file streams to `write` and checks that total_size bytes came.
  std::uint64_t upload_file(const std::string& vm, const std::string& path,
                            std::uint64_t total_size, const ReadFn& read,
                            const ProgressFn& progress = {}, CallCancel* cancel = nullptr);
  std::uint64_t download_file(const std::string& vm, const std::string& path,
                              const WriteFn& write, const ProgressFn& progress = {},
                              CallCancel* cancel = nullptr);
  api::UploadFileResponse upload_small(const std::string& vm, const std::string& path,
                                       const std::string& data);
  std::string download_small(const std::string& vm, const std::string& path);
  api::ListDirResponse list_dir(const std::string& vm, const std::string& path);
  // Calls `write` for each chunk of the box's console log until the stream
  // ends (follow: until the box stops or is destroyed, or `cancel`).
  void stream_logs(const std::string& vm, bool follow, const WriteFn& write,
                   CallCancel* cancel = nullptr);

  // Disks (client_files.cpp)
  api::DiskInfo create_disk(const std::string& name, std::uint64_t size_bytes);
  std::vector<api::DiskInfo> list_disks();
  void destroy_disk(const std::string& disk);
  api::DiskInfo attach_disk(const api::AttachDiskRequest& request);
  api::DiskInfo detach_disk(const std::string& disk, const std::string& vm);

  // Identity
  api::WhoamiResponse whoami();
  api::GetConfigResponse get_config();

  // Proxies (client_net.cpp). vm "" lists all the caller's proxies; name ""
  // is the default proxy; port is a number or "auto" (default proxy only).
  std::vector<api::ProxyInfo> list_proxies(const std::string& vm);
  api::ProxyInfo create_proxy(const std::string& vm, const std::string& name, std::uint32_t port);
  void set_proxy_port(const std::string& vm, const std::string& name, const std::string& port);
  void delete_proxy(const std::string& vm, const std::string& name);
  // Templates (client_net.cpp).
  api::TemplateInfo create_template(const api::CreateTemplateRequest& request);
  std::vector<api::TemplateInfo> list_templates();
  void delete_template(const std::string& template_id_or_name);
  api::CreateVmResponse create_vm_from_template(const api::CreateVmFromTemplateRequest& request);
  // Domains (client_net.cpp).
  api::CustomDomainInfo bind_domain(const std::string& domain, const std::string& vm);
  void unbind_domain(const std::string& domain);
  std::vector<api::CustomDomainInfo> list_domains();
  // Networks (client_net.cpp). name "" = the server picks one.
  std::string create_network(const std::string& name);
  std::vector<api::NetworkInfo> list_networks();
  // Tokens (client_net.cpp). expires_in_secs 0 = the server's default.
  api::CreateTokenResponse create_token(std::uint32_t expires_in_secs);
  std::vector<api::TokenInfo> list_tokens();
  void revoke_token(const std::string& jti);
  // Snapshots (client_net.cpp). `snapshot` is a name or an id; name "" = the VM's name.
  api::CreateSnapshotResponse create_snapshot(const std::string& vm, const std::string& name);
  api::SnapshotInfo get_snapshot(const std::string& snapshot);
  std::vector<api::SnapshotInfo> list_snapshots();
  void delete_snapshot(const std::string& snapshot);
  api::CreateVmResponse create_vm_from_snapshot(const api::CreateVmFromSnapshotRequest& request);
  // Sizing, idle timeouts, wake (client_net.cpp). 0 = unchanged for resize,
  // off for the timeouts.
  api::ResizeVmResponse resize_vm(const std::string& vm, std::uint32_t vcpu,
                                  std::uint64_t memory_bytes);
  void set_auto_suspend_timeout(const std::string& vm, std::uint32_t secs);
  void set_auto_hibernate_timeout(const std::string& vm, std::uint32_t secs);
  void wake_vm(const std::string& vm);
  // Bot protection and exposed ports (client_net.cpp). protocol "tcp" | "udp".
  void set_bot_protection(const std::string& vm, bool enabled);
  api::ExposePortResponse expose_port(const std::string& vm, std::uint32_t port,
                                      const std::string& protocol);

  // The JWT in use (exchanging if needed), for `auth status` / doctor. Never log it.
  std::string current_token();
  // Where the credential came from ("BOXD_TOKEN", "credentials.json", "--api-key"...).
  std::string credential_source() const;

  // The newest CLI version a server advertised (`x-boxd-cli-latest` in the
  // initial metadata of any unary call so far); "" when none did. The CLI
  // decides whether to print an update notice (update_notice.hpp).
  std::string advertised_cli_latest() const;

 private:
  // For calls implemented outside client.cpp: a context carrying the
  // credentials (no deadline), and a unary call with the usual deadline and
  // the one retry after UNAUTHENTICATED with a cached token.
  std::unique_ptr<grpc::ClientContext> new_stream_context();
  api::BoxdApi::Stub& stub();
  void unary(const std::function<grpc::Status(api::BoxdApi::Stub&, grpc::ClientContext&)>& call);

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
