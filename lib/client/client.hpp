// The boxd client library: the gRPC implementation of ClientApi
// (client_api.hpp), a thin, typed layer over the BoxdApi stubs shaped like
// the Python SDK's Compute object. It resolves credentials (token, cached
// JWT, or an API key exchanged once), attaches `authorization: Bearer` and
// `x-boxd-client` metadata to every call, turns every failure into
// boxd::Error, and on UNAUTHENTICATED with a cached token drops it,
// exchanges once more and retries once (never for CreateVm's side effects:
// a retry happens only when the server refused the token). Every unary
// method goes through the one call path of client_impl.hpp
// (Client::Impl::call). No printing, no CLI11, no exit().
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "client/client_api.hpp"
#include "client/config.hpp"

namespace boxd::client {

class Client final : public ClientApi {
 public:
  explicit Client(ResolvedConfig config);
  ~Client() override;

  const ResolvedConfig& config() const;

  // Boxes (client.cpp)
  api::CreateVmResponse create_vm(const api::CreateVmRequest& request) override;
  api::GetVmResponse get_vm(const std::string& vm) override;
  std::vector<api::GetVmResponse> list_vms() override;
  api::ForkVmResponse fork_vm(const api::ForkVmRequest& request) override;
  void start_vm(const std::string& vm) override;
  void stop_vm(const std::string& vm) override;
  void reboot_vm(const std::string& vm) override;
  void destroy_vm(const std::string& vm) override;
  api::SuspendVmResponse suspend_vm(const std::string& vm) override;
  api::ResumeVmResponse resume_vm(const std::string& vm) override;

  // Exec (client_exec.cpp)
  std::unique_ptr<ExecSession> exec(const ExecRequest& request) override;

  // Files and logs (client_files.cpp): streams of 1 MiB messages.
  std::uint64_t upload_file(const std::string& vm, const std::string& path,
                            std::uint64_t total_size, const ReadFn& read,
                            const ProgressFn& progress = {}, CallCancel* cancel = nullptr) override;
  std::uint64_t download_file(const std::string& vm, const std::string& path, const WriteFn& write,
                              const ProgressFn& progress = {},
                              CallCancel* cancel = nullptr) override;
  api::UploadFileResponse upload_small(const std::string& vm, const std::string& path,
                                       const std::string& data) override;
  std::string download_small(const std::string& vm, const std::string& path) override;
  api::ListDirResponse list_dir(const std::string& vm, const std::string& path) override;
  void stream_logs(const std::string& vm, bool follow, const WriteFn& write,
                   CallCancel* cancel = nullptr) override;

  // Disks (client_files.cpp)
  api::DiskInfo create_disk(const std::string& name, std::uint64_t size_bytes) override;
  std::vector<api::DiskInfo> list_disks() override;
  void destroy_disk(const std::string& disk) override;
  api::DiskInfo attach_disk(const api::AttachDiskRequest& request) override;
  api::DiskInfo detach_disk(const std::string& disk, const std::string& vm) override;

  // Identity (client.cpp)
  api::WhoamiResponse whoami() override;
  api::GetConfigResponse get_config() override;

  // Proxies, templates, domains, networks, tokens, snapshots, sizing, idle
  // timeouts, bot protection, ports (client_net.cpp)
  std::vector<api::ProxyInfo> list_proxies(const std::string& vm) override;
  api::ProxyInfo create_proxy(const std::string& vm, const std::string& name,
                              std::uint32_t port) override;
  void set_proxy_port(const std::string& vm, const std::string& name,
                      const std::string& port) override;
  void delete_proxy(const std::string& vm, const std::string& name) override;
  api::TemplateInfo create_template(const api::CreateTemplateRequest& request) override;
  std::vector<api::TemplateInfo> list_templates() override;
  void delete_template(const std::string& template_id_or_name) override;
  api::CreateVmResponse create_vm_from_template(
      const api::CreateVmFromTemplateRequest& request) override;
  api::CustomDomainInfo bind_domain(const std::string& domain, const std::string& vm) override;
  void unbind_domain(const std::string& domain) override;
  std::vector<api::CustomDomainInfo> list_domains() override;
  std::string create_network(const std::string& name) override;
  std::vector<api::NetworkInfo> list_networks() override;
  api::CreateTokenResponse create_token(std::uint32_t expires_in_secs) override;
  std::vector<api::TokenInfo> list_tokens() override;
  void revoke_token(const std::string& jti) override;
  api::CreateSnapshotResponse create_snapshot(const std::string& vm,
                                              const std::string& name) override;
  api::SnapshotInfo get_snapshot(const std::string& snapshot) override;
  std::vector<api::SnapshotInfo> list_snapshots() override;
  void delete_snapshot(const std::string& snapshot) override;
  api::CreateVmResponse create_vm_from_snapshot(
      const api::CreateVmFromSnapshotRequest& request) override;
  api::ResizeVmResponse resize_vm(const std::string& vm, std::uint32_t vcpu,
                                  std::uint64_t memory_bytes) override;
  void set_auto_suspend_timeout(const std::string& vm, std::uint32_t secs) override;
  void set_auto_hibernate_timeout(const std::string& vm, std::uint32_t secs) override;
  void wake_vm(const std::string& vm) override;
  void set_bot_protection(const std::string& vm, bool enabled) override;
  api::ExposePortResponse expose_port(const std::string& vm, std::uint32_t port,
                                      const std::string& protocol) override;

  // The JWT in use (exchanging if needed), for doctor. Never log it.
  std::string current_token();
  std::string credential_source() const override;
  // From `x-boxd-cli-latest` in the initial metadata of any unary call so far.
  std::string advertised_cli_latest() const override;

 private:
  // Credentials, the channel and the one call path: client_impl.hpp,
  // which only lib/client's sources include.
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
