#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "boxd/context.hpp"

namespace boxd::cli {

struct BoxSshOptions {
  std::string vm;
  std::vector<std::string> command;      // after --: the remote command
  std::string identity;                  // -i: private key; default ~/.ssh/id_{ed25519,ecdsa,rsa}
  std::vector<std::string> ssh_options;  // -o, passed to ssh
  bool no_setup = false;
  std::string relay = "auto";
};

CLI::App* define_box_ssh(CLI::App& parent, BoxSshOptions& options);
void add_box_ssh(CLI::App& parent, Context& ctx);
int run_box_ssh(const BoxSshOptions& options, Context& ctx);

// The ProxyCommand that reaches port 22 of the box named by ssh's %h (with
// or without .boxd): this binary by absolute path, the global flags given
// on this command line that are not secrets, `box forward --stdio %h 22`.
std::string ssh_proxy_command(const Context& ctx, const std::string& relay = "auto");

// The script `box ssh` runs in the box (as boxd, sudo where needed), with the
// public key on stdin. See the footer of `box ssh --help` for what it changes.
extern const char* const k_box_ssh_setup;

}  // namespace boxd::cli
