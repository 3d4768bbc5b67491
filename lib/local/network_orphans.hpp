// Host network leftovers of local servers that are gone for good.
//
// A server's bridge (bxd-<hash>), veths (bxv<hash>*, bxn<hash>*) and
// iptables chains (BOXD-<hash>-*) are removed by its own teardown, or by its
// next start on the same state dir. A server killed with SIGKILL (a crash,
// the OOM killer, a test harness) whose state dir is then deleted has no next
// start: its bridge and chains would stay until reboot, and every packet on
// this host would still walk its iptables jumps. Each server therefore tags
// its bridge with its pid and state dir, and at start removes what belongs
// to a server that is not running and whose state dir no longer exists (as
// seen from the same pid and mount namespaces).
#pragma once

#include <filesystem>
#include <string>

namespace boxd::local {

// Held (flock on /run/boxd-local-network.lock) by a starting server from
// before it reaps until its bridge is tagged and its chains are made, so a
// reaper never sees a bridge list older than another server's chains.
// Without /run (not root) it holds nothing; such a server has no network.
class NetworkSetupLock {
 public:
  NetworkSetupLock();
  ~NetworkSetupLock();
  NetworkSetupLock(const NetworkSetupLock&) = delete;
  NetworkSetupLock& operator=(const NetworkSetupLock&) = delete;

 private:
  int m_fd;
};

// Marks `bridge` (ifalias) as the bridge of this process, serving state_dir.
// Best effort: a path too long for an alias (255 bytes) is not tagged, and
// such a bridge is never reaped by another server.
void tag_server_bridge(const std::string& bridge, const std::filesystem::path& state_dir);

struct ReapedNetworks {
  int bridges = 0;  // servers whose bridge, veths and chains were removed
  int chains = 0;   // iptables chains removed (theirs, and chains with no bridge)
};

// Removes the leftovers of every other server (own_hash excluded) whose
// bridge is tagged with a pid that is not running (or is another process
// now) and a state dir that does not exist; and every BOXD-<hash>-* chain
// with no bxd-<hash> bridge at all (a live server makes its bridge before
// its chains and removes its chains first). Untagged bridges are left alone.
// iptables: the command's path ("" when there is none: links only).
ReapedNetworks reap_orphaned_networks(const std::string& own_hash, const std::string& iptables);

}  // namespace boxd::local
