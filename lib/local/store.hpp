// The local server's persistent state: boxes, API tokens and revoked token
// ids, kept in one JSON document (<state_dir>/state.json).
//
// How it works: every change is made on the in-memory copy under a mutex and
// then the whole document is rewritten with write_file_atomic (temp file,
// fsync, rename), so a reader, a restart or a kill -9 sees either the old or
// the new state, never a torn one. The document is small (tens of boxes), so
// rewriting it whole is cheaper than being clever.
//
// What can go wrong: holding the mutex while waiting on a box (boot, stop)
// would stall every RPC, so callers take a snapshot, release the lock, act,
// and write back with update(). A box's name is reserved at creation time
// (status "starting") so two concurrent creates cannot both win.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/files.hpp"
#include "local/runtime.hpp"
#include "local/states.hpp"

namespace boxd::local {

struct BoxRecord {
  std::string id;
  std::string name;
  std::string owner;
  BoxStatus status = BoxStatus::Stopped;
  std::string image = "host";
  std::string restart_policy = "never";
  std::uint32_t vcpu = 2;
  std::uint64_t memory_bytes = 8ULL << 30;
  std::uint64_t disk_bytes = 10ULL << 30;
  std::uint32_t auto_suspend_timeout_secs = 0;
  std::uint32_t auto_destroy_timeout_secs = 0;
  std::uint32_t auto_hibernate_timeout_secs = 0;
  std::vector<std::pair<std::string, std::string>> env;
  std::vector<std::string> cmd;
  std::int64_t created_at = 0;  // unix seconds
  std::int64_t boot_time_ms = 0;
  std::string source = "standalone";  // or "fork/<name>"
  std::string forked_from;
  bool bot_protection = false;          // SetBotProtection: the HTTP proxy refuses bots
  std::vector<BoxNetworkRef> networks;  // box create --network (id, name, subnet)
  BoxHandle handle;
};

struct TokenRecord {
  std::string jti;
  std::string owner;
  std::int64_t created_at = 0;
  std::int64_t expires_at = 0;
};

// A named proxy of a box, or (name "") its default proxy's locked port.
// A box without a "" record has the default proxy in auto mode.
struct ProxyRecord {
  std::string box_id;
  std::string name;
  std::uint32_t port = 0;
};

struct TemplateRecord {
  std::string id;
  std::string name;
  std::string owner;
  std::string image_ref;
  std::uint32_t vcpu = 0;  // 0 = the server's default
  std::uint64_t memory_bytes = 0;
  std::uint64_t disk_bytes = 0;
  std::optional<std::uint32_t> auto_suspend_timeout_secs;
  std::uint32_t auto_destroy_timeout_secs = 0;
  std::int64_t created_at = 0;
};

// A custom domain bound to a box; domains are unique server-wide.
struct DomainRecord {
  std::string domain;
  std::string owner;
  std::string box_id;
  std::int64_t created_at = 0;
};

// A user network: the namespace runtime gives its boxes a bridge of their own
// and addresses in `subnet` (box_network.hpp).
struct NetworkRecord {
  std::string id;
  std::string name;
  std::string owner;
  std::string subnet;
  std::int64_t created_at_ms = 0;  // "provisioning" for the first second
};

// A snapshot: a copy of a box's disk in <state_dir>/snapshots/<id>/, taken
// with the box frozen (snapshots.hpp). Saving the same name again
// replaces the data and bumps the version; the id stays.
struct SnapshotRecord {
  std::string id;
  std::string name;
  std::string owner;
  std::uint64_t version = 1;
  SnapshotStatus status = SnapshotStatus::Ready;
  std::uint64_t size_bytes = 0;
  std::uint32_t vcpu = 0;
  std::uint64_t memory_bytes = 0;
  std::uint64_t disk_bytes = 0;
  std::uint64_t use_count = 0;
  std::string source_vm;  // the box's name when it was taken
  std::int64_t created_at = 0;
  std::int64_t updated_at = 0;
};

// The whole document. Plain data: tests build and compare it directly.
struct StoreData {
  std::vector<BoxRecord> boxes;
  std::vector<TokenRecord> tokens;
  std::map<std::string, std::int64_t> revoked;  // jti -> its expiry (pruned after)
  // jti -> who revoked it (each user's revocations count against
  // --max-records; entries from before this was kept have none).
  std::map<std::string, std::string> revoked_by;
  std::vector<ProxyRecord> proxies;
  std::vector<TemplateRecord> templates;
  std::vector<DomainRecord> domains;
  std::vector<NetworkRecord> networks;
  std::vector<SnapshotRecord> snapshots;
};

std::string store_to_json(const StoreData& data);
// Throws boxd::Error(Internal) on a document it cannot read.
StoreData store_from_json(const std::string& text);
// The proxies/templates/domains/networks part of the document (store_net.cpp).
void net_records_to_json(const StoreData& data, nlohmann::json& doc);
void net_records_from_json(const nlohmann::json& doc, StoreData& data);

// --max-records' default.
constexpr int k_default_record_limit = 256;

class Store {
 public:
  // Loads <dir>/state.json if it exists.
  explicit Store(std::filesystem::path dir);

