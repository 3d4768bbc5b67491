// boxd doctor's pure parts (lib/client/doctor*.cpp) and the update notice
// (lib/client/update_notice.cpp): the schema diff on real descriptors, the
// clock and expiry judgements, version comparison and the once-a-day rule.
#include <doctest/doctest.h>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "boxd/api/v1/api.grpc.pb.h"
#include "client/doctor.hpp"
#include "client/doctor_schema.hpp"
#include "client/update_notice.hpp"
#include "common/jwt.hpp"

namespace gp = google::protobuf;
using boxd::client::CheckStatus;

namespace {

const gp::ServiceDescriptor& compiled_service() {
  const auto* service =
      gp::DescriptorPool::generated_pool()->FindServiceByName("boxd.api.v1.BoxdApi");
  REQUIRE(service != nullptr);
  return *service;
}

gp::FileDescriptorProto compiled_file() {
  gp::FileDescriptorProto file;
  compiled_service().file()->CopyTo(&file);
  return file;
}

gp::DescriptorProto& message_named(gp::FileDescriptorProto& file, const std::string& name) {
  for (auto& message : *file.mutable_message_type()) {
    if (message.name() == name) {
      return message;
    }
  }
  FAIL("no message " << name);
  throw std::logic_error("unreachable");
}

gp::FieldDescriptorProto& field_named(gp::DescriptorProto& message, const std::string& name) {
  for (auto& field : *message.mutable_field()) {
    if (field.name() == name) {
      return field;
    }
  }
  FAIL("no field " << name);
  throw std::logic_error("unreachable");
}

bool has_problem(const boxd::client::SchemaDiff& diff, const std::string& text) {
  return std::any_of(diff.problems.begin(), diff.problems.end(),
                     [&text](const std::string& p) { return p == text; });
}

const gp::ServiceDescriptor* build(gp::DescriptorPool& pool, const gp::FileDescriptorProto& file) {
  boxd::client::ReflectedSchema schema;
  schema.files.push_back(file);
  return boxd::client::build_service(pool, schema, "boxd.api.v1.BoxdApi");
}

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    char pattern[] = "/tmp/boxd-notice-test-XXXXXX";
    path = ::mkdtemp(pattern);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

}  // namespace

TEST_CASE("schema diff: the compiled contract matches itself through a fresh pool") {
  gp::DescriptorPool pool;
  const auto* theirs = build(pool, compiled_file());
  REQUIRE(theirs != nullptr);
  const auto diff = boxd::client::diff_service(compiled_service(), *theirs);
  CHECK(diff.problems.empty());
  CHECK(diff.notes.empty());
  CHECK(diff.rpcs_compared == compiled_service().method_count());
  CHECK(diff.messages_compared > 10);
}

TEST_CASE("schema diff: a missing RPC, a renumbered field and a retyped field are reported") {
  gp::FileDescriptorProto file = compiled_file();
  // The server lacks Whoami.
  auto* methods = file.mutable_service(0)->mutable_method();
  const auto before = methods->size();
  for (int i = 0; i < methods->size(); ++i) {
    if (methods->Get(i).name() == "Whoami") {
      methods->DeleteSubrange(i, 1);
      break;
    }
  }
  REQUIRE(methods->size() == before - 1);
  // GetVmRequest.vm_id is number 7 on the server; WhoamiResponse is gone
  // from the RPCs, so take a message still in use for the type change:
  // GetConfigResponse.zone becomes an int64.
  field_named(message_named(file, "GetVmRequest"), "vm_id").set_number(7);
  field_named(message_named(file, "GetConfigResponse"), "zone")
      .set_type(gp::FieldDescriptorProto::TYPE_INT64);
  // And the server has an RPC we do not know.
  auto* extra = file.mutable_service(0)->add_method();
  extra->set_name("Teleport");
  extra->set_input_type(".boxd.api.v1.GetVmRequest");
  extra->set_output_type(".boxd.api.v1.GetVmResponse");

  gp::DescriptorPool pool;
  const auto* theirs = build(pool, file);
  REQUIRE(theirs != nullptr);
  const auto diff = boxd::client::diff_service(compiled_service(), *theirs);
  CHECK(has_problem(diff, "RPC Whoami is missing on the server"));
  CHECK(
      has_problem(diff, "field boxd.api.v1.GetVmRequest.vm_id is number 1 here, 7 on the server"));
  CHECK(has_problem(
      diff, "field boxd.api.v1.GetConfigResponse.zone is string here, int64 on the server"));
  CHECK(diff.problems.size() == 3);
  REQUIRE(diff.notes.size() == 1);
  CHECK(diff.notes[0] == "the server has RPC Teleport that this CLI does not know");
}

