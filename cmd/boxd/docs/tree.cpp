#include "boxd/docs/tree.hpp"

#include <map>

namespace boxd::cli::docs {

namespace {

// Values an option takes, for completion. CLI11 validators do not expose
// their sets, so the few enumerations live here, next to the generator.
const std::map<std::string, std::vector<std::string>>& option_values() {
  static const std::map<std::string, std::vector<std::string>> values = {
      {"tty", {"auto", "always", "never"}},    {"environment", {"production", "staging", "local"}},
      {"restart-policy", {"always", "never"}}, {"runtime", {"auto", "namespace", "process"}},
      {"escape-char", {"none", "~"}},
  };
  return values;
}

// Which names complete a positional: existing boxes for box commands,
// disks for disk commands, templates for template commands; nothing for a
// name that is being created, nor for a NAME after another positional (the
// new box of `box fork VM NAME`, the proxy of `box proxy delete VM NAME`).
std::string dynamic_kind(const std::vector<std::string>& path, const std::string& positional,
                         std::size_t index) {
  if (path.empty() || path.back() == "create" || path.back() == "new") {
    return {};
  }
  if (positional == "VM" || positional == "VMS" || positional == "SRC") {
    return "vms";
  }
  if (positional == "DISK") {
    return "disks";
  }
  if (positional == "TEMPLATE") {
    return "templates";
  }
  if ((positional == "NAME" || positional == "NAMES") && index == 0) {
    if (path.front() == "box" || path.front() == "machine") {
      return "vms";
    }
    if (path.front() == "disk") {
      return "disks";
    }
    if (path.front() == "template") {
      return "templates";
    }
  }
  return {};
}

CommandDoc read_command(const CLI::App& app, const std::vector<std::string>& path) {
  CommandDoc doc;
  doc.path = path;
  doc.name = app.get_name();
  doc.description = app.get_description();
  doc.footer = app.get_footer();
  for (const CLI::Option* opt : app.get_options()) {
    if (opt == app.get_help_ptr() || opt == app.get_help_all_ptr()) {
      continue;
    }
    if (opt->get_group().empty()) {
      continue;  // hidden
    }
    if (opt->get_lnames().empty() && opt->get_snames().empty()) {
      PositionalDoc pos;
      pos.name = opt->get_name();
      pos.description = opt->get_description();
      pos.dynamic = dynamic_kind(path, pos.name, doc.positionals.size());
      pos.repeated = opt->get_items_expected_max() > 1;
      doc.positionals.push_back(pos);
      continue;
    }
    OptionDoc o;
    o.long_names = opt->get_lnames();
    o.short_names = opt->get_snames();
    o.description = opt->get_description();
    if (opt->get_items_expected_min() > 0) {
      o.value_name = opt->get_type_name();
      if (o.value_name.empty()) {
        o.value_name = "VALUE";
      }
      for (const auto& name : o.long_names) {
        if (auto it = option_values().find(name); it != option_values().end()) {
          o.values = it->second;
        }
      }
    }
    doc.options.push_back(o);
  }
  for (const CLI::App* sub : app.get_subcommands({})) {
    if (sub->get_group().empty()) {
      continue;  // hidden
    }
    auto child_path = path;
    child_path.push_back(sub->get_name());
    doc.children.push_back(read_command(*sub, child_path));
  }
  return doc;
}

void flatten_into(const CommandDoc& doc, std::vector<const CommandDoc*>& out) {
  out.push_back(&doc);
  for (const auto& child : doc.children) {
    flatten_into(child, out);
  }
}

}  // namespace

CommandDoc read_tree(const CLI::App& root) {
  return read_command(root, {});
}

std::vector<const CommandDoc*> flatten(const CommandDoc& root) {
  std::vector<const CommandDoc*> out;
  flatten_into(root, out);
  return out;
}

}  // namespace boxd::cli::docs
