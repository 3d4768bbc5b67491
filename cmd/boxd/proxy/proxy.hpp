// `boxd box proxy ...`: HTTP proxies that expose a box's ports at URLs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "boxd/api/v1/api.pb.h"
#include "boxd/context.hpp"
#include "boxd/output.hpp"

namespace boxd::cli {

void add_box_proxy(CLI::App& box, Context& ctx);

// The URL a proxy answers at: http:// for a local server's *.localhost
// domains, https:// otherwise.
std::string proxy_url(const api::v1::ProxyInfo& proxy);
// Columns: url, vm, proxy ("(default)" for the default one), port, mode,
// bots ("refused" with bot protection on, else "allowed").
Table proxy_table(const std::vector<api::v1::ProxyInfo>& proxies);

struct ProxyListOptions {
  std::string vm;  // empty: all your boxes
  bool json = false;
};
CLI::App* define_proxy_list(CLI::App& parent, ProxyListOptions& options);
int run_proxy_list(const ProxyListOptions& options, Context& ctx);

struct ProxyCreateOptions {
  std::string vm;
  std::string name;
  std::uint32_t port = 0;
  bool json = false;
  bool quiet = false;
};
CLI::App* define_proxy_create(CLI::App& parent, ProxyCreateOptions& options);
int run_proxy_create(const ProxyCreateOptions& options, Context& ctx);

struct ProxySetPortOptions {
  std::string vm;
  std::string name;  // empty: the default proxy
  std::string port;  // a number or "auto"
  bool json = false;
  bool quiet = false;
};
CLI::App* define_proxy_set_port(CLI::App& parent, ProxySetPortOptions& options);
int run_proxy_set_port(const ProxySetPortOptions& options, Context& ctx);

struct ProxyDeleteOptions {
  std::string vm;
  std::string name;
  bool quiet = false;
};
CLI::App* define_proxy_delete(CLI::App& parent, ProxyDeleteOptions& options);
int run_proxy_delete(const ProxyDeleteOptions& options, Context& ctx);

struct ProxyBotProtectionOptions {
  std::string vm;
  bool enabled = false;
  bool json = false;
  bool quiet = false;
};
CLI::App* define_proxy_bot_protection(CLI::App& parent, ProxyBotProtectionOptions& options);
int run_proxy_bot_protection(const ProxyBotProtectionOptions& options, Context& ctx);

struct ProxyExposeOptions {
  std::string vm;
  std::uint32_t port = 0;
  std::string protocol = "tcp";
  bool json = false;
  bool quiet = false;
};
CLI::App* define_proxy_expose(CLI::App& parent, ProxyExposeOptions& options);
int run_proxy_expose(const ProxyExposeOptions& options, Context& ctx);

}  // namespace boxd::cli
