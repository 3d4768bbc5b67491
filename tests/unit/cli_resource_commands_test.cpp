// The disk, snapshot, token, domain, proxy, template and network commands
// run in-process against a FakeClient: a table on a terminal, tab-separated
// rows (or names with -q) in a pipe, --json, the calls made, and each error
// class of a failed call to its exit code.
#include <doctest/doctest.h>

#include <google/protobuf/util/json_util.h>
#include <nlohmann/json.hpp>

#include "boxd/output.hpp"
#include "cli_run.hpp"

using boxd::Error;
using boxd::ErrorClass;
using namespace boxd::test;
using Calls = std::vector<std::string>;

namespace {

nlohmann::json parse(const std::string& text) {
  return nlohmann::json::parse(text);
}

// A message from its proto JSON (field names as in api.proto).
template <typename Message>
Message from_json(const std::string& json) {
  Message message;
  REQUIRE(google::protobuf::util::JsonStringToMessage(json, &message).ok());
  return message;
}

std::unique_ptr<FakeClient> with_disks() {
  auto fake = std::make_unique<FakeClient>();
  const auto data = from_json<api::DiskInfo>(
      R"({"disk_id": "disk-1", "name": "data", "size_bytes": 1073741824, "status": "attached",
          "attachments": [{"vm_id": "vm-1", "mount_path": "/home/boxd/data", "mount_mode": "rw"}]})");
  fake->disks = {data, from_json<api::DiskInfo>(R"({"disk_id": "disk-2", "name": "spare",
                                                    "size_bytes": 536870912, "status": "ready"})")};
  fake->vms = {from_json<api::GetVmResponse>(R"({"vm_id": "vm-1", "name": "web"})")};
  fake->disk = data;
  return fake;
}

std::unique_ptr<FakeClient> with_snapshots() {
  auto fake = std::make_unique<FakeClient>();
  fake->snapshots = {from_json<api::SnapshotInfo>(
      R"({"snapshot_id": "snap-1", "name": "before", "version": 2, "status": "ready",
          "size_bytes": 3221225472, "source_vm": "web", "vcpu": 2, "memory_bytes": 1073741824,
          "use_count": 1})")};
  fake->snapshot_created = from_json<api::CreateSnapshotResponse>(
      R"({"snapshot_id": "snap-1", "name": "before", "version": 2, "status": "ready"})");
  return fake;
}

std::unique_ptr<FakeClient> with_tokens() {
  auto fake = std::make_unique<FakeClient>();
  auto token = from_json<api::TokenInfo>(R"({"jti": "jti-1", "expires_at": 1700000000})");
  token.set_created_at(boxd::cli::now_unix_seconds() - 120);
  fake->tokens = {token};
  fake->token_created =
      from_json<api::CreateTokenResponse>(R"({"token": "the.jwt", "expires_at": 1700000000})");
  return fake;
}

std::unique_ptr<FakeClient> with_domains() {
  auto fake = std::make_unique<FakeClient>();
  fake->domain = from_json<api::CustomDomainInfo>(
      R"({"domain": "example.com", "vm_name": "web", "vm_id": "vm-1", "status": "active"})");
  fake->domains = {fake->domain};
  return fake;
}

std::unique_ptr<FakeClient> with_proxies() {
  auto fake = std::make_unique<FakeClient>();
  fake->proxy = from_json<api::ProxyInfo>(
      R"({"name": "api", "vm_name": "web", "domain": "api.web.example.dev", "port_mode": "locked",
          "effective_port": 9000, "bot_protection": true})");
  fake->proxies = {from_json<api::ProxyInfo>(
                       R"({"name": "", "is_default": true, "vm_name": "web",
                           "domain": "web.alice.localhost:9480", "port_mode": "auto",
                           "effective_port": 8080})"),
                   fake->proxy};
  fake->exposed = from_json<api::ExposePortResponse>(
      R"({"vm_name": "web", "dns": "web.example.dev", "public_port": 31000, "vm_port": 5432,
          "protocol": "tcp"})");
  return fake;
}

std::unique_ptr<FakeClient> with_templates() {
  auto fake = std::make_unique<FakeClient>();
  fake->template_created = from_json<api::TemplateInfo>(
      R"({"template_id": "tpl-1", "name": "small", "image_ref": "ubuntu",
          "config": {"vcpu": 1, "memory_bytes": 1073741824}})");
  fake->templates = {fake->template_created};
  return fake;
}

