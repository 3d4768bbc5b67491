#include "boxd/box/resume.hpp"

#include <fmt/format.h>

#include "boxd/command.hpp"
#include "boxd/output.hpp"

namespace boxd::cli {

CLI::App* define_box_resume(CLI::App& parent, ResumeOptions& options) {
  return define_bulk_command(parent, "resume", "Continue suspended boxes",
                             "  boxd box resume web\n"
                             "  boxd box resume web --json | jq .resume_us",
                             options.names);
}

void add_box_resume(CLI::App& parent, Context& ctx) {
  add_leaf<ResumeOptions>(parent, ctx, define_box_resume, run_resume);
}

int run_resume(const ResumeOptions& options, Context& ctx) {
  return for_each_box(ctx, options.names, [&](const std::string& name) {
    const auto response = ctx.client().resume_vm(name);
    if (options.json) {
      nlohmann::json json = proto_to_json(response);
      json["name"] = name;
      ctx.out << json.dump() << "\n";
      ctx.out.flush();
    } else if (!options.quiet) {
      ctx.err << fmt::format("Resumed box '{}' in {:.1f} ms\n", name, static_cast<double>(response.resume_us()) / 1000.0);
    }
  });
}

}  // namespace boxd::cli
