// `boxd local start`: `boxd local serve` in the background, then the CLI is
// logged in to it (credentials.json entry "local", docs/design.md section 3).
//
// The server runs in its own session (setsid), with stdin from /dev/null,
// stdout (the contract lines) in <state_dir>/server.out, its log in
// <state_dir>/server.log (rotated by size: --log-max-size, --log-max-files;
// `boxd local logs` reads it) and stderr (what comes before the log: a
// start-up error) in <state_dir>/server.stderr; its pid goes to server.pid. We wait
// for its `ready` line and a 200 from /healthz before saying it started.
// API keys given with --api-key reach the server through the environment,
// never through its argv (other users can read a process's argv).
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>
#include <thread>

#include "boxd/command.hpp"
#include "boxd/local/background.hpp"
#include "boxd/local/local.hpp"
#include "boxd/local/serve_flags.hpp"
#include "common/error.hpp"
#include "common/files.hpp"
#include "common/paths.hpp"
#include "local/auth.hpp"

extern char** environ;

namespace boxd::cli {

namespace {

struct LocalStartOptions {
  local::ServeOptions serve;
  int wait_secs = 60;
  bool no_login = false;
  bool json = false;
};

CLI::App* define_local_start(CLI::App& parent, LocalStartOptions& options) {
  CLI::App* cmd = parent.add_subcommand(
      "start", "Start the local boxd server in the background and log the CLI in to it");
  add_serve_flags(*cmd, options.serve);
  cmd->add_option("--wait", options.wait_secs, "Seconds to wait until the server is ready")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--no-login", options.no_login,
                "Do not store the key in credentials.json (entry \"local\")");
  cmd->footer(
      "The server's log goes to <state_dir>/server.log (rotated: server.1.log ...; see\n"
      "'boxd local logs'), start-up errors to server.stderr, its pid to server.pid.\n"
      "Without --api-key, the key generated for user 'local' is used for the login.\n"
      "\n"
      "Examples:\n"
      "  boxd local start\n"
      "  boxd --environment local box create web\n"
      "  boxd local start --runtime process --max-boxes 5\n"
      "  boxd local start --state-dir /tmp/boxd-demo --port 19443 --http-port 19444");
  return cmd;
}

std::string self_exe() {
  char buf[4096];
  const auto n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) {
    throw Error(ErrorClass::Internal, "cannot find the boxd executable (/proc/self/exe)");
  }
  return std::string(buf, static_cast<std::size_t>(n));
}

std::string log_tail(const std::filesystem::path& log) {
  std::string text;
  try {
    text = read_file(log).value_or("");
  } catch (...) {
  }
  if (text.size() > 1500) {
    text = text.substr(text.size() - 1500);
  }
  return text;
}

