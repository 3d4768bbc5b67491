#include "boxd/box/resume.hpp"

#include "boxd/command.hpp"

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
    report_timed(ctx, options, name, response, "Resumed", response.resume_us());
  });
}

}  // namespace boxd::cli
