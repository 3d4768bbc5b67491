// `boxd box forward`: local TCP listeners whose connections each become one
// Exec stream running a relay in the box (forward_conn.hpp, forward_relay.hpp,
// forward_remote.hpp); `--stdio` relays stdin/stdout instead (ssh ProxyCommand).
#include "boxd/box/forward.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <list>
#include <memory>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "boxd/box/forward_conn.hpp"
#include "boxd/box/forward_remote.hpp"
#include "boxd/command.hpp"
#include "boxd/output.hpp"
#include "common/error.hpp"
#include "common/fd.hpp"

namespace boxd::cli {

CLI::App* define_box_forward(CLI::App& parent, ForwardOptions& options) {
  CLI::App* cmd = parent.add_subcommand("forward", "Forward local TCP ports to ports inside a box");
  cmd->add_option("VM", options.vm, "Box name or id (a trailing .boxd is ignored)")->required();
  cmd->add_option("SPEC", options.specs,
                  "[LOCAL_ADDR:]LOCAL_PORT:REMOTE_PORT, or PORT for the same port on both sides; "
                  "LOCAL_PORT 0 picks a free port. With --stdio: the box port only")
      ->required();
  cmd->add_flag("--stdio", options.stdio,
                "Relay one connection over stdin/stdout (for ssh's ProxyCommand)");
  cmd->add_option("--relay", options.relay,
                  "The relay in the box: auto, boxd (this binary, uploaded once per version) "
                  "or python3")
      ->check(CLI::IsMember({"auto", "boxd", "python3"}));
  cmd->footer(
      "Each connection to a local port becomes its own Exec stream running a relay to\n"
      "127.0.0.1:REMOTE_PORT inside the box; bytes go both ways unchanged and a\n"
      "half-close on either side reaches the other. A failed connection is reported\n"
      "on stderr and the others go on. Local addresses default to 127.0.0.1; IPv6\n"
      "ones go in brackets ([::1]:8080:80). Ctrl-C ends it (exit 130).\n"
      "\n"
      "The relay (--relay auto): a statically linked boxd (the released binary) of the\n"
      "box's architecture uploads itself once to ~/.cache/boxd/relay/ in the box (named\n"
      "by version and sha256, checked with sha256sum) and runs as `boxd __relay`; any\n"
      "other build uses python3 in the box (stock Ubuntu has it).\n"
      "\n"
      "Prints one line per listener (Forwarding ADDR:PORT -> VM:PORT); --json prints\n"
      "[{\"vm\",\"local_address\",\"local_port\",\"remote_port\",\"relay\"}] once all listen.\n"
      "\n"
      "Examples:\n"
      "  boxd box forward web 8080:80\n"
      "  boxd box forward web 0:5432 3000\n"
      "  boxd box forward web 0.0.0.0:8080:80\n"
      "  ssh -o ProxyCommand='boxd box forward --stdio %h 22' boxd@web");
  return cmd;
}

void add_box_forward(CLI::App& parent, Context& ctx) {
  add_leaf<ForwardOptions>(parent, ctx, define_box_forward, run_forward);
}

namespace {

unsigned parse_port(const std::string& text, const std::string& spec, bool zero_ok) {
  const bool digits = !text.empty() && text.size() <= 5 &&
                      text.find_first_not_of("0123456789") == std::string::npos;
  const unsigned long value = digits ? std::stoul(text) : 0;
  if (!digits || value > 65535 || (value == 0 && !zero_ok)) {
    throw Error(ErrorClass::Usage, fmt::format("invalid port '{}' in '{}': use 1-65535{}", text,
                                               spec, zero_ok ? " (0 for a free local port)" : ""));
  }
  return static_cast<unsigned>(value);
}

}  // namespace

ForwardSpec parse_forward_spec(const std::string& text) {
  ForwardSpec spec;
  const auto last = text.rfind(':');
  if (last == std::string::npos) {
    spec.local_port = spec.remote_port = parse_port(text, text, false);
    return spec;
  }
  spec.remote_port = parse_port(text.substr(last + 1), text, false);
  const std::string local = text.substr(0, last);
  const auto colon = local.rfind(':');
  if (colon == std::string::npos) {
    spec.local_port = parse_port(local, text, true);
    return spec;
  }
  spec.local_port = parse_port(local.substr(colon + 1), text, true);
  std::string address = local.substr(0, colon);
  if (address.size() >= 2 && address.front() == '[' && address.back() == ']') {
    address = address.substr(1, address.size() - 2);
  } else if (address.find(':') != std::string::npos) {
    throw Error(ErrorClass::Usage,
                "invalid forward '" + text + "': put an IPv6 address in brackets",
                "e.g. [::1]:8080:80");
  }
  if (address.empty()) {
    throw Error(ErrorClass::Usage, "invalid forward '" + text + "': empty local address");
  }
  spec.local_address = address;
  return spec;
}

std::string strip_boxd_suffix(const std::string& host) {
  const std::string suffix = ".boxd";
  if (host.size() > suffix.size() &&
      host.compare(host.size() - suffix.size(), suffix.size(), suffix) == 0) {
    return host.substr(0, host.size() - suffix.size());
  }
  return host;
}

namespace {

struct Listener {
  int fd = -1;
  ForwardSpec spec;
  std::string address;  // as bound
  unsigned port = 0;
};

std::string socket_name(const sockaddr_storage& ss, unsigned* port) {
  char host[INET6_ADDRSTRLEN] = "?";
  if (ss.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    ::inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
    *port = ntohs(a->sin6_port);
    return std::string("[") + host + "]";
  }
  const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
  ::inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
  *port = ntohs(a->sin_port);
  return host;
}

Listener open_listener(const ForwardSpec& spec) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(spec.local_port);
  if (const int rc = ::getaddrinfo(spec.local_address.c_str(), port.c_str(), &hints, &found);
      rc != 0) {
    throw Error(ErrorClass::Usage,
                "cannot use local address '" + spec.local_address + "': " + ::gai_strerror(rc));
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> guard(found, ::freeaddrinfo);
  Listener listener;
  listener.spec = spec;
  listener.fd = ::socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  ::setsockopt(listener.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (listener.fd < 0 || ::bind(listener.fd, found->ai_addr, found->ai_addrlen) != 0 ||
      ::listen(listener.fd, 128) != 0) {
    const int err = errno;
    if (listener.fd >= 0) {
      ::close(listener.fd);
    }
    throw Error(ErrorClass::Connection,
                fmt::format("cannot listen on {}:{}: {}", spec.local_address, spec.local_port,
                            std::strerror(err)),
                err == EADDRINUSE ? "pick another local port, or 0 for a free one" : "");
  }
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  ::getsockname(listener.fd, reinterpret_cast<sockaddr*>(&ss), &len);
  listener.address = socket_name(ss, &listener.port);
  return listener;
}

struct Connection {
  std::thread thread;
  std::shared_ptr<std::atomic<bool>> done = std::make_shared<std::atomic<bool>>(false);
};

// Everything the accept loop shares with the connection threads.
struct ForwardRun {
  Context& ctx;
  std::string vm;
  RemoteRelay relay;
  SessionRegistry registry;
  std::mutex log_mutex;
  std::list<Connection> connections;
  std::mutex fds_mutex;
  std::set<int> fds;  // open local sockets, shut down at Ctrl-C (a blocked write returns)
};

void serve_connection(ForwardRun& run, int fd, std::string peer, const Listener& listener) {
  const auto started = std::chrono::steady_clock::now();
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  const ConnectionResult result = relay_connection(
      run.ctx.client(), run.vm, run.relay.command("127.0.0.1", listener.spec.remote_port),
      {fd, fd, true}, run.registry);
  if (!result.ok) {
    const linger reset{1, 0};  // the local client sees a reset, not a clean end
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
  }
  {
    std::lock_guard lock(run.fds_mutex);
    run.fds.erase(fd);
    ::close(fd);
  }
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - started)
                      .count();
  std::lock_guard lock(run.log_mutex);
  if (!result.ok) {
    run.ctx.err << fmt::format("boxd: connection from {} to {}:{} failed: {}\n", peer, run.vm,
                               listener.spec.remote_port, result.error)
                << std::flush;
  } else if (run.ctx.global.verbose > 0) {
    run.ctx.err << fmt::format(
                       "boxd: connection from {} to {}:{} closed ({} bytes out, {} in, {} ms)\n",
                       peer, run.vm, listener.spec.remote_port, result.sent, result.received, ms)
                << std::flush;
  }
}

void accept_one(ForwardRun& run, const Listener& listener) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  const int fd = ::accept4(listener.fd, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_CLOEXEC);
  if (fd < 0) {
    if (errno == EMFILE || errno == ENFILE) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));  // not a busy loop
    }
    return;  // EAGAIN, ECONNABORTED, EMFILE: the loop polls again
  }
  {
    std::lock_guard lock(run.fds_mutex);
    run.fds.insert(fd);
  }
  unsigned port = 0;
  std::string peer = socket_name(ss, &port);
  peer += ":" + std::to_string(port);
  Connection& conn = run.connections.emplace_back();
  conn.thread = std::thread([&run, fd, peer, &listener, done = conn.done] {
    serve_connection(run, fd, peer, listener);
    done->store(true);
  });
}

