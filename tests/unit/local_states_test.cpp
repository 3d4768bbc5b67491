// The state enums keep the strings of the wire and the store, and every
// fault reaches the client with the code of docs/wire-contract.md section 8.
#include <doctest/doctest.h>
#include <grpcpp/grpcpp.h>

#include <string>

#include "local/fault.hpp"
#include "local/service_rpc.hpp"
#include "local/states.hpp"
#include "local/store.hpp"

using namespace boxd::local;
using grpc::StatusCode;

TEST_CASE("box statuses round-trip through the strings of the wire and the store") {
  for (const auto status :
       {BoxStatus::Starting, BoxStatus::Running, BoxStatus::Stopping, BoxStatus::Stopped,
        BoxStatus::Suspended, BoxStatus::Hibernated, BoxStatus::Failed, BoxStatus::Destroying}) {
    CHECK(parse_box_status(to_string(status)) == status);
  }
  CHECK(to_string(BoxStatus::Running) == "running");
  CHECK(to_string(BoxStatus::Destroying) == "destroying");
  CHECK_FALSE(parse_box_status("standby").has_value());
  CHECK_FALSE(parse_box_status("Running").has_value());
}

TEST_CASE("a stored record keeps its status string; an unknown one reads as stopped") {
  StoreData data;
  BoxRecord box;
  box.id = "b1";
  box.status = BoxStatus::Hibernated;
  data.boxes.push_back(box);
  SnapshotRecord snap;
  snap.status = SnapshotStatus::Pending;
  data.snapshots.push_back(snap);
  const std::string json = store_to_json(data);
  CHECK(json.find("\"hibernated\"") != std::string::npos);
  CHECK(json.find("\"pending\"") != std::string::npos);
  const auto back = store_from_json(json);
  CHECK(back.boxes.at(0).status == BoxStatus::Hibernated);
  CHECK(back.snapshots.at(0).status == SnapshotStatus::Pending);

  std::string odd = json;
  odd.replace(odd.find("\"hibernated\""), 12, "\"sleepy\"");
  CHECK(store_from_json(odd).boxes.at(0).status == BoxStatus::Stopped);
}

TEST_CASE("snapshot, disk and network statuses are the wire's strings") {
  CHECK(to_string(SnapshotStatus::Ready) == "ready");
  CHECK(parse_snapshot_status("failed") == SnapshotStatus::Failed);
  CHECK(to_string(DiskStatus::Attached) == "attached");
  CHECK(to_string(NetworkStatus::Provisioning) == "provisioning");
}

TEST_CASE("each fault has one gRPC code, and 'VM NAME is STATUS' is FAILED_PRECONDITION") {
  CHECK(status_code_of(Fault::InvalidArgument) == StatusCode::INVALID_ARGUMENT);
  CHECK(status_code_of(Fault::NotFound) == StatusCode::NOT_FOUND);
  CHECK(status_code_of(Fault::AlreadyExists) == StatusCode::ALREADY_EXISTS);
  CHECK(status_code_of(Fault::FailedPrecondition) == StatusCode::FAILED_PRECONDITION);
  CHECK(status_code_of(Fault::PermissionDenied) == StatusCode::PERMISSION_DENIED);
  CHECK(status_code_of(Fault::Unauthenticated) == StatusCode::UNAUTHENTICATED);
  CHECK(status_code_of(Fault::ResourceExhausted) == StatusCode::RESOURCE_EXHAUSTED);
  CHECK(status_code_of(Fault::Cancelled) == StatusCode::CANCELLED);
  CHECK(status_code_of(Fault::Internal) == StatusCode::INTERNAL);
  try {
    fail_box_state("web", BoxStatus::Stopped);
  } catch (const FaultError& e) {
    CHECK(e.fault() == Fault::FailedPrecondition);
    CHECK(std::string(e.what()) == "VM 'web' is stopped");
    CHECK(e.error_class() == boxd::ErrorClass::InvalidArgument);
  }
  // A plain boxd::Error keeps the fault of its class; anything else is internal.
  CHECK(fault_of(boxd::Error(boxd::ErrorClass::NotFound, "x")) == Fault::NotFound);
  CHECK(fault_of(std::runtime_error("x")) == Fault::Internal);
}
