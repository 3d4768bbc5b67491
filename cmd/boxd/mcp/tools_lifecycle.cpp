// Tools that make, copy, start, stop and remove boxes: box_create, box_fork,
// box_snapshot, box_start, box_stop, box_destroy. Creating ones go through
// the policy (name globs, --max-boxes).
#include "boxd/box/create.hpp"
#include "boxd/box/get.hpp"
#include "boxd/mcp/tool.hpp"
#include "boxd/output.hpp"
#include "common/error.hpp"
#include "common/names.hpp"
#include "common/sizes.hpp"

namespace boxd::cli::mcp {

namespace {

CreateOptions create_options(const json& args) {
  CreateOptions options;
  options.name = arg_string(args, "name");
  options.template_name = arg_string(args, "template");
  options.snapshot = arg_string(args, "snapshot");
  if (const auto vcpu = arg_int(args, "vcpu")) {
    if (*vcpu < 1 || *vcpu > k_max_box_vcpu) {
      throw Error(ErrorClass::Usage, "'vcpu' must be between 1 and 1024");
    }
    options.vcpu = static_cast<unsigned>(*vcpu);
  }
  if (const std::string memory = arg_string(args, "memory"); !memory.empty()) {
    const auto bytes = parse_size(memory);
    if (!bytes || !box_memory_problem(*bytes).empty()) {
      throw Error(ErrorClass::Usage, "'memory' must be a size of at least 64M, e.g. 512M or 4G");
    }
    options.memory_bytes = *bytes;
  }
  if (const auto env = args.find("env"); env != args.end() && !env->is_null()) {
    if (!env->is_object()) {
      throw Error(ErrorClass::Usage, "'env' must be an object of strings");
    }
    for (const auto& [key, value] : env->items()) {
      if (!value.is_string() || !is_valid_env_name(key)) {
        throw Error(ErrorClass::Usage, "'env' must map variable names to strings");
      }
      options.env.emplace_back(key, value.get<std::string>());
    }
  }
  return options;
}

api::v1::CreateVmResponse create_box(client::ClientApi& client, const CreateOptions& options) {
  if (!options.snapshot.empty()) {
    return client.create_vm_from_snapshot(create_from_snapshot_request(options));
  }
  if (!options.template_name.empty()) {
    return client.create_vm_from_template(create_from_template_request(options));
  }
  return client.create_vm(create_request(options));
}

// Runs `create` holding one --max-boxes slot; the new box's name is kept.
template <class F>
json with_slot(Policy& policy, F create) {
  policy.reserve();
  try {
    json doc = create();
    policy.commit(doc.at("name").get<std::string>());
    return doc;
  } catch (...) {
    policy.release();
    throw;
  }
}

// With --allow-boxes, a snapshot of a hidden box is hidden too (its disk is
// that box's data).
void check_snapshot(ToolContext& t, const std::string& snapshot) {
  if (snapshot.empty() || !t.policy.restricts_names()) {
    return;
  }
  const auto info = t.client.get_snapshot(snapshot);
  if (!t.policy.visible(info.source_vm())) {
    throw Error(ErrorClass::NotFound, "snapshot '" + snapshot + "' not found");
  }
}

json run_create(ToolContext& t) {
  const CreateOptions options = create_options(t.args);
  t.policy.check_new_name(options.name);
  check_snapshot(t, options.snapshot);
  return with_slot(t.policy, [&] { return proto_to_json(create_box(t.client, options)); });
}

json run_fork(ToolContext& t) {
  api::v1::ForkVmRequest request;
  request.set_source_vm_id(t.policy.resolve(t.client, arg_string(t.args, "box", true)));
  request.set_name(arg_string(t.args, "name"));
  t.policy.check_new_name(request.name());
  return with_slot(t.policy, [&] { return proto_to_json(t.client.fork_vm(request)); });
}

json run_snapshot(ToolContext& t) {
  const std::string box = t.policy.resolve(t.client, arg_string(t.args, "box", true));
  return proto_to_json(t.client.create_snapshot(box, arg_string(t.args, "name")));
}

json box_after(ToolContext& t, const std::string& box) {
  const auto vm = t.client.get_vm(box);
  json doc = proto_to_json(vm);
  doc["url"] = box_url(vm);
  return doc;
}

json run_start(ToolContext& t) {
  const std::string box = t.policy.resolve(t.client, arg_string(t.args, "box", true));
  t.client.start_vm(box);
  return box_after(t, box);
}

json run_stop(ToolContext& t) {
  const std::string box = t.policy.resolve(t.client, arg_string(t.args, "box", true));
  t.client.stop_vm(box);
  return box_after(t, box);
}

json run_destroy(ToolContext& t) {
  std::string box = t.policy.resolve(t.client, arg_string(t.args, "box", true));
  if (!t.policy.restricts_names()) {
    box = t.client.get_vm(box).name();  // an id given: the name, for --max-boxes
  }
  t.client.destroy_vm(box);
  t.policy.forget(box);
  return {{"box", box}, {"destroyed", true}};
}

json name_arg(const std::string& what) {
  return schema_string(what +
                       " (a DNS label: lower-case letters, digits, '-'); default: picked by "
                       "the server");
}

}  // namespace

void add_lifecycle_tools(std::vector<Tool>& tools) {
  tools.push_back(
      {"box_create", "Create a box",
       "Create a new box (a Linux machine you can run commands in) and start it. Give a "
       "template or a snapshot to start from one; vcpu and memory size it.",
       schema_object(
           {{"name", name_arg("Box name")},
            {"template", schema_string("Create from this template (name or id)")},
            {"snapshot", schema_string("Create from this snapshot (name or id): its disk")},
            {"vcpu", schema_integer("Number of vCPUs", 1)},
            {"memory", schema_string("Memory size: 512M, 4G, ... (at least 64M)")},
            {"env",
             {{"type", "object"},
              {"description", "Environment variables of the box"},
              {"additionalProperties", {{"type", "string"}}}}}}),
       box_schema(), false, false, false, run_create});
  tools.push_back(
      {"box_fork", "Fork a box", "Copy a box (its disk and size) into a new running box.",
       schema_object({{"box", box_arg()}, {"name", name_arg("Name of the copy")}}, {"box"}),
       box_schema(), false, false, false, run_fork});
  tools.push_back(
      {"box_snapshot", "Snapshot a box",
       "Save a running box's disk as a snapshot; box_create with `snapshot` starts new boxes from "
       "it. The same name again makes a new version.",
       schema_object(
           {{"box", box_arg()}, {"name", schema_string("Snapshot name (default: the box's name)")}},
           {"box"}),
       schema_object({{"snapshot_id", schema_string("")},
                      {"name", schema_string("")},
                      {"version", schema_integer("")},
                      {"status", schema_string("pending, ready or failed")}},
                     {"snapshot_id", "name"}),
       false, false, false, run_snapshot});
  tools.push_back({"box_start", "Start a box", "Start a stopped box.",
                   schema_object({{"box", box_arg()}}, {"box"}), box_schema(), false, false, true,
                   run_start});
  tools.push_back({"box_stop", "Stop a box",
                   "Stop a box: its processes end; its disk is kept (box_start boots it again).",
                   schema_object({{"box", box_arg()}}, {"box"}), box_schema(), false, true, true,
                   run_stop});
  tools.push_back({"box_destroy", "Destroy a box",
                   "Destroy a box and its disk for good. Cannot be undone.",
                   schema_object({{"box", box_arg()}}, {"box"}),
                   schema_object({{"box", schema_string("")}, {"destroyed", schema_boolean("")}},
                                 {"box", "destroyed"}),
                   false, true, true, run_destroy});
}

}  // namespace boxd::cli::mcp