void reap(ForwardRun& run, bool all) {
  for (auto it = run.connections.begin(); it != run.connections.end();) {
    if (all || it->done->load()) {
      it->thread.join();
      it = run.connections.erase(it);
    } else {
      ++it;
    }
  }
}

// Accepts until SIGINT/SIGTERM arrives on `signals`; returns that signal.
int accept_loop(ForwardRun& run, const std::vector<Listener>& listeners,
                const SignalPipe& signals) {
  std::vector<pollfd> fds;
  fds.push_back({signals.fd(), POLLIN, 0});
  for (const auto& l : listeners) {
    fds.push_back({l.fd, POLLIN, 0});
  }
  int signal = 0;
  while (signal == 0) {
    if (::poll(fds.data(), fds.size(), 1000) < 0 && errno != EINTR) {
      break;
    }
    if ((fds[0].revents & POLLIN) != 0) {
      const int taken = signals.take();
      signal = taken != 0 ? taken : SIGTERM;
    }
    for (std::size_t i = 1; i < fds.size() && signal == 0; ++i) {
      if ((fds[i].revents & POLLIN) != 0) {
        accept_one(run, listeners[i - 1]);
      }
    }
    reap(run, false);
  }
  return signal;
}

void print_listeners(const ForwardOptions& options, const ForwardRun& run,
                     const std::vector<Listener>& listeners) {
  if (options.json) {
    nlohmann::json doc = nlohmann::json::array();
    for (const auto& l : listeners) {
      doc.push_back({{"vm", run.vm},
                     {"local_address", l.address},
                     {"local_port", l.port},
                     {"remote_port", l.spec.remote_port},
                     {"relay", run.relay.name()}});
    }
    run.ctx.out << dump_json(doc) << std::flush;
    return;
  }
  for (const auto& l : listeners) {
    run.ctx.out << fmt::format("Forwarding {}:{} -> {}:{}\n", l.address, l.port, run.vm,
                               l.spec.remote_port);
  }
  run.ctx.out << std::flush;
}

