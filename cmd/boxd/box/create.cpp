#include "boxd/box/create.hpp"

#include "boxd/box/wait.hpp"
#include "boxd/command.hpp"
#include "boxd/output.hpp"
#include "boxd/term/spinner.hpp"
#include "boxd/validators.hpp"
#include "boxd/vm_config_flags.hpp"
#include "common/error.hpp"
#include "common/sizes.hpp"

namespace boxd::cli {

CLI::App* define_box_create(CLI::App& parent, CreateOptions& options) {
  CLI::App* cmd = parent.add_subcommand("create", "Create a box and print its name");
  cmd->add_option("NAME", options.name, "Box name (a DNS label; default: picked by the server)")
      ->check(box_name_validator());
  define_vm_config_flags(cmd, options);
  cmd->add_option("--template", options.template_name,
                  "Create from this template (name or id); --vcpu, --memory, --disk and the "
                  "timeouts override it");
  cmd->add_option("--from-snapshot", options.snapshot,
                  "Create from this snapshot (name or id): its disk and size; --vcpu, --memory, "
                  "--disk (larger only) and the timeouts override it");
  cmd->add_option_function<std::vector<std::string>>(
         "--env",
         [&options](const std::vector<std::string>& pairs) {
           for (const auto& pair : pairs) {
             options.env.push_back(split_env_pair(pair));
           }
         },
         "Environment variable for the box (repeatable)")
      ->type_name("KEY=VALUE")
      ->allow_extra_args(false)
      ->check(env_pair_validator());
  cmd->add_option("--restart-policy", options.restart_policy, "Restart policy")
      ->check(CLI::IsMember({"always", "never"}));
  cmd->add_option("--network", options.networks,
                  "Join this network (name or id, repeatable): its boxes reach each other by name")
      ->type_name("NAME")
      ->allow_extra_args(false);
  cmd->add_flag(
      "--wait", options.wait,
      "Return once a command runs in the box (as 'box wait --for ready'); exit 7 on timeout");
  cmd->add_option("--wait-timeout", options.wait_timeout_secs, "Seconds --wait waits (0: no limit)")
      ->type_name("S")
      ->check(CLI::NonNegativeNumber);
  cmd->footer(
      "Examples:\n"
      "  boxd box create web\n"
      "  boxd box create web --vcpu 4 --memory 16G --disk 20G --env PORT=8080\n"
      "  boxd box create web --template small --memory 8G\n"
      "  boxd box create api --network backend\n"
      "  boxd box create web-copy --from-snapshot before-upgrade\n"
      "  vm=$(boxd box create) && boxd box exec \"$vm\" -- uname -a\n"
      "  vm=$(boxd box create --wait --wait-timeout 120)\n"
      "  boxd box create --json | jq -r .url");
  return cmd;
}

void add_box_create(CLI::App& parent, Context& ctx) {
  add_leaf<CreateOptions>(parent, ctx, define_box_create, run_create);
}

api::v1::CreateVmRequest create_request(const CreateOptions& options) {
  api::v1::CreateVmRequest request;
  request.set_name(options.name);
  request.set_image_ref(options.image);
  for (const auto& [key, value] : options.env) {
    auto* env = request.add_env();
    env->set_key(key);
    env->set_value(value);
  }
  request.set_restart_policy(options.restart_policy);
  for (const auto& network : options.networks) {
    request.add_networks(network);
  }
  auto* config = request.mutable_config();
  config->set_vcpu(options.vcpu);
  config->set_memory_bytes(options.memory_bytes);
  config->set_disk_bytes(options.disk_bytes);
  if (options.auto_suspend_timeout_secs) {
    config->mutable_srf()->set_auto_suspend_timeout_secs(*options.auto_suspend_timeout_secs);
  }
  if (options.auto_destroy_timeout_secs) {
    config->mutable_srf()->set_auto_destroy_timeout_secs(*options.auto_destroy_timeout_secs);
  }
  return request;
}

api::v1::CreateVmFromTemplateRequest create_from_template_request(const CreateOptions& options) {
  if (!options.image.empty() || !options.env.empty() || !options.restart_policy.empty() ||
      !options.networks.empty()) {
    throw Error(ErrorClass::Usage,
                "--template cannot be combined with --image, --env, --restart-policy or --network");
  }
  const api::v1::CreateVmRequest base = create_request(options);
  api::v1::CreateVmFromTemplateRequest request;
  request.set_template_id(options.template_name);
  request.set_name(options.name);
  *request.mutable_config() = base.config();
  return request;
}

api::v1::CreateVmFromSnapshotRequest create_from_snapshot_request(const CreateOptions& options) {
  if (!options.template_name.empty() || !options.image.empty() || !options.env.empty() ||
      !options.restart_policy.empty() || !options.networks.empty()) {
    throw Error(ErrorClass::Usage,
                "--from-snapshot cannot be combined with --template, --image, --env, "
                "--restart-policy or --network");
  }
  const api::v1::CreateVmRequest base = create_request(options);
  api::v1::CreateVmFromSnapshotRequest request;
  request.set_snapshot(options.snapshot);
  request.set_name(options.name);
  *request.mutable_config() = base.config();
  return request;
}

namespace {

// One call for the three ways to create a box (plain, --template, --from-snapshot).
api::v1::CreateVmResponse create_vm(const CreateOptions& options, Context& ctx) {
  if (!options.snapshot.empty()) {
    return ctx.client().create_vm_from_snapshot(create_from_snapshot_request(options));
  }
  if (!options.template_name.empty()) {
    return ctx.client().create_vm_from_template(create_from_template_request(options));
  }
  return ctx.client().create_vm(create_request(options));
}

std::string creating_message(const CreateOptions& options) {
  if (!options.snapshot.empty()) {
    return "Creating box from snapshot '" + options.snapshot + "'...";
  }
  if (!options.template_name.empty()) {
    return "Creating box from template '" + options.template_name + "'...";
  }
  return "Creating box...";
}

}  // namespace

namespace {

void print_created(const api::v1::CreateVmResponse& response, Context& ctx) {
  ctx.err << "Created box '" << response.name() << "' (" << response.status();
  if (!response.image().empty()) {
    ctx.err << ", image " << response.image();
  }
  if (response.boot_time_ms() > 0) {
    ctx.err << ", booted in " << response.boot_time_ms() << " ms";
  }
  ctx.err << ")\n";
  if (!response.url().empty()) {
    ctx.err << "  url: " << response.url() << "\n";
  }
}

}  // namespace

int run_create(const CreateOptions& options, Context& ctx) {
  Spinner spinner(ctx.err, ctx.stderr_tty && !ctx.global.quiet, creating_message(options));
  const api::v1::CreateVmResponse response = create_vm(options, ctx);
  spinner.stop();
  // The name (or document) first, so a script has it even when --wait times out.
  if (options.json) {
    ctx.out << dump_json(proto_to_json(response));
  } else {
    ctx.out << response.name() << "\n";
  }
  ctx.out.flush();
  if (!options.json) {
    print_created(response, ctx);
  }
  if (options.wait) {
    const WaitOutcome outcome =
        wait_for_box(ctx, response.name(), "ready", options.wait_timeout_secs,
                     ctx.stderr_tty && !ctx.global.quiet);
    if (!options.json && !options.quiet) {
      ctx.err << "Box '" << response.name() << "' is ready ("
              << static_cast<double>(outcome.elapsed.count()) / 1000.0 << " s)\n";
    }
  }
  return 0;
}

}  // namespace boxd::cli
