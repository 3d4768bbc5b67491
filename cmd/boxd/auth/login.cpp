#include "boxd/auth/login.hpp"

#include <unistd.h>

#include <cerrno>
#include <iostream>

#include "boxd/auth/credentials_store.hpp"
#include "boxd/auth/secret_prompt.hpp"
#include "boxd/command.hpp"
#include "client/client.hpp"
#include "common/error.hpp"

namespace boxd::cli {

CLI::App* define_auth_login(CLI::App& parent, LoginOptions& options) {
  CLI::App* cmd = parent.add_subcommand(
      "login", "Store an API key (read from stdin, or a prompt that does not echo)");
  cmd->add_flag("--no-verify", options.no_verify,
                "Store the key without checking it with the server");
  cmd->footer(
      "The key is never taken from the command line. It is stored in credentials.json\n"
      "(mode 0600) under the active profile, or else the environment name.\n"
      "\n"
      "Examples:\n"
      "  boxd auth login\n"
      "  boxd auth login < key.txt\n"
      "  printenv BOXD_KEY | boxd --environment staging auth login");
  return cmd;
}

void add_auth_login(CLI::App& parent, Context& ctx) {
  add_leaf<LoginOptions>(parent, ctx, define_auth_login, run_login);
}

std::string api_key_problem(const std::string& key) {
  const bool prefix_ok = key.rfind("bxd_", 0) == 0 || key.rfind("bxk_", 0) == 0;
  if (!prefix_ok || key.size() <= 4) {
    return "this does not look like a boxd API key (expected bxd_ followed by letters and digits)";
  }
  for (std::size_t i = 4; i < key.size(); ++i) {
    const char c = key[i];
    const bool base62 = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!base62) {
      return "this does not look like a boxd API key (only letters and digits may follow bxd_)";
    }
  }
  return {};
}

std::string credentials_entry(const client::ResolvedConfig& config) {
  return config.profile.empty() ? config.environment : config.profile;
}

namespace {

std::string trim(const std::string& text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) {
    return {};
  }
  const auto last = text.find_last_not_of(" \t\r\n");
  return text.substr(first, last - first + 1);
}

std::string read_key(Context& ctx) {
  if (ctx.stdin_tty) {
    return trim(read_secret_line(ctx.in_fd, ctx.err, "Paste your boxd API key: "));
  }
  std::string text;
  char buffer[4096];
  ssize_t n = 0;
  while ((n = ::read(ctx.in_fd, buffer, sizeof buffer)) != 0) {
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      throw Error(ErrorClass::Usage, "cannot read the API key from stdin");
    }
    text.append(buffer, static_cast<std::size_t>(n));
    if (text.size() > 64 * 1024) {
      throw Error(ErrorClass::Usage, "stdin holds more than an API key");
    }
  }
  return trim(text);
}

}  // namespace

int run_login(const LoginOptions& options, Context& ctx) {
  const client::ResolvedConfig& config = ctx.config();
  const std::string key = read_key(ctx);
  if (key.empty()) {
    throw Error(ErrorClass::Usage, "no API key given",
                "pipe the key on stdin: boxd auth login < key.txt");
  }
  if (const std::string problem = api_key_problem(key); !problem.empty()) {
    throw Error(ErrorClass::Usage, problem);
  }
  std::string user_id;
  if (!options.no_verify) {
    user_id = client::exchange_api_key(config.exchange_url, key).user_id;
  }
  const std::string entry = credentials_entry(config);
  const auto path = credentials_path();
  store_api_key(path, entry, key);
  if (user_id.empty()) {
    ctx.err << "Stored the API key for '" << entry << "' in " << path.string()
            << " (not verified)\n";
  } else {
    ctx.err << "Logged in to '" << entry << "' as " << user_id << " (key stored in "
            << path.string() << ")\n";
  }
  return 0;
}

}  // namespace boxd::cli
