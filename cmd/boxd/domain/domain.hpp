// `boxd domain ...`: custom domains routed to a box's default proxy.
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "boxd/api/v1/api.pb.h"
#include "boxd/context.hpp"
#include "boxd/output.hpp"

namespace boxd::cli {

void add_domain(CLI::App& root, Context& ctx);

struct DomainBindOptions {
  std::string domain;
  std::string vm;
  bool json = false;
  bool quiet = false;
};
CLI::App* define_domain_bind(CLI::App& parent, DomainBindOptions& options);
int run_domain_bind(const DomainBindOptions& options, Context& ctx);

struct DomainListOptions {
  bool json = false;
};
CLI::App* define_domain_list(CLI::App& parent, DomainListOptions& options);
Table domain_table(const std::vector<api::v1::CustomDomainInfo>& domains);
int run_domain_list(const DomainListOptions& options, Context& ctx);

struct DomainUnbindOptions {
  std::vector<std::string> domains;
  bool quiet = false;
};
CLI::App* define_domain_unbind(CLI::App& parent, DomainUnbindOptions& options);
int run_domain_unbind(const DomainUnbindOptions& options, Context& ctx);

}  // namespace boxd::cli