TEST_CASE("schema diff: a renamed field and a streaming change") {
  gp::FileDescriptorProto file = compiled_file();
  field_named(message_named(file, "GetConfigResponse"), "zone").set_name("region");
  for (auto& method : *file.mutable_service(0)->mutable_method()) {
    if (method.name() == "Exec") {
      method.set_client_streaming(false);
    }
  }
  gp::DescriptorPool pool;
  const auto* theirs = build(pool, file);
  REQUIRE(theirs != nullptr);
  const auto diff = boxd::client::diff_service(compiled_service(), *theirs);
  CHECK(has_problem(diff,
                    "field boxd.api.v1.GetConfigResponse.zone (2) is missing on the server "
                    "(it has region at 2)"));
  CHECK(std::any_of(diff.problems.begin(), diff.problems.end(), [](const std::string& p) {
    return p.rfind("RPC Exec is stream boxd.api.v1.ExecChunk -> stream", 0) == 0;
  }));
}

TEST_CASE("schema: files that do not define the service give null") {
  gp::DescriptorPool pool;
  boxd::client::ReflectedSchema schema;
  CHECK(boxd::client::build_service(pool, schema, "boxd.api.v1.BoxdApi") == nullptr);
  gp::FileDescriptorProto file = compiled_file();
  file.add_dependency("missing/dependency.proto");
  schema.files.push_back(file);
  gp::DescriptorPool pool2;
  CHECK(boxd::client::build_service(pool2, schema, "boxd.api.v1.BoxdApi") == nullptr);
}

TEST_CASE("doctor: clock skew from a token issued just now") {
  CHECK(boxd::client::judge_clock_skew(1000, 999, 1001).status == CheckStatus::Ok);
  const auto behind = boxd::client::judge_clock_skew(1000 + 120, 999, 1001);
  CHECK(behind.status == CheckStatus::Warn);
  CHECK(behind.detail.find("2m 0s behind") != std::string::npos);
  const auto ahead = boxd::client::judge_clock_skew(1000 - 3600, 999, 1001);
  CHECK(ahead.status == CheckStatus::Fail);
  CHECK(ahead.detail.find("1h 0m ahead") != std::string::npos);
  CHECK(ahead.error_class == boxd::ErrorClass::Authentication);
}

TEST_CASE("doctor: token expiry") {
  boxd::JwtClaims claims;
  claims.subject = "u";
  claims.issued_at = 1000;
  claims.expires_at = 1000 + 3600;
  const std::string token = boxd::jwt_sign(claims, "secret");
  const auto fresh = boxd::client::judge_token_expiry(token, 1000);
  CHECK(fresh.status == CheckStatus::Ok);
  CHECK(fresh.detail == "valid, expires in 1h 0m");
  const auto expired = boxd::client::judge_token_expiry(token, 1000 + 3600 + 90);
  CHECK(expired.status == CheckStatus::Fail);
  CHECK(expired.detail == "expired 1m 30s ago");
  CHECK(boxd::client::judge_token_expiry("opaque", 1000).status == CheckStatus::Warn);
}

