// Every gRPC status code maps to one error class; UNAVAILABLE names the
// endpoint (lib/client/call_error.cpp).
#include <doctest/doctest.h>

#include <grpcpp/support/status.h>

#include "client/call_error.hpp"

using boxd::ErrorClass;
using boxd::client::error_from_call;
using boxd::client::ResolvedConfig;

namespace {

ResolvedConfig config_for(const std::string& environment) {
  ResolvedConfig config;
  config.environment = environment;
  config.api_url = "http://127.0.0.1:1";
  return config;
}

}  // namespace

TEST_CASE("call errors: every gRPC code maps to its class") {
  const std::pair<grpc::StatusCode, ErrorClass> table[] = {
      {grpc::StatusCode::CANCELLED, ErrorClass::Cancelled},
      {grpc::StatusCode::UNKNOWN, ErrorClass::Internal},
      {grpc::StatusCode::INVALID_ARGUMENT, ErrorClass::InvalidArgument},
      {grpc::StatusCode::DEADLINE_EXCEEDED, ErrorClass::Timeout},
      {grpc::StatusCode::NOT_FOUND, ErrorClass::NotFound},
      {grpc::StatusCode::ALREADY_EXISTS, ErrorClass::InvalidArgument},
      {grpc::StatusCode::PERMISSION_DENIED, ErrorClass::Authentication},
      {grpc::StatusCode::RESOURCE_EXHAUSTED, ErrorClass::QuotaExceeded},
      {grpc::StatusCode::FAILED_PRECONDITION, ErrorClass::InvalidArgument},
      {grpc::StatusCode::ABORTED, ErrorClass::Internal},
      {grpc::StatusCode::OUT_OF_RANGE, ErrorClass::Internal},
      {grpc::StatusCode::UNIMPLEMENTED, ErrorClass::Internal},
      {grpc::StatusCode::INTERNAL, ErrorClass::Internal},
      {grpc::StatusCode::UNAVAILABLE, ErrorClass::Connection},
      {grpc::StatusCode::DATA_LOSS, ErrorClass::Internal},
      {grpc::StatusCode::UNAUTHENTICATED, ErrorClass::Authentication},
  };
  for (const auto& entry : table) {
    // Not a structured binding: clang 14 cannot capture one (CAPTURE is a lambda).
    const auto code = entry.first;
    const auto expected = entry.second;
    CAPTURE(static_cast<int>(code));
    const boxd::Error error = error_from_call(grpc::Status(code, "boom"), config_for("production"));
    CHECK(error.error_class() == expected);
    CHECK(error.grpc_code() == static_cast<int>(code));
  }
}

TEST_CASE("call errors: server messages are kept byte for byte") {
  const boxd::Error error = error_from_call(
      grpc::Status(grpc::StatusCode::NOT_FOUND, "VM 'web' not found"), config_for("local"));
  CHECK(std::string(error.what()) == "VM 'web' not found");
}

TEST_CASE("call errors: UNAVAILABLE names the endpoint, with a hint for local") {
  const boxd::Error local = error_from_call(
      grpc::Status(grpc::StatusCode::UNAVAILABLE, "failed to connect"), config_for("local"));
  CHECK(std::string(local.what()) == "cannot connect to http://127.0.0.1:1: failed to connect");
  CHECK(local.hint().find("boxd local start") != std::string::npos);
  const boxd::Error production =
      error_from_call(grpc::Status(grpc::StatusCode::UNAVAILABLE, "x"), config_for("production"));
  CHECK(production.hint().find("boxd local start") == std::string::npos);
  const boxd::Error lost = error_from_call(grpc::Status(grpc::StatusCode::UNAVAILABLE, "gone"),
                                           config_for("local"), true);
  CHECK(std::string(lost.what()).rfind("lost connection to http://127.0.0.1:1", 0) == 0);
}

TEST_CASE("call errors: UNAUTHENTICATED hints at auth login") {
  const boxd::Error error =
      error_from_call(grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "invalid or expired token"),
                      config_for("production"));
  CHECK(std::string(error.what()) == "invalid or expired token");
  CHECK(error.hint() == "run 'boxd auth login'");
}
