#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include "boxd/api/v1/api.pb.h"
#include "boxd/context.hpp"

namespace boxd::cli {

struct CreateOptions {
  std::string name;           // empty: the server picks one
  std::string image;          // empty: the default image
  std::string template_name;  // non-empty: CreateVmFromTemplate (config flags override)
  std::string snapshot;       // non-empty: CreateVmFromSnapshot (config flags override)
  unsigned vcpu = 0;          // 0: default
  std::uint64_t memory_bytes = 0;
  std::uint64_t disk_bytes = 0;  // 0: the server's default
  std::vector<std::pair<std::string, std::string>> env;
  std::string restart_policy;         // "", "always", "never"
  std::vector<std::string> networks;  // --network NAME (repeatable)
  std::optional<std::uint32_t> auto_suspend_timeout_secs;
  std::optional<std::uint32_t> auto_destroy_timeout_secs;
  bool wait = false;               // --wait: until a command runs in it (box wait --for ready)
  double wait_timeout_secs = 300;  // --wait-timeout S (0: no limit)
  bool json = false;
  bool quiet = false;
};

CLI::App* define_box_create(CLI::App& parent, CreateOptions& options);
void add_box_create(CLI::App& parent, Context& ctx);
api::v1::CreateVmRequest create_request(const CreateOptions& options);
// --template: the template request (usage error with --image, --env or --restart-policy).
api::v1::CreateVmFromTemplateRequest create_from_template_request(const CreateOptions& options);
int run_create(const CreateOptions& options, Context& ctx);
// --from-snapshot: usage error with --template, --image, --env or --restart-policy.
api::v1::CreateVmFromSnapshotRequest create_from_snapshot_request(const CreateOptions& options);

}  // namespace boxd::cli