int run_stdio(const ForwardOptions& options, const std::string& vm, Context& ctx) {
  if (options.specs.size() != 1) {
    throw Error(ErrorClass::Usage, "--stdio takes one box port",
                "e.g. boxd box forward --stdio web 22");
  }
  const unsigned port = parse_port(options.specs[0], options.specs[0], false);
  const RemoteRelay relay =
      prepare_remote_relay(ctx.client(), vm, parse_relay_kind(options.relay), ctx.err);
  SessionRegistry registry;
  const ConnectionResult result = relay_connection(
      ctx.client(), vm, relay.command("127.0.0.1", port), {ctx.in_fd, ctx.out_fd, false}, registry);
  if (!result.ok) {
    throw Error(
        ErrorClass::Connection, fmt::format("forward to {}:{} failed: {}", vm, port, result.error),
        port == 22 && result.error.find("refused") != std::string::npos
            ? "nothing listens on port 22 in the box: 'boxd box ssh " + vm + "' sets up sshd"
            : "");
  }
  return 0;
}

}  // namespace

int run_forward(const ForwardOptions& options, Context& ctx) {
  const std::string vm = strip_boxd_suffix(options.vm);
  if (options.stdio) {
    return run_stdio(options, vm, ctx);
  }
  std::vector<ForwardSpec> specs;
  for (const auto& text : options.specs) {
    specs.push_back(parse_forward_spec(text));
  }
  ForwardRun run{ctx, vm, {}, {}, {}, {}, {}, {}};
  run.relay = prepare_remote_relay(ctx.client(), vm, parse_relay_kind(options.relay), ctx.err);
  std::vector<Listener> listeners;
  try {
    for (const auto& spec : specs) {
      listeners.push_back(open_listener(spec));
    }
  } catch (...) {
    for (const auto& l : listeners) {
      ::close(l.fd);
    }
    throw;
  }
  print_listeners(options, run, listeners);
  // Until boxd exits, SIGINT/SIGTERM only end the accept loop: a second one
  // while connections wind down is ignored.
  const SignalPipe signals({SIGINT, SIGTERM});
  const int signal = accept_loop(run, listeners, signals);
  for (const auto& l : listeners) {
    ::close(l.fd);
  }
  run.registry.stop_all();
  {
    std::lock_guard lock(run.fds_mutex);
    for (const int fd : run.fds) {
      ::shutdown(fd, SHUT_RDWR);
    }
  }
  reap(run, true);
  return 128 + signal;
}

}  // namespace boxd::cli