std::unique_ptr<FakeClient> with_networks() {
  auto fake = std::make_unique<FakeClient>();
  fake->networks = {from_json<api::NetworkInfo>(
      R"({"network_id": "net-1", "name": "backend", "subnet": "10.90.0.0/24", "status": "ready"})")};
  fake->network_created = "net-1";
  return fake;
}

}  // namespace

TEST_CASE("disk list: the box's name for an attached disk, sizes human on a terminal") {
  const CliRun table = run_with(with_disks(), {"disk", "list"}, Stdout::Terminal);
  CHECK(table.code == 0);
  CHECK(table.out ==
        "NAME    STATUS     SIZE     VM    MOUNT             MODE\n"
        "data    attached   1GiB     web   /home/boxd/data   rw\n"
        "spare   ready      512MiB" +
            std::string(27, ' ') + "\n");  // empty cells padded
  CHECK(table.calls == Calls{"list_disks", "list_vms"});
  const CliRun piped = run_with(with_disks(), {"disk", "list"});
  CHECK(piped.out ==
        "data\tattached\t1073741824\tweb\t/home/boxd/data\trw\n"
        "spare\tready\t536870912\t\t\t\n");
  CHECK(run_with(with_disks(), {"disk", "list", "-q"}).out == "data\nspare\n");
  const CliRun json = run_with(with_disks(), {"disk", "list", "--json"});
  CHECK(json.calls == Calls{"list_disks"});
  const auto doc = parse(json.out);
  REQUIRE(doc.size() == 2);
  CHECK(doc[0]["attachments"][0]["vm_id"] == "vm-1");
  CHECK(doc[1]["size_bytes"] == 536870912);
}

TEST_CASE("disk create, attach, detach, destroy") {
  const CliRun create = run_with(with_disks(), {"disk", "create", "data", "--size", "1G"});
  CHECK(create.code == 0);
  CHECK(create.out == "data\n");
  CHECK(create.calls == Calls{"create_disk data 1073741824"});
  CHECK(parse(run_with(with_disks(), {"disk", "create", "data", "--size", "1G", "--json"})
                  .out)["disk_id"] == "disk-1");
  const CliRun attach =
      run_with(with_disks(), {"disk", "attach", "data", "web", "--mount", "data", "--read-only"});
  CHECK(attach.code == 0);
  CHECK(attach.err == "Attached disk 'data' to box 'web' at /home/boxd/data (read-only)\n");
  CHECK(attach.calls == Calls{"attach_disk data web data ro"});
  const CliRun detach = run_with(with_disks(), {"disk", "detach", "data", "web"});
  CHECK(detach.err == "Detached disk 'data' from box 'web'\n");
  CHECK(detach.calls == Calls{"detach_disk data web"});
  const CliRun destroy = run_with(with_disks(), {"disk", "destroy", "-y", "data", "spare"});
  CHECK(destroy.err == "Destroyed disk 'data'\nDestroyed disk 'spare'\n");
  CHECK(destroy.calls == Calls{"destroy_disk data", "destroy_disk spare"});
  const CliRun refused = run_with(with_disks(), {"disk", "destroy", "data"});
  CHECK(refused.code == 2);
  CHECK(refused.calls.empty());
}

TEST_CASE("snapshot list, get, create, delete") {
  const CliRun table =
      run_with(with_snapshots(), {"--no-color", "snapshot", "list"}, Stdout::Terminal);
  CHECK(table.code == 0);
  CHECK(table.out ==
        "NAME     ID       VERSION   STATUS   SIZE   VM    CREATED\n"
        "before   snap-1   2         ready    3GiB   web   \n");
  CHECK(run_with(with_snapshots(), {"snapshot", "list"}).out ==
        "before\tsnap-1\t2\tready\t3221225472\tweb\t\n");
  CHECK(run_with(with_snapshots(), {"snapshot", "list", "-q"}).out == "before\n");
  CHECK(parse(run_with(with_snapshots(), {"snapshot", "list", "--json"}).out)[0]["version"] == 2);
  CHECK(run_with(with_snapshots(), {"snapshot", "list", "db"}).out.empty());

  const CliRun get = run_with(with_snapshots(), {"snapshot", "get", "before"});
  CHECK(get.code == 0);
  CHECK(get.out.rfind("name:    before\nid:      snap-1\nversion: 2\nstatus:  ready\n", 0) == 0);
  CHECK(get.out.find("used:    1 times\n") != std::string::npos);
  CHECK(parse(run_with(with_snapshots(), {"snapshot", "get", "snap-1", "--json"}).out)["name"] ==
        "before");
  CHECK(run_with(with_snapshots(), {"snapshot", "get", "nope"}).code == 4);

  const CliRun create = run_with(with_snapshots(), {"snapshot", "create", "web", "before"});
  CHECK(create.code == 0);
  CHECK(create.out == "before\n");
  CHECK(create.err == "Saved snapshot 'before' version 2 (snap-1, ready)\n");
  CHECK(create.calls == Calls{"create_snapshot web before"});
  const CliRun del = run_with(with_snapshots(), {"snapshot", "delete", "before"});
  CHECK(del.err == "Deleted snapshot 'before'\n");
  CHECK(del.calls == Calls{"delete_snapshot before"});
}

