// `boxd ssh-config`: the `Host *.boxd` entry that makes ssh, scp, rsync and
// VS Code Remote-SSH reach boxes by name through `box forward --stdio`.
#include "boxd/ssh/ssh_config.hpp"

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "boxd/box/ssh.hpp"
#include "boxd/command.hpp"
#include "boxd/output.hpp"
#include "common/error.hpp"
#include "common/files.hpp"

namespace boxd::cli {

namespace fs = std::filesystem;

namespace {
constexpr const char* k_begin = "# >>> boxd ssh-config >>>";
constexpr const char* k_end = "# <<< boxd ssh-config <<<";
}  // namespace

CLI::App* define_ssh_config(CLI::App& parent, SshConfigOptions& options) {
  CLI::App* cmd = parent.add_subcommand(
      "ssh-config", "Print or install the ssh config entry for boxes (Host *.boxd)");
  cmd->add_flag("--write", options.write,
                "Keep the entry in ~/.ssh/config (a marked block, replaced in place; a backup "
                "of the previous file goes to config.boxd.bak)");
  cmd->add_flag("--remove", options.remove, "Remove the marked block from the file");
  cmd->add_option("--file", options.file, "The ssh config file (default ~/.ssh/config)")
      ->type_name("FILE");
  cmd->add_option("--relay", options.relay, "The relay in the box, as for box forward")
      ->check(CLI::IsMember({"auto", "boxd", "python3"}));
  cmd->footer(
      "The entry matches host names ending in .boxd; the ProxyCommand strips the\n"
      "suffix to get the box name and runs `boxd box forward --stdio NAME 22` (this\n"
      "binary by absolute path, with the global flags of this command line that are\n"
      "not secrets, e.g. --profile). The box needs an sshd on port 22 and your key:\n"
      "`boxd box ssh NAME` sets both up once. Host keys are not checked (see box ssh).\n"
      "--write is idempotent: the file changes only when the block does.\n"
      "--json prints {\"file\",\"changed\",\"backup\",\"block\"}.\n"
      "\n"
      "Examples:\n"
      "  boxd ssh-config --write\n"
      "  ssh web.boxd\n"
      "  scp -r ./site web.boxd:/home/boxd/\n"
      "  rsync -a -e ssh ./src/ web.boxd:src/\n"
      "  code --remote ssh-remote+web.boxd /home/boxd");
  return cmd;
}

void add_ssh_config(CLI::App& root, Context& ctx) {
  add_leaf<SshConfigOptions>(root, ctx, define_ssh_config, run_ssh_config);
}

std::string ssh_config_block(const std::string& proxy_command) {
  return std::string(k_begin) +
         " (managed by `boxd ssh-config --write`; edits inside are replaced)\n" +
         "Host *.boxd\n"
         "  User boxd\n"
         "  ProxyCommand " +
         proxy_command + "\n" +
         "  StrictHostKeyChecking no\n"
         "  UserKnownHostsFile /dev/null\n"
         "  LogLevel ERROR\n" +
         k_end + "\n";
}

std::string merge_ssh_config(const std::string& config, const std::string& block) {
  const auto line_start = [&config](std::size_t from, const char* marker) -> std::size_t {
    for (std::size_t at = config.find(marker, from); at != std::string::npos;
         at = config.find(marker, at + 1)) {
      if (at == 0 || config[at - 1] == '\n') {
        return at;
      }
    }
    return std::string::npos;
  };
  const std::size_t begin = line_start(0, k_begin);
  const std::size_t end = begin == std::string::npos ? begin : line_start(begin, k_end);
  if (begin != std::string::npos && end != std::string::npos) {
    std::size_t after = config.find('\n', end);
    after = after == std::string::npos ? config.size() : after + 1;
    return config.substr(0, begin) + block + config.substr(after);
  }
  if (begin != std::string::npos) {
    throw Error(ErrorClass::InvalidArgument,
                std::string("the ssh config has a '") + k_begin + "' line without its end marker",
                "fix or remove that block by hand");
  }
  if (block.empty()) {
    return config;
  }
  std::string out = config;
  if (!out.empty() && out.back() != '\n') {
    out += '\n';
  }
  if (!out.empty()) {
    out += '\n';
  }
  return out + block;
}

namespace {

fs::path default_config() {
  const char* home = std::getenv("HOME");
  if (home == nullptr || *home == '\0') {
    throw Error(ErrorClass::Usage, "HOME is not set", "pass --file");
  }
  return fs::path(home) / ".ssh" / "config";
}

struct WriteResult {
  bool changed = false;
  std::string backup;
};

WriteResult update_file(const fs::path& given, const std::string& block) {
  std::error_code ec;
  // A symlinked config (dotfile managers) is updated where it points.
  fs::path path = given;
  if (fs::is_symlink(given, ec)) {
    const fs::path target = fs::weakly_canonical(given, ec);
    path = ec ? given : target;
  }
  const std::optional<std::string> old = read_file(path);
  const std::string updated = merge_ssh_config(old.value_or(""), block);
  WriteResult result;
  if (old && *old == updated) {
    return result;
  }
  if (!old && block.empty()) {
    return result;
  }
  if (!path.parent_path().empty()) {
    ensure_dir(path.parent_path(), 0700);
  }
  unsigned mode = 0600;
  struct stat st {};
  if (old && ::stat(path.c_str(), &st) == 0) {
    mode = st.st_mode & 07777;
    result.backup = path.string() + ".boxd.bak";
    write_file_atomic(result.backup, *old, 0600);
  }
  write_file_atomic(path, updated, mode);
  result.changed = true;
  return result;
}

}  // namespace

int run_ssh_config(const SshConfigOptions& options, Context& ctx) {
  if (options.write && options.remove) {
    throw Error(ErrorClass::Usage, "--write and --remove cannot be combined");
  }
  const std::string block = ssh_config_block(ssh_proxy_command(ctx, options.relay));
  if (!options.write && !options.remove) {
    if (options.json) {
      ctx.out << dump_json(
          {{"file", nullptr}, {"changed", false}, {"backup", nullptr}, {"block", block}});
    } else {
      ctx.out << block;
    }
    return 0;
  }
  const fs::path file = options.file.empty() ? default_config() : fs::path(options.file);
  const WriteResult result = update_file(file, options.remove ? "" : block);
  if (options.json) {
    ctx.out << dump_json({{"file", file.string()},
                          {"changed", result.changed},
                          {"backup", result.backup.empty() ? nlohmann::json(nullptr)
                                                           : nlohmann::json(result.backup)},
                          {"block", options.remove ? "" : block}});
  } else if (!options.quiet) {
    if (!result.changed) {
      ctx.err << "boxd: " << file.string() << " is up to date\n";
    } else {
      ctx.err << "boxd: "
              << (options.remove ? "removed the boxd block from " : "wrote the boxd block to ")
              << file.string()
              << (result.backup.empty() ? "" : " (previous file: " + result.backup + ")") << "\n";
    }
  }
  return 0;
}

}  // namespace boxd::cli
