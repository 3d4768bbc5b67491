// `boxd disk ...`: persistent directories attached to boxes.
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "boxd/api/v1/api.pb.h"
#include "boxd/context.hpp"
#include "boxd/output.hpp"

namespace boxd::cli {

void add_disk(CLI::App& root, Context& ctx);

struct DiskCreateOptions {
  std::string name;
  std::string size = "10G";
  bool json = false;
  bool quiet = false;
};
CLI::App* define_disk_create(CLI::App& parent, DiskCreateOptions& options);
void add_disk_create(CLI::App& parent, Context& ctx);
int run_disk_create(const DiskCreateOptions& options, Context& ctx);

struct DiskListOptions {
  bool json = false;
};
CLI::App* define_disk_list(CLI::App& parent, DiskListOptions& options);
void add_disk_list(CLI::App& parent, Context& ctx);
// Columns: name, status, size, vm, mount, mode. `vm_names` maps ids to names.
Table disk_table(const std::vector<api::v1::DiskInfo>& disks, bool human,
                 const std::vector<api::v1::GetVmResponse>& boxes);
int run_disk_list(const DiskListOptions& options, Context& ctx);

struct DiskAttachOptions {
  std::string disk;
  std::string vm;
  std::string mount_path;
  bool read_only = false;
  bool json = false;
  bool quiet = false;
};
CLI::App* define_disk_attach(CLI::App& parent, DiskAttachOptions& options);
void add_disk_attach(CLI::App& parent, Context& ctx);
int run_disk_attach(const DiskAttachOptions& options, Context& ctx);

struct DiskDetachOptions {
  std::string disk;
  std::string vm;
  bool json = false;
  bool quiet = false;
};
CLI::App* define_disk_detach(CLI::App& parent, DiskDetachOptions& options);
void add_disk_detach(CLI::App& parent, Context& ctx);
int run_disk_detach(const DiskDetachOptions& options, Context& ctx);

struct DiskDestroyOptions {
  std::vector<std::string> names;
  bool yes = false;
  bool json = false;
  bool quiet = false;
};
CLI::App* define_disk_destroy(CLI::App& parent, DiskDestroyOptions& options);
void add_disk_destroy(CLI::App& parent, Context& ctx);
int run_disk_destroy(const DiskDestroyOptions& options, Context& ctx);

}  // namespace boxd::cli
