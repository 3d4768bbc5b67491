// A ClientApi (lib/client/client_api.hpp) for the commands' unit tests,
// installed with Context::set_client. It keeps the contract of the gRPC
// client: answers are values, failures are thrown boxd::Error.
//  - every call is recorded in `calls` as one line: the method and its
//    arguments ("start_vm web", "create_disk data 1073741824");
//  - `fail`, when set, is thrown by every call (after recording it), as a
//    failed RPC is by the real client;
//  - boxes live in `vms`: get_vm finds one by name or id (else NotFound with
//    the server's message), list_vms returns them all; the other answers
//    are the fields below, returned as set.
// Streams (exec, file transfers, logs) are not faked: those commands are
// tested end to end (tests/e2e).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "client/client_api.hpp"
#include "common/error.hpp"

namespace boxd::test {

namespace api = boxd::api::v1;

class FakeClient final : public client::ClientApi {
 public:
  std::vector<std::string> calls;
  std::optional<Error> fail;

  std::vector<api::GetVmResponse> vms;
  api::CreateVmResponse created;  // create_vm, create_vm_from_template/_snapshot
  api::ForkVmResponse forked;
  api::SuspendVmResponse suspended;
  api::ResumeVmResponse resumed;
  api::ResizeVmResponse resized;
  std::vector<api::DiskInfo> disks;
  api::DiskInfo disk;  // create, attach, detach
  std::vector<api::SnapshotInfo> snapshots;
  api::CreateSnapshotResponse snapshot_created;
  std::vector<api::TokenInfo> tokens;
  api::CreateTokenResponse token_created;
  std::vector<api::CustomDomainInfo> domains;
  api::CustomDomainInfo domain;
  std::vector<api::ProxyInfo> proxies;
  api::ProxyInfo proxy;
  api::ExposePortResponse exposed;
  std::vector<api::TemplateInfo> templates;
  api::TemplateInfo template_created;
  std::vector<api::NetworkInfo> networks;
  std::string network_created;
  api::WhoamiResponse identity;
  api::GetConfigResponse server_config;

  api::CreateVmResponse create_vm(const api::CreateVmRequest& request) override {
    record("create_vm " + request.name());
    return created;
  }
  api::GetVmResponse get_vm(const std::string& vm) override {
    record("get_vm " + vm);
    for (const auto& box : vms) {
      if (box.name() == vm || box.vm_id() == vm) {
        return box;
      }
    }
    throw Error(ErrorClass::NotFound, "VM '" + vm + "' not found", {}, 5);
  }
  std::vector<api::GetVmResponse> list_vms() override {
    record("list_vms");
    return vms;
  }
  api::ForkVmResponse fork_vm(const api::ForkVmRequest& request) override {
    record("fork_vm " + request.source_vm_id() + " " + request.name());
    return forked;
  }
  void start_vm(const std::string& vm) override { record("start_vm " + vm); }
  void stop_vm(const std::string& vm) override { record("stop_vm " + vm); }
  void reboot_vm(const std::string& vm) override { record("reboot_vm " + vm); }
  void destroy_vm(const std::string& vm) override { record("destroy_vm " + vm); }
  api::SuspendVmResponse suspend_vm(const std::string& vm) override {
    record("suspend_vm " + vm);
    return suspended;
  }
  api::ResumeVmResponse resume_vm(const std::string& vm) override {
    record("resume_vm " + vm);
    return resumed;
  }

  std::unique_ptr<client::ExecSession> exec(const client::ExecRequest& request) override {
    record("exec " + request.vm);
    throw not_faked("exec");
  }
  std::uint64_t upload_file(const std::string& vm, const std::string& path, std::uint64_t,
                            const client::ReadFn&, const client::ProgressFn&,
                            client::CallCancel*) override {
    record("upload_file " + vm + " " + path);
    throw not_faked("upload_file");
  }
  std::uint64_t download_file(const std::string& vm, const std::string& path,
                              const client::WriteFn&, const client::ProgressFn&,
                              client::CallCancel*) override {
    record("download_file " + vm + " " + path);
    throw not_faked("download_file");
  }
  api::UploadFileResponse upload_small(const std::string& vm, const std::string& path,
                                       const std::string&) override {
    record("upload_small " + vm + " " + path);
    throw not_faked("upload_small");
  }
  std::string download_small(const std::string& vm, const std::string& path) override {
    record("download_small " + vm + " " + path);
    throw not_faked("download_small");
  }
  api::ListDirResponse list_dir(const std::string& vm, const std::string& path) override {
    record("list_dir " + vm + " " + path);
    throw not_faked("list_dir");
  }
  void stream_logs(const std::string& vm, bool, const client::WriteFn&,
                   client::CallCancel*) override {
    record("stream_logs " + vm);
    throw not_faked("stream_logs");
  }

  api::DiskInfo create_disk(const std::string& name, std::uint64_t size_bytes) override {
    record("create_disk " + name + " " + std::to_string(size_bytes));
    return disk;
  }
  std::vector<api::DiskInfo> list_disks() override {
    record("list_disks");
    return disks;
  }
  void destroy_disk(const std::string& name) override { record("destroy_disk " + name); }
  api::DiskInfo attach_disk(const api::AttachDiskRequest& request) override {
    record("attach_disk " + request.disk_id() + " " + request.vm() + " " + request.mount_path() +
           (request.read_only() ? " ro" : " rw"));
    return disk;
  }
  api::DiskInfo detach_disk(const std::string& name, const std::string& vm) override {
    record("detach_disk " + name + " " + vm);
    return disk;
  }

