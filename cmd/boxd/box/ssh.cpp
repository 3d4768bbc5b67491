// `boxd box ssh`: makes sure the box has an sshd on 127.0.0.1:22 and the
// user's public key, then runs the real `ssh` through `box forward --stdio`.
// GCC 12 reports a false "potential null pointer dereference" inside CLI11's
// inlined string splitting (CLI/StringTools.hpp) at -O2; not our code.
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include "boxd/box/ssh.hpp"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "boxd/box/forward.hpp"
#include "boxd/box/forward_remote.hpp"
#include "boxd/command.hpp"
#include "common/error.hpp"
#include "common/files.hpp"
#include "common/shell_quote.hpp"

namespace boxd::cli {

namespace fs = std::filesystem;

const char* const k_box_ssh_setup = R"SH(set -u
key=$(cat)
listening() { cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | grep -qE '^ *[0-9]+: [0-9A-F]+:0016 [0-9A-F]+:0000 0A '; }
wait_listening() { i=0; while ! listening && [ $i -lt "$1" ]; do sleep 0.1; i=$((i+1)); done; listening; }
if ! listening && [ ! -x /usr/sbin/sshd ]; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "the box has no sshd (/usr/sbin/sshd) and no apt-get to install openssh-server" >&2; exit 3
  fi
  sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y -q openssh-server >/dev/null 2>&1 ||
    { echo "apt-get install openssh-server failed in the box" >&2; exit 3; }
  echo installed-openssh-server
  wait_listening 30
fi
if ! listening; then
  d=/etc/boxd-sshd
  sudo -n mkdir -p "$d" /run/sshd || exit 3
  sudo -n test -s "$d/ssh_host_ed25519_key" ||
    sudo -n ssh-keygen -q -t ed25519 -N '' -f "$d/ssh_host_ed25519_key" || exit 3
  printf '%s\n' 'Port 22' 'ListenAddress 127.0.0.1' "HostKey $d/ssh_host_ed25519_key" \
    'PidFile /run/boxd-sshd.pid' 'UsePAM no' 'PasswordAuthentication no' \
    'KbdInteractiveAuthentication no' 'PubkeyAuthentication yes' \
    'AuthorizedKeysFile .ssh/authorized_keys' 'Subsystem sftp internal-sftp' \
    'PrintMotd no' | sudo -n tee "$d/sshd_config" >/dev/null || exit 3
  sudo -n /usr/sbin/sshd -f "$d/sshd_config" || exit 3
  wait_listening 50 || { echo "sshd started but does not listen on 127.0.0.1:22" >&2; exit 3; }
  echo started-sshd
fi
umask 077
mkdir -p "$HOME/.ssh" && chmod 700 "$HOME/.ssh" && touch "$HOME/.ssh/authorized_keys" &&
  chmod 600 "$HOME/.ssh/authorized_keys" || exit 3
grep -qxF "$key" "$HOME/.ssh/authorized_keys" ||
  { printf '%s\n' "$key" >> "$HOME/.ssh/authorized_keys" && echo added-key; }
)SH";

CLI::App* define_box_ssh(CLI::App& parent, BoxSshOptions& options) {
  CLI::App* cmd =
      parent.add_subcommand("ssh", "Open an SSH session to a box (sets up its sshd and your key)");
  cmd->add_option("VM", options.vm, "Box name or id (a trailing .boxd is ignored)")->required();
  cmd->add_option("COMMAND", options.command, "Remote command, after -- (ssh joins the words)");
  cmd->add_option(
         "-i,--identity", options.identity,
         "Private key; its .pub is installed (default: ~/.ssh/id_ed25519, id_ecdsa, id_rsa)")
      ->type_name("FILE");
  cmd->add_option("-o,--ssh-option", options.ssh_options, "An ssh -o option (repeatable)")
      ->type_name("KEY=VALUE")
      ->allow_extra_args(false);
  cmd->add_flag("--no-setup", options.no_setup, "Do not check or change the box, just run ssh");
  cmd->add_option("--relay", options.relay, "The relay in the box, as for box forward")
      ->check(CLI::IsMember({"auto", "boxd", "python3"}));
  cmd->footer(
      "Before ssh runs, one exec checks the box and changes only what is missing:\n"
      "  - nothing listens on port 22: if /usr/sbin/sshd is missing, `sudo apt-get install\n"
      "    openssh-server` (on Ubuntu this starts the ssh service); if still nothing\n"
      "    listens, an sshd of its own: host key /etc/boxd-sshd/ssh_host_ed25519_key,\n"
      "    config /etc/boxd-sshd/sshd_config (127.0.0.1:22, keys only, no PAM), started\n"
      "    with sudo (not restarted after a reboot: the next `box ssh` starts it again);\n"
      "  - your public key missing from ~/.ssh/authorized_keys of user boxd: appended.\n"
      "Then `ssh` runs as boxd@VM.boxd with ProxyCommand `boxd box forward --stdio %h 22`.\n"
      "Host keys are not checked (StrictHostKeyChecking no, no known_hosts entry): the\n"
      "tunnel runs over your authenticated boxd API connection, and a box re-created\n"
      "under the same name gets a new key. Exit status: ssh's (255 when ssh failed).\n"
      "\n"
      "Examples:\n"
      "  boxd box ssh web\n"
      "  boxd box ssh web -- uname -a\n"
      "  boxd box ssh web -o LocalForward=5432:127.0.0.1:5432");
  return cmd;
}

