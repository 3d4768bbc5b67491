#include "boxd/context.hpp"

#include "boxd/auth/credentials_store.hpp"
#include "client/client.hpp"
#include "client/transport.hpp"
#include "common/log.hpp"

#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <sstream>

namespace boxd::cli {

Context::Context()
    : out(std::cout),
      err(std::cerr),
      in(std::cin),
      in_fd(STDIN_FILENO),
      out_fd(STDOUT_FILENO),
      err_fd(STDERR_FILENO) {
  stdin_tty = ::isatty(STDIN_FILENO) == 1;
  stdout_tty = ::isatty(STDOUT_FILENO) == 1;
  stderr_tty = ::isatty(STDERR_FILENO) == 1;
}

namespace {
std::istream& empty_input() {
  static std::istringstream empty;
  return empty;
}
}  // namespace

Context::Context(std::ostream& out_stream, std::ostream& err_stream)
    : Context(out_stream, err_stream, empty_input()) {}

Context::Context(std::ostream& out_stream, std::ostream& err_stream, std::istream& in_stream)
    : out(out_stream), err(err_stream), in(in_stream) {}

Context::~Context() = default;

namespace {
// When credentials.json supplies the credential, warn (as ssh does for a
// key) if others can read the file.
void warn_loose_credentials_to(std::ostream& err, const client::ResolvedConfig& config) {
  for (const auto& [key, source] : config.sources) {
    if (source == client::Source::Credentials) {
      if (auto problem = credentials_permission_problem(credentials_path())) {
        err << "warning: " << *problem << "\n";
      }
      return;
    }
  }
}
}  // namespace

const client::ResolvedConfig& Context::config() {
  if (!m_config) {
    m_config = std::make_unique<client::ResolvedConfig>(client::resolve_config(global.flags));
    warn_loose_credentials_to(err, *m_config);
    if (global.verbose > 0) {
      // Never the key or the token: only where each setting came from.
      logging::info("environment " + m_config->environment +
                    (m_config->profile.empty() ? "" : ", profile " + m_config->profile));
      const client::TransportMode mode = client::transport_mode(*m_config);
      logging::info("api_url " + m_config->api_url + " (transport " +
                    (mode.auto_transport ? std::string("auto")
                     : mode.tls          ? "TLS"
                                         : "plaintext") +
                    ", by " + mode.rule + ")");
      logging::debug("exchange_url " + m_config->exchange_url);
      for (const auto& [key, source] : m_config->sources) {
        logging::debug(key + " from " + client::source_name(source));
      }
    }
  }
  return *m_config;
}

client::ClientApi& Context::client() {
  if (!m_client) {
    m_client = std::make_unique<client::Client>(config());
  }
  return *m_client;
}

void Context::set_client(std::unique_ptr<client::ClientApi> client) {
  m_client = std::move(client);
}

void Context::set_config(client::ResolvedConfig config) {
  m_client.reset();
  m_config = std::make_unique<client::ResolvedConfig>(std::move(config));
}

namespace {
bool no_color_env() {
  const char* value = std::getenv("NO_COLOR");
  return value != nullptr && value[0] != '\0';
}
}  // namespace

bool Context::color_stdout() const {
  return stdout_tty && !global.no_color && !no_color_env();
}

bool Context::color_stderr() const {
  return stderr_tty && !global.no_color && !no_color_env();
}

void Context::warn(const std::string& message) {
  err << "warning: " << message << "\n";
}

void Context::print_error(const std::string& message, const std::string& hint) {
  err << "error: " << message << "\n";
  if (!hint.empty()) {
    err << "hint: " << hint << "\n";
  }
}

}  // namespace boxd::cli
