#include "local/states.hpp"

#include <array>
#include <utility>

namespace boxd::local {

namespace {

constexpr std::array<std::pair<BoxStatus, std::string_view>, 8> k_box_statuses{{
    {BoxStatus::Starting, "starting"},
    {BoxStatus::Running, "running"},
    {BoxStatus::Stopping, "stopping"},
    {BoxStatus::Stopped, "stopped"},
    {BoxStatus::Suspended, "suspended"},
    {BoxStatus::Hibernated, "hibernated"},
    {BoxStatus::Failed, "failed"},
    {BoxStatus::Destroying, "destroying"},
}};

constexpr std::array<std::pair<SnapshotStatus, std::string_view>, 3> k_snapshot_statuses{{
    {SnapshotStatus::Pending, "pending"},
    {SnapshotStatus::Ready, "ready"},
    {SnapshotStatus::Failed, "failed"},
}};

template <class Status, std::size_t N>
std::string_view text_of(const std::array<std::pair<Status, std::string_view>, N>& table,
                         Status status) {
  for (const auto& [value, text] : table) {
    if (value == status) {
      return text;
    }
  }
  return "unknown";
}

template <class Status, std::size_t N>
std::optional<Status> value_of(const std::array<std::pair<Status, std::string_view>, N>& table,
                               std::string_view text) {
  for (const auto& [value, name] : table) {
    if (name == text) {
      return value;
    }
  }
  return std::nullopt;
}

}  // namespace

std::string_view to_string(BoxStatus status) {
  return text_of(k_box_statuses, status);
}

std::optional<BoxStatus> parse_box_status(std::string_view text) {
  return value_of(k_box_statuses, text);
}

std::string_view to_string(SnapshotStatus status) {
  return text_of(k_snapshot_statuses, status);
}

std::optional<SnapshotStatus> parse_snapshot_status(std::string_view text) {
  return value_of(k_snapshot_statuses, text);
}

std::string_view to_string(DiskStatus status) {
  return status == DiskStatus::Attached ? "attached" : "ready";
}

std::string_view to_string(NetworkStatus status) {
  return status == NetworkStatus::Provisioning ? "provisioning" : "ready";
}

}  // namespace boxd::local