TEST_CASE("doctor: the configuration lines name each value's source") {
  boxd::client::ResolvedConfig config;
  config.environment = "local";
  config.api_url = "http://127.0.0.1:9443";
  config.exchange_url = "http://127.0.0.1:9444/api/v1/auth/token";
  config.profile = "dev";
  config.api_key = "bxd_secret";
  config.sources = {{"environment", boxd::client::Source::Profile},
                    {"profile", boxd::client::Source::Env},
                    {"api_url", boxd::client::Source::Flag},
                    {"exchange_url", boxd::client::Source::Preset},
                    {"api_key", boxd::client::Source::Credentials}};
  const auto lines = boxd::client::describe_config(config);
  REQUIRE(lines.size() == 4);
  CHECK(lines[0].detail.rfind("environment local (profile), profile dev (env BOXD_PROFILE)", 0) ==
        0);
  CHECK(lines[1].detail == "http://127.0.0.1:9443 (flag --api-url), plaintext");
  CHECK(lines[2].detail == "http://127.0.0.1:9444/api/v1/auth/token (preset)");
  CHECK(lines[3].detail == "API key (credentials.json)");
  for (const auto& line : lines) {
    CHECK(line.detail.find("bxd_secret") == std::string::npos);
  }
  config.api_key.clear();
  CHECK(boxd::client::describe_config(config)[3].status == CheckStatus::Fail);
}

TEST_CASE("versions compare by numeric prefix, then .devN") {
  using boxd::client::is_newer_version;
  CHECK(is_newer_version("0.2.0", "0.1.0"));
  CHECK(is_newer_version("0.1.10", "0.1.9"));  // numeric, not text
  CHECK(is_newer_version("1.0", "0.99.99"));
  CHECK(!is_newer_version("0.2", "0.2.0"));  // missing components are 0
  CHECK(!is_newer_version("0.1.0", "0.1.0"));
  CHECK(!is_newer_version("0.1.0", "0.2.0"));
  CHECK(is_newer_version("0.1.2", "0.1.2.dev13"));  // a release beats its dev builds
  CHECK(!is_newer_version("0.1.2.dev13", "0.1.2"));
  CHECK(is_newer_version("0.1.2.dev13", "0.1.2.dev2"));
  CHECK(is_newer_version("0.1.3.dev1", "0.1.2"));
  CHECK(is_newer_version("v0.3.0", "0.2.9"));
  CHECK(!is_newer_version("latest", "0.1.0"));  // not a version: never newer
  CHECK(!is_newer_version("", "0.1.0"));
  CHECK(!is_newer_version("99999999999999999999999.0", "0.1.0"));  // overflow: not a version
}

TEST_CASE("notices only on a terminal, never with --json, CI or BOXD_NO_UPDATE_NOTIFIER") {
  using boxd::client::notice_allowed;
  CHECK(notice_allowed({true, false, false, false}));
  CHECK(!notice_allowed({false, false, false, false}));
  CHECK(!notice_allowed({true, true, false, false}));
  CHECK(!notice_allowed({true, false, true, false}));
  CHECK(!notice_allowed({true, false, false, true}));
}

TEST_CASE("the update notice is printed at most once a day") {
  TempDir dir;
  const auto state = dir.path / "boxd" / "update-check.json";
  const std::int64_t now = 1'700'000'000;
  const auto first = boxd::client::take_update_notice("0.9.0", "0.1.0", now, state);
  REQUIRE(first.has_value());
  CHECK(first->find("0.9.0") != std::string::npos);
  CHECK(first->find("0.1.0") != std::string::npos);
  CHECK(std::filesystem::exists(state));
  CHECK((std::filesystem::status(state).permissions() & std::filesystem::perms::others_read) ==
        std::filesystem::perms::none);
  CHECK(!boxd::client::take_update_notice("0.9.0", "0.1.0", now + 60, state));
  CHECK(!boxd::client::take_update_notice("0.9.1", "0.1.0", now + 23 * 3600, state));
  CHECK(boxd::client::take_update_notice("0.9.1", "0.1.0", now + 24 * 3600, state));
  // Not newer: nothing, and the state is untouched.
  CHECK(!boxd::client::take_update_notice("0.1.0", "0.1.0", now + 100 * 3600, state));
  // A broken state file counts as "never".
  std::ofstream(state) << "{not json";
  CHECK(boxd::client::take_update_notice("0.9.1", "0.1.0", now + 25 * 3600, state));
  // Terminal control characters never reach the terminal.
  CHECK(!boxd::client::take_update_notice("9.0\x1b[2J", "0.1.0", now + 100 * 3600, state));
}
