// `boxd box create NAME --from-snapshot SNAPSHOT`: CreateVmFromSnapshot,
// printed like any other `box create`.
#include "boxd/box/create.hpp"
#include "boxd/output.hpp"
#include "common/error.hpp"

namespace boxd::cli {

api::v1::CreateVmFromSnapshotRequest create_from_snapshot_request(const CreateOptions& options) {
  if (!options.template_name.empty() || !options.image.empty() || !options.env.empty() ||
      !options.restart_policy.empty()) {
    throw Error(ErrorClass::Usage,
                "--from-snapshot cannot be combined with --template, --image, --env or "
                "--restart-policy");
  }
  const api::v1::CreateVmRequest base = create_request(options);
  api::v1::CreateVmFromSnapshotRequest request;
  request.set_snapshot(options.snapshot);
  request.set_name(options.name);
  *request.mutable_config() = base.config();
  return request;
}

int run_create_from_snapshot(const CreateOptions& options, Context& ctx) {
  const auto response = ctx.client().create_vm_from_snapshot(create_from_snapshot_request(options));
  if (options.json) {
    ctx.out << dump_json(proto_to_json(response));
    return 0;
  }
  ctx.out << response.name() << "\n";
  ctx.out.flush();
  ctx.err << "Created box '" << response.name() << "' from snapshot '" << options.snapshot
          << "' (" << response.status();
  if (response.boot_time_ms() > 0) {
    ctx.err << ", booted in " << response.boot_time_ms() << " ms";
  }
  ctx.err << ")\n";
  if (!response.url().empty()) {
    ctx.err << "  url: " << response.url() << "\n";
  }
  return 0;
}

}  // namespace boxd::cli