TEST_CASE("token list, create, revoke") {
  const CliRun table = run_with(with_tokens(), {"token", "list"}, Stdout::Terminal);
  CHECK(table.code == 0);
  CHECK(table.out ==
        "JTI     CREATED         EXPIRES\n"
        "jti-1   2 minutes ago   2023-11-14T22:13:20Z\n");
  CHECK(run_with(with_tokens(), {"token", "list", "-q"}).out == "jti-1\n");
  CHECK(run_with(with_tokens(), {"token", "list"}).out.find("\t2023-11-14T22:13:20Z\n") !=
        std::string::npos);
  CHECK(parse(run_with(with_tokens(), {"token", "list", "--json"}).out)[0]["jti"] == "jti-1");

  const CliRun create = run_with(with_tokens(), {"token", "create"});
  CHECK(create.code == 0);
  CHECK(create.out == "the.jwt\n");
  CHECK(create.err == "Created a token, expires 2023-11-14T22:13:20Z\n");
  CHECK(create.calls == Calls{"create_token 0"});
  CHECK(parse(run_with(with_tokens(), {"token", "create", "--json"}).out)["token"] == "the.jwt");
  const CliRun revoke = run_with(with_tokens(), {"token", "revoke", "jti-1"});
  CHECK(revoke.err == "Revoked token jti-1\n");
  CHECK(revoke.calls == Calls{"revoke_token jti-1"});
}

TEST_CASE("domain list, bind, unbind") {
  const CliRun table = run_with(with_domains(), {"--no-color", "domain", "list"}, Stdout::Terminal);
  CHECK(table.out ==
        "DOMAIN        VM    STATUS\n"
        "example.com   web   active\n");
  CHECK(run_with(with_domains(), {"domain", "list"}).out == "example.com\tweb\tactive\n");
  CHECK(run_with(with_domains(), {"domain", "list", "-q"}).out == "example.com\n");
  CHECK(parse(run_with(with_domains(), {"domain", "list", "--json"}).out)[0]["vm_id"] == "vm-1");
  const CliRun bind = run_with(with_domains(), {"domain", "bind", "example.com", "web"});
  CHECK(bind.code == 0);
  CHECK(bind.out.empty());
  CHECK(bind.err == "Bound domain 'example.com' to box 'web' (active)\n");
  CHECK(bind.calls == Calls{"bind_domain example.com web"});
  const CliRun unbind = run_with(with_domains(), {"domain", "unbind", "example.com"});
  CHECK(unbind.err == "Unbound domain 'example.com'\n");
  CHECK(unbind.calls == Calls{"unbind_domain example.com"});
}

TEST_CASE("box proxy list, create, set-port, delete, expose, bot-protection") {
  const CliRun table = run_with(with_proxies(), {"box", "proxy", "list", "web"}, Stdout::Terminal);
  CHECK(table.code == 0);
  CHECK(table.out ==
        "URL                               VM    PROXY       PORT   MODE     BOTS\n"
        "http://web.alice.localhost:9480   web   (default)   8080   auto     allowed\n"
        "https://api.web.example.dev       web   api         9000   locked   refused\n");
  CHECK(table.calls == Calls{"list_proxies web"});
  CHECK(run_with(with_proxies(), {"box", "proxy", "list", "web"}).out ==
        "http://web.alice.localhost:9480\tweb\t(default)\t8080\tauto\tallowed\n"
        "https://api.web.example.dev\tweb\tapi\t9000\tlocked\trefused\n");
  CHECK(parse(run_with(with_proxies(), {"box", "proxy", "list", "web", "--json"}).out)[1]["name"] ==
        "api");

  const CliRun create =
      run_with(with_proxies(), {"box", "proxy", "create", "web", "api", "--port", "9000"});
  CHECK(create.out == "https://api.web.example.dev\n");
  CHECK(create.err == "Created proxy 'api' on box 'web' -> port 9000\n");
  CHECK(create.calls == Calls{"create_proxy web api 9000"});
  const CliRun set_port =
      run_with(with_proxies(), {"box", "proxy", "set-port", "web", "api", "--port", "9000"});
  CHECK(set_port.err == "Proxy 'api' of box 'web' -> port 9000 (locked)\n");
  CHECK(set_port.calls == Calls{"set_proxy_port web api 9000", "list_proxies web"});
  const CliRun del = run_with(with_proxies(), {"box", "proxy", "delete", "web", "api"});
  CHECK(del.err == "Deleted proxy 'api' of box 'web'\n");
  const CliRun expose = run_with(with_proxies(), {"box", "proxy", "expose", "web", "5432"});
  CHECK(expose.out == "web.example.dev:31000\n");
  CHECK(expose.err == "Exposed tcp port 5432 of box 'web'\n");
  const CliRun bots = run_with(with_proxies(), {"box", "proxy", "bot-protection", "web", "on"});
  CHECK(bots.err == "Bot protection of box 'web' is on\n");
  CHECK(bots.calls == Calls{"set_bot_protection web on"});
}

