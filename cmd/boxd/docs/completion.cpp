#include <memory>
#include <string>

#include "boxd/docs/docs.hpp"
#include "boxd/docs/tree.hpp"
#include "common/error.hpp"

namespace boxd::cli {

namespace {

struct CompletionOptions {
  std::string shell;
};

int run_completion(const CompletionOptions& options, const CLI::App& root, Context& ctx) {
  const auto tree = docs::read_tree(root);
  if (options.shell == "bash") {
    ctx.out << docs::bash_completion(tree);
  } else if (options.shell == "zsh") {
    ctx.out << docs::zsh_completion(tree);
  } else {
    ctx.out << docs::fish_completion(tree);
  }
  return 0;
}

struct CompleteOptions {
  std::string kind;
};

// Names for completion: one per line, nothing at all on any failure (the
// script also drops stderr and bounds the time).
int run_complete(const CompleteOptions& options, Context& ctx) {
  try {
    if (options.kind == "vms") {
      for (const auto& vm : ctx.client().list_vms()) {
        ctx.out << vm.name() << "\n";
      }
    } else if (options.kind == "disks") {
      for (const auto& disk : ctx.client().list_disks()) {
        ctx.out << disk.name() << "\n";
      }
    } else if (options.kind == "templates") {
      for (const auto& tmpl : ctx.client().list_templates()) {
        ctx.out << tmpl.name() << "\n";
      }
    }
  } catch (const std::exception&) {
    return 1;
  }
  return 0;
}

struct ManOptions {};

int run_man(const CLI::App& root, Context& ctx) {
  ctx.out << docs::man_page(docs::read_tree(root));
  return 0;
}

}  // namespace

void add_docs(CLI::App& root, Context& ctx) {
  auto completion = std::make_shared<CompletionOptions>();
  CLI::App* cmd = root.add_subcommand("completion", "Print a shell completion script");
  cmd->add_option("SHELL", completion->shell, "bash, zsh or fish")
      ->required()
      ->check(CLI::IsMember({"bash", "zsh", "fish"}));
  cmd->footer(
      "Examples:\n"
      "  source <(boxd completion bash)\n"
      "  boxd completion bash > /etc/bash_completion.d/boxd\n"
      "  boxd completion zsh > \"${fpath[1]}/_boxd\"\n"
      "  boxd completion fish > ~/.config/fish/completions/boxd.fish");
  cmd->callback([completion, &root, &ctx] {
    ctx.action = [completion, &root, &ctx] { return run_completion(*completion, root, ctx); };
  });

  auto complete = std::make_shared<CompleteOptions>();
  CLI::App* names = root.add_subcommand("__complete", "Names for shell completion");
  names->group("");
  names->add_option("KIND", complete->kind, "vms, disks or templates")->required();
  names->callback(
      [complete, &ctx] { ctx.action = [complete, &ctx] { return run_complete(*complete, ctx); }; });

  CLI::App* man = root.add_subcommand("__man", "Print the man page (roff)");
  man->group("");
  man->callback([&root, &ctx] { ctx.action = [&root, &ctx] { return run_man(root, ctx); }; });
}

}  // namespace boxd::cli