  const std::filesystem::path& dir() const { return m_dir; }

  // How many records of one kind a user may have (rpc::check_record_room);
  // set once at start-up, before any call.
  int record_limit() const { return m_record_limit; }
  void set_record_limit(int limit) { m_record_limit = limit; }

  // Runs fn on the data under the lock, then persists it. fn must not
  // block on processes or the network. Sync::Content (common/files.hpp):
  // one fsync fewer; a machine crash may bring back the state of the save
  // before, whole; for a change that recovery treats the same either way.
  template <class Fn>
  auto update(Fn&& fn, Sync sync = Sync::Durable) -> decltype(fn(std::declval<StoreData&>())) {
    std::lock_guard lock(m_mutex);
    if constexpr (std::is_void_v<decltype(fn(m_data))>) {
      fn(m_data);
      save_locked(sync);
    } else {
      auto result = fn(m_data);
      save_locked(sync);
      return result;
    }
  }
  // Runs fn on the data under the lock without persisting.
  template <class Fn>
  auto read(Fn&& fn) const -> decltype(fn(std::declval<const StoreData&>())) {
    std::lock_guard lock(m_mutex);
    return fn(m_data);
  }

  // Convenience lookups (copies).
  std::optional<BoxRecord> find_box(const std::string& owner, const std::string& name_or_id) const;
  std::vector<BoxRecord> boxes() const;

 private:
  void save_locked(Sync sync);

  std::filesystem::path m_dir;
  mutable std::mutex m_mutex;
  StoreData m_data;
  int m_record_limit = k_default_record_limit;
};

// Finds a box by name or id among the owner's boxes (pointer into data).
BoxRecord* find_box_in(StoreData& data, const std::string& owner, const std::string& name_or_id);

// What the user's records in the store count against --max-disk-bytes:
// each box's disk size (disk_bytes, what the box may come to take) and what
// each snapshot's copy takes, but snapshot `except_snapshot` (one a save
// replaces). The user's disks (disks.hpp) count too, kept apart.
std::uint64_t disk_bytes_in_store(const StoreData& data, const std::string& user,
                                  const std::string& except_snapshot = "");

// --max-disk-bytes for what Boxes and Snapshots add (the service wires it to
// Disks).
struct DiskQuota {
  // The sizes of the user's disks. Never called under the store's lock.
  std::function<std::uint64_t(const std::string& user)> disk_bytes;
  // Fails (RESOURCE_EXHAUSTED) when `adding` bytes do not fit next to `in_use`.
  std::function<void(std::uint64_t in_use, std::uint64_t adding)> check;
  // Held from reading what is in use until the new record is added, by
  // disks, boxes and snapshots alike (taken before the store's or the
  // disks' lock), so that creates at once do not each see room for
  // themselves only.
  std::shared_ptr<std::mutex> lock;

  std::unique_lock<std::mutex> hold() const { return hold_lock(lock); }

  // `lock` held, or nothing held when there is no lock (unit tests).
  static std::unique_lock<std::mutex> hold_lock(const std::shared_ptr<std::mutex>& lock) {
    return lock ? std::unique_lock<std::mutex>(*lock) : std::unique_lock<std::mutex>();
  }
};

}  // namespace boxd::local
