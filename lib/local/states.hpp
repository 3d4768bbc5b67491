// The states of boxd local's records as enums, each with one to_string /
// parse pair. The strings are the ones the wire (docs/wire-contract.md
// section 7) and the on-disk store (state.json, disks.json) have always
// used: to_string gives exactly them, parse reads them back.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace boxd::local {

// A box's lifecycle status (BoxRecord::status). Transient: Starting,
// Stopping, Destroying (written before a long action, repaired by recover()).
enum class BoxStatus {
  Starting,
  Running,
  Stopping,
  Stopped,
  Suspended,
  Hibernated,
  Failed,
  Destroying,
};

std::string_view to_string(BoxStatus status);
std::optional<BoxStatus> parse_box_status(std::string_view text);

// Running or Suspended: the box has processes (frozen or not).
inline bool has_processes(BoxStatus status) {
  return status == BoxStatus::Running || status == BoxStatus::Suspended;
}

// A snapshot's status (SnapshotRecord::status, CreateSnapshotResponse.status).
enum class SnapshotStatus {
  Pending,
  Ready,
  Failed,
};

std::string_view to_string(SnapshotStatus status);
std::optional<SnapshotStatus> parse_snapshot_status(std::string_view text);

// A disk's status on the wire (DiskInfo.status): attached to a box or not.
enum class DiskStatus {
  Ready,
  Attached,
};

std::string_view to_string(DiskStatus status);

// A network's status on the wire: provisioning for its first second, then ready.
enum class NetworkStatus {
  Provisioning,
  Ready,
};

std::string_view to_string(NetworkStatus status);

// to_string as a std::string, for proto setters and messages.
template <class Status>
std::string status_text(Status status) {
  return std::string(to_string(status));
}

}  // namespace boxd::local
