// What the CLI (cmd/boxd) needs from a boxd server: ClientApi, one method
// per operation a command uses, with the value types they take and return.
// The real implementation is the gRPC Client (client.hpp); unit tests of the
// commands install a fake (tests/unit/fake_client.hpp) in the Context.
//
// The contract every implementation keeps: a failure is a thrown
// boxd::Error whose class says what went wrong (common/error.hpp; the CLI
// maps it to the exit code), never a return value; nothing is printed.
// This header needs only the generated messages (api.pb.h), not gRPC.
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

#include "boxd/api/v1/api.pb.h"
#include "client/config.hpp"

namespace grpc {
class ClientContext;
}

namespace boxd::client {

namespace api = boxd::api::v1;

// One exec call in flight. Thread-safe in the way gRPC streams are: one
// thread may write (stdin, resize, close) while another reads.
class ExecSession {
 public:
  virtual ~ExecSession() = default;
  virtual bool write_stdin(std::string_view data) = 0;  // false: stream closed
  // One read() of at most `max` bytes from `fd`, sent as stdin: what read()
  // returned (0 at EOF, -1 with errno set), with `sent` false when the
  // stream is closed. The gRPC session reads straight into the buffer it
  // sends (no copy in between); this default goes through write_stdin.
  virtual long write_stdin_from(int fd, std::size_t max, bool& sent);
  virtual bool resize(unsigned cols, unsigned rows) = 0;
  virtual void close_stdin() = 0;  // half-close (WritesDone)
  // Next server chunk (output, or the final one with exit_code); false at end.
  virtual bool read(api::ExecChunk& chunk) = 0;
  // After read() returned false: throws boxd::Error if the call failed.
  virtual void finish() = 0;
  virtual void cancel() = 0;  // TryCancel
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
  std::string vm;       // name or id
  std::string command;  // the one command string ("" = login shell)
  bool tty = false;
  unsigned cols = 0, rows = 0;
  std::string term;                                   // sent with the first chunk in tty mode
  std::optional<std::chrono::milliseconds> deadline;  // --timeout
};

class ClientApi {
 public:
  ClientApi() = default;
  virtual ~ClientApi() = default;
  ClientApi(const ClientApi&) = delete;
  ClientApi& operator=(const ClientApi&) = delete;
  ClientApi(ClientApi&&) = delete;
  ClientApi& operator=(ClientApi&&) = delete;

  // Boxes
  virtual api::CreateVmResponse create_vm(const api::CreateVmRequest& request) = 0;
  virtual api::GetVmResponse get_vm(const std::string& vm) = 0;
  virtual std::vector<api::GetVmResponse> list_vms() = 0;
  virtual api::ForkVmResponse fork_vm(const api::ForkVmRequest& request) = 0;
  virtual void start_vm(const std::string& vm) = 0;
  virtual void stop_vm(const std::string& vm) = 0;
  virtual void reboot_vm(const std::string& vm) = 0;
  virtual void destroy_vm(const std::string& vm) = 0;
  virtual api::SuspendVmResponse suspend_vm(const std::string& vm) = 0;
  virtual api::ResumeVmResponse resume_vm(const std::string& vm) = 0;

  // Exec: sends the first chunk and returns the open stream.
  virtual std::unique_ptr<ExecSession> exec(const ExecRequest& request) = 0;

  // Files and logs. upload_file streams exactly total_size bytes from `read`
  // and fails unless the server wrote as many; download_file streams to
  // `write` and fails unless total_size bytes came.
  virtual std::uint64_t upload_file(const std::string& vm, const std::string& path,
                                    std::uint64_t total_size, const ReadFn& read,
                                    const ProgressFn& progress = {},
                                    CallCancel* cancel = nullptr) = 0;
  virtual std::uint64_t download_file(const std::string& vm, const std::string& path,
                                      const WriteFn& write, const ProgressFn& progress = {},
                                      CallCancel* cancel = nullptr) = 0;
  virtual api::UploadFileResponse upload_small(const std::string& vm, const std::string& path,
                                               const std::string& data) = 0;
  virtual std::string download_small(const std::string& vm, const std::string& path) = 0;
  virtual api::ListDirResponse list_dir(const std::string& vm, const std::string& path) = 0;
  // Calls `write` for each chunk of the box's console log until the stream
  // ends (follow: until the box stops or is destroyed, or `cancel`).
  virtual void stream_logs(const std::string& vm, bool follow, const WriteFn& write,
                           CallCancel* cancel = nullptr) = 0;

