// Small helpers shared by the domain classes of lib/local (boxes,
// snapshots, disks, proxies, networks, templates, domains) and BoxdService:
// clocks, ids, name and size checks (failing with fault.hpp).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>

#include "common/jwt.hpp"
#include "common/names.hpp"
#include "common/sizes.hpp"
#include "local/fault.hpp"

namespace boxd::local::rpc {

inline std::int64_t now_secs() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Microseconds elapsed since `started` (steady clock), for *_us response fields.
inline std::uint64_t micros_since(std::chrono::steady_clock::time_point started) {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                        std::chrono::steady_clock::now() - started)
                                        .count());
}

inline std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Room for one more of a user's records of a kind (networks, domains,
// templates, snapshots, tokens; proxies per box), at most `limit` (the
// server's --max-records, Store::record_limit): every record is in
// state.json, which each change rewrites under the store's one lock, so a
// user making them without end would slow every call of every user.
inline void check_record_room(std::size_t count, int limit, const std::string& what) {
  if (limit > 0 && count >= static_cast<std::size_t>(limit)) {
    fail(Fault::ResourceExhausted, "quota exceeded: at most " + std::to_string(limit) + " " + what +
                                       " (the server's --max-records)");
  }
}
// The same, counting the records of `records` that `mine` holds for.
template <class Records, class Mine>
void check_record_room(const Records& records, Mine&& mine, int limit, const std::string& what) {
  check_record_room(static_cast<std::size_t>(std::count_if(records.begin(), records.end(), mine)),
                    limit, what);
}

// "<prefix>-" + 16 hex digits.
inline std::string new_id(const std::string& prefix) {
  return prefix + "-" + random_hex(8);
}

// INVALID_ARGUMENT "invalid <kind> name 'X': <why>" unless X is a DNS label.
inline void check_label(const std::string& kind, const std::string& name) {
  if (!is_valid_name(name)) {
    fail(Fault::InvalidArgument,
         "invalid " + kind + " name '" + name +
             "': use lowercase letters, digits and '-' (at most 63, no leading or trailing '-')");
  }
}

// INVALID_ARGUMENT unless vcpu is 1-1024 and memory at least 64 MiB (0 =
// unset passes): the one rule of create, fork, templates and resize.
inline void check_vm_size(std::uint32_t vcpu, std::uint64_t memory_bytes) {
  if (vcpu > k_max_box_vcpu) {
    fail(Fault::InvalidArgument, "invalid vcpu count " + std::to_string(vcpu) + ": use 1-" +
                                     std::to_string(k_max_box_vcpu));
  }
  if (const auto problem = box_memory_problem(memory_bytes); !problem.empty()) {
    fail(Fault::InvalidArgument, problem);
  }
}

}  // namespace boxd::local::rpc
