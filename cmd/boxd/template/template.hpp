// `boxd template ...`: named box configurations to create boxes from.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "boxd/api/v1/api.pb.h"
#include "boxd/context.hpp"
#include "boxd/output.hpp"

namespace boxd::cli {

void add_template(CLI::App& root, Context& ctx);

struct TemplateCreateOptions {
  std::string name;
  std::string image;
  unsigned vcpu = 0;
  std::uint64_t memory_bytes = 0;
  std::uint64_t disk_bytes = 0;
  std::optional<std::uint32_t> auto_suspend_timeout_secs;
  std::optional<std::uint32_t> auto_destroy_timeout_secs;
  bool json = false;
  bool quiet = false;
};
CLI::App* define_template_create(CLI::App& parent, TemplateCreateOptions& options);
api::v1::CreateTemplateRequest template_create_request(const TemplateCreateOptions& options);
int run_template_create(const TemplateCreateOptions& options, Context& ctx);

struct TemplateListOptions {
  bool json = false;
};
CLI::App* define_template_list(CLI::App& parent, TemplateListOptions& options);
Table template_table(const std::vector<api::v1::TemplateInfo>& templates, bool human);
int run_template_list(const TemplateListOptions& options, Context& ctx);

struct TemplateDeleteOptions {
  std::vector<std::string> names;
  bool quiet = false;
};
CLI::App* define_template_delete(CLI::App& parent, TemplateDeleteOptions& options);
int run_template_delete(const TemplateDeleteOptions& options, Context& ctx);

}  // namespace boxd::cli
