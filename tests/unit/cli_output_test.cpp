// Output rendering: aligned table on a terminal, TSV when piped, names with
// -q, and proto -> JSON with every field and 64-bit integers as numbers.
#include <doctest/doctest.h>

#include <sstream>

#include "boxd/box/list.hpp"
#include "boxd/output.hpp"

using namespace boxd::cli;
namespace api = boxd::api::v1;

namespace {

std::vector<api::GetVmResponse> two_boxes() {
  api::GetVmResponse a;
  a.set_name("web");
  a.set_status("running");
  a.set_image_ref("ubuntu");
  a.set_vcpu(2);
  a.set_memory_bytes(8ULL << 30);
  a.set_created_at(1'700'000'000);
  api::GetVmResponse b;
  b.set_name("db-long-name");
  b.set_status("stopped");
  b.set_vcpu(4);
  b.set_memory_bytes(16ULL << 30);
  return {a, b};
}

std::string render(const Table& table, ListFormat format, bool color = false) {
  std::ostringstream out;
  render_table(out, table, format, color);
  return out.str();
}

}  // namespace

TEST_CASE("list format follows --json, -q and the terminal") {
  CHECK(list_format(true, true, true) == ListFormat::Json);
  CHECK(list_format(false, true, true) == ListFormat::Names);
  CHECK(list_format(false, false, true) == ListFormat::Table);
  CHECK(list_format(false, false, false) == ListFormat::Tsv);
}

TEST_CASE("a terminal gets an aligned table with an upper-case header") {
  const Table table = box_table(two_boxes(), true, 1'700'000'000 + 120);
  const std::string text = render(table, ListFormat::Table);
  CHECK(text ==
        "NAME           STATUS    IMAGE    VCPU   MEMORY   CREATED\n"
        "web            running   ubuntu   2      8GiB     2 minutes ago\n"
        "db-long-name   stopped            4      16GiB    \n");
}

TEST_CASE("a pipe gets tab-separated rows without a header, exact numbers") {
  const Table table = box_table(two_boxes(), false, 0);
  CHECK(render(table, ListFormat::Tsv) ==
        "web\trunning\tubuntu\t2\t8589934592\t2023-11-14T22:13:20Z\n"
        "db-long-name\tstopped\t\t4\t17179869184\t\n");
}

TEST_CASE("-q prints the names only") {
  CHECK(render(box_table(two_boxes(), true, 0), ListFormat::Names) == "web\ndb-long-name\n");
}

TEST_CASE("colour only wraps the status column, alignment unchanged") {
  const Table table = box_table(two_boxes(), true, 1'700'000'000);
  const std::string text = render(table, ListFormat::Table, true);
  CHECK(text.find("\x1b[32mrunning\x1b[0m   ubuntu") != std::string::npos);
  CHECK(render(table, ListFormat::Table, false).find("\x1b[") == std::string::npos);
}

TEST_CASE("proto JSON: snake_case names, all fields, 64-bit numbers") {
  api::GetVmResponse box = two_boxes()[0];
  box.set_created_at(1'700'000'000'123);
  const nlohmann::json json = proto_to_json(box);
  CHECK(json["name"] == "web");
  CHECK(json["memory_bytes"].is_number_unsigned());
  CHECK(json["memory_bytes"].get<std::uint64_t>() == (8ULL << 30));
  CHECK(json["created_at"].is_number_integer());
  CHECK(json["created_at"].get<std::int64_t>() == 1'700'000'000'123);
  CHECK(json["forked_from"] == "");
  CHECK(json["isolated"] == false);
  CHECK(json["networks"].is_array());
  CHECK(json["source_info"].is_object());
  CHECK(json["source_info"]["version"].is_number());
  CHECK(json.contains("auto_hibernate_timeout_secs"));
  CHECK(dump_json(json).find("\"memory_bytes\": 8589934592") != std::string::npos);
}

TEST_CASE("invalid UTF-8 never breaks the JSON document") {
  nlohmann::json doc = {{"stdout", std::string("ok\xff")}};
  CHECK(dump_json(doc) == "{\n  \"stdout\": \"ok\xef\xbf\xbd\"\n}\n");
}

TEST_CASE("key: value fields line up") {
  std::ostringstream out;
  render_fields(out, {{"name", "web"}, {"status", "running"}});
  CHECK(out.str() == "name:   web\nstatus: running\n");
}