  // Disks
  virtual api::DiskInfo create_disk(const std::string& name, std::uint64_t size_bytes) = 0;
  virtual std::vector<api::DiskInfo> list_disks() = 0;
  virtual void destroy_disk(const std::string& disk) = 0;
  virtual api::DiskInfo attach_disk(const api::AttachDiskRequest& request) = 0;
  virtual api::DiskInfo detach_disk(const std::string& disk, const std::string& vm) = 0;

  // Identity
  virtual api::WhoamiResponse whoami() = 0;
  virtual api::GetConfigResponse get_config() = 0;

  // Proxies. vm "" lists all the caller's proxies; name "" is the default
  // proxy; port is a number or "auto" (default proxy only).
  virtual std::vector<api::ProxyInfo> list_proxies(const std::string& vm) = 0;
  virtual api::ProxyInfo create_proxy(const std::string& vm, const std::string& name,
                                      std::uint32_t port) = 0;
  virtual void set_proxy_port(const std::string& vm, const std::string& name,
                              const std::string& port) = 0;
  virtual void delete_proxy(const std::string& vm, const std::string& name) = 0;
  // Templates
  virtual api::TemplateInfo create_template(const api::CreateTemplateRequest& request) = 0;
  virtual std::vector<api::TemplateInfo> list_templates() = 0;
  virtual void delete_template(const std::string& template_id_or_name) = 0;
  virtual api::CreateVmResponse create_vm_from_template(
      const api::CreateVmFromTemplateRequest& request) = 0;
  // Domains
  virtual api::CustomDomainInfo bind_domain(const std::string& domain, const std::string& vm) = 0;
  virtual void unbind_domain(const std::string& domain) = 0;
  virtual std::vector<api::CustomDomainInfo> list_domains() = 0;
  // Networks. name "" = the server picks one.
  virtual std::string create_network(const std::string& name) = 0;
  virtual std::vector<api::NetworkInfo> list_networks() = 0;
  // Tokens. expires_in_secs 0 = the server's default.
  virtual api::CreateTokenResponse create_token(std::uint32_t expires_in_secs) = 0;
  virtual std::vector<api::TokenInfo> list_tokens() = 0;
  virtual void revoke_token(const std::string& jti) = 0;
  // Snapshots. `snapshot` is a name or an id; name "" = the VM's name.
  virtual api::CreateSnapshotResponse create_snapshot(const std::string& vm,
                                                      const std::string& name) = 0;
  virtual api::SnapshotInfo get_snapshot(const std::string& snapshot) = 0;
  virtual std::vector<api::SnapshotInfo> list_snapshots() = 0;
  virtual void delete_snapshot(const std::string& snapshot) = 0;
  virtual api::CreateVmResponse create_vm_from_snapshot(
      const api::CreateVmFromSnapshotRequest& request) = 0;
  // Sizing, idle timeouts, wake. 0 = unchanged for resize, off for the timeouts.
  virtual api::ResizeVmResponse resize_vm(const std::string& vm, std::uint32_t vcpu,
                                          std::uint64_t memory_bytes) = 0;
  virtual void set_auto_suspend_timeout(const std::string& vm, std::uint32_t secs) = 0;
  virtual void set_auto_hibernate_timeout(const std::string& vm, std::uint32_t secs) = 0;
  virtual void wake_vm(const std::string& vm) = 0;
  // Bot protection and exposed ports. protocol "tcp" | "udp".
  virtual void set_bot_protection(const std::string& vm, bool enabled) = 0;
  virtual api::ExposePortResponse expose_port(const std::string& vm, std::uint32_t port,
                                              const std::string& protocol) = 0;

  // Where the credential came from ("BOXD_TOKEN", "credentials.json", "--api-key"...).
  virtual std::string credential_source() const = 0;
  // The newest CLI version a server advertised so far ("" when none did);
  // the CLI decides whether to print an update notice (update_notice.hpp).
  virtual std::string advertised_cli_latest() const = 0;
};

}  // namespace boxd::client
