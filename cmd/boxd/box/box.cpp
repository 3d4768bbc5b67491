#include "boxd/box/box.hpp"

#include "boxd/box/cp.hpp"
#include "boxd/box/create.hpp"
#include "boxd/box/destroy.hpp"
#include "boxd/box/exec.hpp"
#include "boxd/box/fork.hpp"
#include "boxd/box/forward.hpp"
#include "boxd/box/get.hpp"
#include "boxd/box/jobs.hpp"
#include "boxd/box/list.hpp"
#include "boxd/box/logs.hpp"
#include "boxd/box/reboot.hpp"
#include "boxd/box/resize.hpp"
#include "boxd/box/resume.hpp"
#include "boxd/box/set_timeout.hpp"
#include "boxd/box/shell.hpp"
#include "boxd/box/ssh.hpp"
#include "boxd/box/start.hpp"
#include "boxd/box/stop.hpp"
#include "boxd/box/suspend.hpp"
#include "boxd/box/wait.hpp"
#include "boxd/box/wake.hpp"
#include "boxd/proxy/proxy.hpp"

namespace boxd::cli {

CLI::App* add_box(CLI::App& root, Context& ctx, const std::string& name) {
  CLI::App* box = root.add_subcommand(name, "Create, run and manage boxes");
  add_box_create(*box, ctx);
  add_box_list(*box, ctx);
  add_box_get(*box, ctx);
  add_box_fork(*box, ctx);
  add_box_start(*box, ctx);
  add_box_stop(*box, ctx);
  add_box_reboot(*box, ctx);
  add_box_suspend(*box, ctx);
  add_box_resume(*box, ctx);
  add_box_wake(*box, ctx);
  add_box_resize(*box, ctx);
  add_box_set_auto_suspend(*box, ctx);
  add_box_set_auto_hibernate(*box, ctx);
  add_box_destroy(*box, ctx);
  add_box_proxy(*box, ctx);
  add_box_exec(*box, ctx);
  add_box_shell(*box, ctx);
  add_box_cp(*box, ctx);
  add_box_forward(*box, ctx);
  add_box_ssh(*box, ctx);
  add_box_logs(*box, ctx);
  add_box_wait(*box, ctx);
  add_box_jobs(*box, ctx);
  box->footer(
      "Examples:\n"
      "  vm=$(boxd box create)\n"
      "  boxd box exec \"$vm\" -- uname -a\n"
      "  boxd box list\n"
      "  boxd box destroy --yes \"$vm\"");
  return box;
}

}  // namespace boxd::cli
