// `boxd snapshot ...`: copies of a box's disk to create boxes from
// (CreateSnapshot, ListSnapshots, GetSnapshot, DeleteSnapshot; a box is
// created from one with `boxd box create NAME --from-snapshot SNAPSHOT`).
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "boxd/api/v1/api.pb.h"
#include "boxd/context.hpp"
#include "boxd/output.hpp"

namespace boxd::cli {

void add_snapshot(CLI::App& root, Context& ctx);

// Columns: name, id, version, status, size, source vm, created.
Table snapshot_table(const std::vector<api::v1::SnapshotInfo>& snapshots, bool human);

struct SnapshotCreateOptions {
  std::string vm;
  std::string name;  // empty: the server's default (the box's name)
  bool json = false;
  bool quiet = false;
};
CLI::App* define_snapshot_create(CLI::App& parent, SnapshotCreateOptions& options);
int run_snapshot_create(const SnapshotCreateOptions& options, Context& ctx);

struct SnapshotListOptions {
  std::string vm;  // empty: every snapshot; else those taken from this box
  bool json = false;
};
CLI::App* define_snapshot_list(CLI::App& parent, SnapshotListOptions& options);
int run_snapshot_list(const SnapshotListOptions& options, Context& ctx);

struct SnapshotGetOptions {
  std::string snapshot;
  bool json = false;
};
CLI::App* define_snapshot_get(CLI::App& parent, SnapshotGetOptions& options);
int run_snapshot_get(const SnapshotGetOptions& options, Context& ctx);

struct SnapshotDeleteOptions {
  std::vector<std::string> snapshots;
  bool quiet = false;
};
CLI::App* define_snapshot_delete(CLI::App& parent, SnapshotDeleteOptions& options);
int run_snapshot_delete(const SnapshotDeleteOptions& options, Context& ctx);

}  // namespace boxd::cli