int spawn_server(const std::filesystem::path& state_dir, const LocalStartOptions& options) {
  local::ServeOptions serve = options.serve;
  serve.state_dir = state_dir;
  if (serve.log_file.empty()) {
    serve.log_file = state_dir / "server.log";
  }
  std::vector<std::string> args{self_exe(), "local", "serve"};
  for (auto& word : serve_flags_to_argv(serve)) {
    args.push_back(std::move(word));
  }
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "BOXD_LOCAL_API_KEYS=", 20) != 0) {
      env.emplace_back(*e);
    }
  }
  if (!serve.api_keys.empty()) {
    std::string keys = "BOXD_LOCAL_API_KEYS=";
    for (const auto& k : serve.api_keys) {
      keys += k + " ";
    }
    env.push_back(keys);
  }
  std::vector<char*> argv;
  for (auto& a : args) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (auto& e : env) {
    envp.push_back(e.data());
  }
  envp.push_back(nullptr);

  const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  const int out_fd =
      ::open((state_dir / "server.out").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  const int log_fd =
      ::open((state_dir / "server.stderr").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (null_fd < 0 || out_fd < 0 || log_fd < 0) {
    throw Error(ErrorClass::Internal, "cannot open the server's files in " + state_dir.string() +
                                          ": " + std::strerror(errno));
  }
  const pid_t pid = ::fork();
  if (pid < 0) {
    throw Error(ErrorClass::Internal, std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    ::setsid();
    ::dup2(null_fd, 0);
    ::dup2(out_fd, 1);
    ::dup2(log_fd, 2);
    ::signal(SIGPIPE, SIG_DFL);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  ::close(null_fd);
  ::close(out_fd);
  ::close(log_fd);
  return pid;
}

void login(const std::string& api_key) {
  const auto dir = config_dir();
  ensure_dir(dir, 0700);
  const auto path = dir / "credentials.json";
  nlohmann::json doc = nlohmann::json::object();
  if (auto text = read_file(path)) {
    doc = nlohmann::json::parse(*text, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) {
      throw Error(ErrorClass::InvalidArgument,
                  path.string() + " is not a JSON object; not touching it",
                  "fix or remove it, or use --no-login");
    }
  }
  doc["local"] = nlohmann::json{{"api_key", api_key}};
  write_file_atomic(path, doc.dump(2) + "\n", 0600);
}

int run_local_start(const LocalStartOptions& options, Context& ctx) {
  const auto state_dir = resolve_local_state_dir(options.serve.state_dir);
  ensure_dir(state_dir, 0700);
  for (const auto& flag : options.serve.api_keys) {
    local::parse_key_flag(flag);  // usage errors before anything starts
  }

  auto server = read_background_server(state_dir);
  bool already = server.running;
  if (!already) {
    const int pid = spawn_server(state_dir, options);
    write_file_atomic(state_dir / "server.pid", std::to_string(pid) + "\n", 0600);
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::seconds(options.wait_secs);
    for (;;) {
      int wstatus = 0;
      if (::waitpid(pid, &wstatus, WNOHANG) == pid) {
        std::filesystem::remove(state_dir / "server.pid");
        const int code = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
        ctx.err << log_tail(state_dir / "server.stderr");
        throw Error(ErrorClass::Internal,
                    "boxd local serve exited with " + std::to_string(code) + " before it was ready",
                    "see " + (state_dir / "server.stderr").string() + " and 'boxd local logs'");
      }
      server = read_background_server(state_dir);
      if (server.ready && local_server_healthy(server.info["exchange_url"])) {
        break;
      }
      if (std::chrono::steady_clock::now() >= deadline) {
        ::kill(pid, SIGTERM);
        throw Error(
            ErrorClass::Timeout,
            "boxd local serve was not ready within " + std::to_string(options.wait_secs) + " s",
            "see 'boxd local logs' and " + (state_dir / "server.stderr").string());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

  if (!options.no_login) {
    std::string key;
    if (!options.serve.api_keys.empty()) {
      key = local::parse_key_flag(options.serve.api_keys.front()).first;
    } else {
      key = read_file(state_dir / "api_key").value_or("");
      while (!key.empty() && (key.back() == '\n' || key.back() == '\r')) {
        key.pop_back();
      }
    }
    if (!key.empty()) {
      login(key);
    }
  }

  if (options.json) {
    nlohmann::json doc{{"pid", server.pid}, {"already_running", already}};
    for (const auto& [k, v] : server.info) {
      doc[k] = v;
    }
    ctx.out << doc.dump(2) << "\n";
  } else {
    for (const auto& [k, v] : server.info) {
      ctx.out << k << ": " << v << "\n";
    }
    ctx.out << "pid: " << server.pid << "\n";
  }
  ctx.err << (already ? "boxd local is already running" : "boxd local started") << " (pid "
          << server.pid << ")";
  if (!options.no_login) {
    ctx.err << "; the CLI is logged in for --environment local";
  }
  ctx.err << "\n";
  const auto api_url = server.info["api_url"];
  if (!api_url.empty() && api_url != "http://127.0.0.1:9443") {
    ctx.err << "hint: not the default ports: export BOXD_API_URL=" << api_url
            << " BOXD_EXCHANGE_URL=" << server.info["exchange_url"] << "\n";
  }
  return 0;
}

}  // namespace

void add_local_start(CLI::App& parent, Context& ctx) {
  add_leaf<LocalStartOptions>(parent, ctx, define_local_start, run_local_start);
}

}  // namespace boxd::cli