TEST_CASE("template list, create, delete") {
  const CliRun table = run_with(with_templates(), {"template", "list"}, Stdout::Terminal);
  CHECK(table.out ==
        "NAME    ID      IMAGE    VCPU   MEMORY   DISK\n"
        "small   tpl-1   ubuntu   1      1GiB     default\n");
  CHECK(run_with(with_templates(), {"template", "list"}).out ==
        "small\ttpl-1\tubuntu\t1\t1073741824\tdefault\n");
  CHECK(run_with(with_templates(), {"template", "list", "-q"}).out == "small\n");
  CHECK(
      parse(run_with(with_templates(), {"template", "list", "--json"}).out)[0]["config"]["vcpu"] ==
      1);
  const CliRun create = run_with(with_templates(), {"template", "create", "small", "--vcpu", "1"});
  CHECK(create.code == 0);
  CHECK(create.out == "small\n");
  CHECK(create.err == "Created template 'small' (tpl-1)\n");
  const CliRun del = run_with(with_templates(), {"template", "delete", "small"});
  CHECK(del.code == 0);
  CHECK(del.calls == Calls{"delete_template small"});
}

TEST_CASE("network list and create") {
  const CliRun table =
      run_with(with_networks(), {"--no-color", "network", "list"}, Stdout::Terminal);
  CHECK(table.out ==
        "ID      NAME      SUBNET         STATUS\n"
        "net-1   backend   10.90.0.0/24   ready\n");
  CHECK(run_with(with_networks(), {"network", "list"}).out ==
        "net-1\tbackend\t10.90.0.0/24\tready\n");
  CHECK(run_with(with_networks(), {"network", "list", "-q"}).out == "net-1\n");
  CHECK(parse(run_with(with_networks(), {"network", "list", "--json"}).out)[0]["subnet"] ==
        "10.90.0.0/24");
  const CliRun create = run_with(with_networks(), {"network", "create", "backend"});
  CHECK(create.out == "net-1\n");
  CHECK(create.err == "Created network 'backend' (net-1)\n");
  CHECK(create.calls == Calls{"create_network backend"});
  CHECK(run_with(with_networks(), {"network", "create", "--json"}).out ==
        "{\n  \"network_id\": \"net-1\"\n}\n");
}

TEST_CASE("every error class of a failed call maps to its exit code (resource commands)") {
  const std::vector<std::vector<std::string>> commands = {
      {"disk", "list"},
      {"disk", "create", "d", "--size", "1G"},
      {"disk", "attach", "d", "web", "--mount", "/mnt"},
      {"disk", "detach", "d", "web"},
      {"disk", "destroy", "-y", "d"},
      {"snapshot", "list"},
      {"snapshot", "get", "s"},
      {"snapshot", "create", "web", "s"},
      {"snapshot", "delete", "s"},
      {"token", "list"},
      {"token", "create"},
      {"token", "revoke", "j"},
      {"domain", "list"},
      {"domain", "bind", "example.com", "web"},
      {"domain", "unbind", "example.com"},
      {"box", "proxy", "list", "web"},
      {"box", "proxy", "create", "web", "api", "--port", "9000"},
      {"box", "proxy", "set-port", "web", "--port", "3000"},
      {"box", "proxy", "delete", "web", "api"},
      {"box", "proxy", "expose", "web", "5432"},
      {"box", "proxy", "bot-protection", "web", "off"},
      {"template", "list"},
      {"template", "create", "t"},
      {"template", "delete", "t"},
      {"network", "list"},
      {"network", "create", "n"},
  };
  check_error_classes(commands, [] { return std::make_unique<FakeClient>(); });
}