namespace {

void take_trailing_command(BoxSshOptions& options, Context& ctx) {
  if (ctx.trailing_args) {
    options.command.insert(options.command.end(), ctx.trailing_args->begin(),
                           ctx.trailing_args->end());
    ctx.trailing_args_used = true;
  }
}

std::string self_path() {
  std::error_code ec;
  const fs::path path = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("boxd") : path.string();
}

// ssh expands %-tokens in ProxyCommand: a literal % is %%.
std::string escape_percent(const std::string& text) {
  std::string out;
  for (char c : text) {
    out += c == '%' ? std::string("%%") : std::string(1, c);
  }
  return out;
}

// The private key and its public half.
std::pair<std::string, std::string> find_key(const std::string& identity) {
  if (!identity.empty()) {
    if (!fs::exists(identity + ".pub")) {
      throw Error(ErrorClass::Usage, "no public key " + identity + ".pub next to " + identity);
    }
    return {identity, identity + ".pub"};
  }
  const char* home = std::getenv("HOME");
  const fs::path dir = fs::path(home != nullptr ? home : "") / ".ssh";
  for (const char* name : {"id_ed25519", "id_ecdsa", "id_rsa"}) {
    if (fs::exists(dir / (std::string(name) + ".pub")) && fs::exists(dir / name)) {
      return {(dir / name).string(), (dir / name).string() + ".pub"};
    }
  }
  throw Error(ErrorClass::Usage,
              "no SSH key in " + dir.string() + " (id_ed25519, id_ecdsa, id_rsa)",
              "create one with: ssh-keygen -t ed25519, or pass -i FILE");
}

void set_up_box(Context& ctx, const std::string& vm, const std::string& public_key_file) {
  std::string key = read_file(public_key_file).value_or("");
  while (!key.empty() && (key.back() == '\n' || key.back() == '\r')) {
    key.pop_back();
  }
  if (key.empty() || key.find('\n') != std::string::npos) {
    throw Error(ErrorClass::Usage, public_key_file + " is not one public key line");
  }
  const CapturedRun run = run_captured(ctx.client(), vm, k_box_ssh_setup, key + "\n");
  if (run.exit_code != 0) {
    throw Error(ErrorClass::Internal, "setting up ssh in " + vm + " failed: " + run.err);
  }
  std::istringstream lines(run.out);
  for (std::string line; std::getline(lines, line);) {
    if (line == "installed-openssh-server") {
      ctx.err << "boxd: installed openssh-server in " << vm << "\n";
    } else if (line == "started-sshd") {
      ctx.err << "boxd: started sshd in " << vm << " on 127.0.0.1:22 (/etc/boxd-sshd)\n";
    } else if (line == "added-key") {
      ctx.err << "boxd: added " << public_key_file << " to " << vm << ":~/.ssh/authorized_keys\n";
    }
  }
}

}  // namespace

std::string ssh_proxy_command(const Context& ctx, const std::string& relay) {
  std::string command = shell_quote(self_path());
  const auto& flags = ctx.global.flags;
  const std::pair<const char*, const std::optional<std::string>*> passed[] = {
      {"--profile", &flags.profile},
      {"--environment", &flags.environment},
      {"--api-url", &flags.api_url},
      {"--exchange-url", &flags.exchange_url},
  };
  for (const auto& [name, value] : passed) {
    if (value->has_value()) {
      command += std::string(" ") + name + " " + shell_quote(**value);
    }
  }
  command += " box forward --stdio";
  if (relay != "auto") {
    command += " --relay " + relay;
  }
  return escape_percent(command) + " %h 22";
}

void add_box_ssh(CLI::App& parent, Context& ctx) {
  add_leaf<BoxSshOptions>(parent, ctx, define_box_ssh, run_box_ssh, take_trailing_command);
}

int run_box_ssh(const BoxSshOptions& options, Context& ctx) {
  const std::string vm = strip_boxd_suffix(options.vm);
  const auto [private_key, public_key] = find_key(options.identity);
  if (!options.no_setup) {
    set_up_box(ctx, vm, public_key);
  }
  std::vector<std::string> argv = {"ssh",
                                   "-o",
                                   "ProxyCommand=" + ssh_proxy_command(ctx, options.relay),
                                   "-o",
                                   "StrictHostKeyChecking=no",
                                   "-o",
                                   "UserKnownHostsFile=/dev/null",
                                   "-o",
                                   "LogLevel=ERROR",
                                   "-i",
                                   private_key};
  for (const auto& option : options.ssh_options) {
    argv.insert(argv.end(), {"-o", option});
  }
  argv.push_back("boxd@" + vm + ".boxd");
  if (!options.command.empty()) {
    argv.emplace_back("--");
    argv.insert(argv.end(), options.command.begin(), options.command.end());
  }
  // Secrets given as flags reach the ProxyCommand through the environment.
  if (ctx.global.flags.api_key) {
    ::setenv("BOXD_API_KEY", ctx.global.flags.api_key->c_str(), 1);
  }
  if (ctx.global.flags.token) {
    ::setenv("BOXD_TOKEN", ctx.global.flags.token->c_str(), 1);
  }
  std::vector<char*> raw;
  for (auto& word : argv) {
    raw.push_back(word.data());
  }
  raw.push_back(nullptr);
  ctx.out.flush();
  ctx.err.flush();
  ::execvp("ssh", raw.data());
  throw Error(ErrorClass::Internal, std::string("cannot run ssh: ") + std::strerror(errno),
              "install the OpenSSH client (openssh-client)");
}

}  // namespace boxd::cli
