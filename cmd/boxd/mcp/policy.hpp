// The safety switches of `boxd mcp`: what an agent may see and change.
//  - read_only: only tools that change nothing are listed or run.
//  - allow: box name globs (fnmatch); a box matching none does not exist for
//    the agent (the same "not found" as a missing box), and boxes it creates
//    or forks must be named to match.
//  - max_boxes: how many boxes this server may have created and not yet
//    destroyed at once (create and fork count; a destroy through it frees one).
#pragma once

#include <cstddef>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "client/client_api.hpp"

namespace boxd::cli::mcp {

struct PolicyOptions {
  bool read_only = false;
  std::vector<std::string> allow;
  std::optional<unsigned> max_boxes;
};

class Policy {
 public:
  explicit Policy(PolicyOptions options) : m_options(std::move(options)) {}

  bool read_only() const { return m_options.read_only; }
  bool restricts_names() const { return !m_options.allow.empty(); }
  // True when the name matches one of the globs (or there are none).
  bool visible(const std::string& name) const;

  // The box `ref` (name or id) names, checked against the globs: its name.
  // A hidden box throws the server's own NotFound message.
  std::string resolve(client::ClientApi& client, const std::string& ref) const;
  // A name for a new box: required and matching when globs are set.
  void check_new_name(const std::string& name) const;

  // Holds one of the max_boxes slots for a create in flight (throws
  // QuotaExceeded when none is free); commit or release it afterwards.
  void reserve();
  void commit(const std::string& name);
  void release();
  // A box this server created is gone (destroyed through it).
  void forget(const std::string& name);
  std::string describe() const;

 private:
  PolicyOptions m_options;
  mutable std::mutex m_mutex;
  std::set<std::string> m_created;
  std::size_t m_pending = 0;
};

}  // namespace boxd::cli::mcp