  api::WhoamiResponse whoami() override {
    record("whoami");
    return identity;
  }
  api::GetConfigResponse get_config() override {
    record("get_config");
    return server_config;
  }

  std::vector<api::ProxyInfo> list_proxies(const std::string& vm) override {
    record("list_proxies " + vm);
    return proxies;
  }
  api::ProxyInfo create_proxy(const std::string& vm, const std::string& name,
                              std::uint32_t port) override {
    record("create_proxy " + vm + " " + name + " " + std::to_string(port));
    return proxy;
  }
  void set_proxy_port(const std::string& vm, const std::string& name,
                      const std::string& port) override {
    record("set_proxy_port " + vm + " " + name + " " + port);
  }
  void delete_proxy(const std::string& vm, const std::string& name) override {
    record("delete_proxy " + vm + " " + name);
  }
  api::TemplateInfo create_template(const api::CreateTemplateRequest& request) override {
    record("create_template " + request.name() + " " + request.image_ref());
    return template_created;
  }
  std::vector<api::TemplateInfo> list_templates() override {
    record("list_templates");
    return templates;
  }
  void delete_template(const std::string& name) override { record("delete_template " + name); }
  api::CreateVmResponse create_vm_from_template(
      const api::CreateVmFromTemplateRequest& request) override {
    record("create_vm_from_template " + request.template_id() + " " + request.name());
    return created;
  }
  api::CustomDomainInfo bind_domain(const std::string& name, const std::string& vm) override {
    record("bind_domain " + name + " " + vm);
    return domain;
  }
  void unbind_domain(const std::string& name) override { record("unbind_domain " + name); }
  std::vector<api::CustomDomainInfo> list_domains() override {
    record("list_domains");
    return domains;
  }
  std::string create_network(const std::string& name) override {
    record("create_network " + name);
    return network_created;
  }
  std::vector<api::NetworkInfo> list_networks() override {
    record("list_networks");
    return networks;
  }
  api::CreateTokenResponse create_token(std::uint32_t expires_in_secs) override {
    record("create_token " + std::to_string(expires_in_secs));
    return token_created;
  }
  std::vector<api::TokenInfo> list_tokens() override {
    record("list_tokens");
    return tokens;
  }
  void revoke_token(const std::string& jti) override { record("revoke_token " + jti); }
  api::CreateSnapshotResponse create_snapshot(const std::string& vm,
                                              const std::string& name) override {
    record("create_snapshot " + vm + " " + name);
    return snapshot_created;
  }
  api::SnapshotInfo get_snapshot(const std::string& name) override {
    record("get_snapshot " + name);
    for (const auto& snapshot : snapshots) {
      if (snapshot.name() == name || snapshot.snapshot_id() == name) {
        return snapshot;
      }
    }
    throw Error(ErrorClass::NotFound, "snapshot '" + name + "' not found", {}, 5);
  }
  std::vector<api::SnapshotInfo> list_snapshots() override {
    record("list_snapshots");
    return snapshots;
  }
  void delete_snapshot(const std::string& name) override { record("delete_snapshot " + name); }
  api::CreateVmResponse create_vm_from_snapshot(
      const api::CreateVmFromSnapshotRequest& request) override {
    record("create_vm_from_snapshot " + request.snapshot() + " " + request.name());
    return created;
  }
  api::ResizeVmResponse resize_vm(const std::string& vm, std::uint32_t vcpu,
                                  std::uint64_t memory_bytes) override {
    record("resize_vm " + vm + " " + std::to_string(vcpu) + " " + std::to_string(memory_bytes));
    return resized;
  }
  void set_auto_suspend_timeout(const std::string& vm, std::uint32_t secs) override {
    record("set_auto_suspend_timeout " + vm + " " + std::to_string(secs));
  }
  void set_auto_hibernate_timeout(const std::string& vm, std::uint32_t secs) override {
    record("set_auto_hibernate_timeout " + vm + " " + std::to_string(secs));
  }
  void wake_vm(const std::string& vm) override { record("wake_vm " + vm); }
  void set_bot_protection(const std::string& vm, bool enabled) override {
    record("set_bot_protection " + vm + (enabled ? " on" : " off"));
  }
  api::ExposePortResponse expose_port(const std::string& vm, std::uint32_t port,
                                      const std::string& protocol) override {
    record("expose_port " + vm + " " + std::to_string(port) + " " + protocol);
    return exposed;
  }

  std::string credential_source() const override { return "BOXD_TOKEN"; }
  std::string advertised_cli_latest() const override { return ""; }

 private:
  void record(std::string call) {
    calls.push_back(std::move(call));
    if (fail) {
      throw *fail;
    }
  }
  static Error not_faked(const std::string& what) {
    return Error(ErrorClass::Internal, "FakeClient does not fake " + what);
  }
};

}  // namespace boxd::test
