// box forward's spec parser and the ssh-config block merge: pure functions.
#include <doctest/doctest.h>

#include <string>

#include "boxd/box/forward.hpp"
#include "boxd/ssh/ssh_config.hpp"
#include "common/error.hpp"

using namespace boxd::cli;

TEST_CASE("forward specs: PORT, LOCAL:REMOTE, ADDR:LOCAL:REMOTE, [IPv6]:LOCAL:REMOTE") {
  ForwardSpec s = parse_forward_spec("8080");
  CHECK(s.local_address == "127.0.0.1");
  CHECK(s.local_port == 8080);
  CHECK(s.remote_port == 8080);
  s = parse_forward_spec("0:5432");
  CHECK(s.local_port == 0);
  CHECK(s.remote_port == 5432);
  s = parse_forward_spec("0.0.0.0:8080:80");
  CHECK(s.local_address == "0.0.0.0");
  CHECK(s.local_port == 8080);
  CHECK(s.remote_port == 80);
  s = parse_forward_spec("[::1]:9000:22");
  CHECK(s.local_address == "::1");
  CHECK(s.remote_port == 22);
  s = parse_forward_spec("localhost:1:65535");
  CHECK(s.local_address == "localhost");
  CHECK(s.remote_port == 65535);
}

TEST_CASE("forward specs: bad ports and addresses are usage errors") {
  for (const char* bad : {"", "0", "8080:0", "70000:80", "8080:65536", "x:80", "80:x", "-1:80",
                          "::1:8080:80", ":8080:80", "1:2:3:4", "123456:80"}) {
    CAPTURE(bad);
    try {
      parse_forward_spec(bad);
      FAIL("accepted");
    } catch (const boxd::Error& e) {
      CHECK(e.error_class() == boxd::ErrorClass::Usage);
    }
  }
}

TEST_CASE("ssh host names: a trailing .boxd is the box name's suffix") {
  CHECK(strip_boxd_suffix("web.boxd") == "web");
  CHECK(strip_boxd_suffix("web") == "web");
  CHECK(strip_boxd_suffix(".boxd") == ".boxd");
  CHECK(strip_boxd_suffix("web.boxd.boxd") == "web.boxd");
}

TEST_CASE("ssh-config merge: append once, replace in place, remove, keep the rest") {
  const std::string block = ssh_config_block("boxd box forward --stdio %h 22");
  const std::string mine = "Host a\n  User x\n";
  const std::string once = merge_ssh_config(mine, block);
  CHECK(once == mine + "\n" + block);
  CHECK(merge_ssh_config(once, block) == once);
  const std::string other = ssh_config_block("/opt/boxd box forward --stdio %h 22");
  const std::string replaced = merge_ssh_config(once + "Host b\n", other);
  CHECK(replaced == mine + "\n" + other + "Host b\n");
  CHECK(merge_ssh_config("", block) == block);
  CHECK(merge_ssh_config("Host a", block) == "Host a\n\n" + block);
  CHECK(merge_ssh_config(once + "Host b\n", "") == mine + "\nHost b\n");
  CHECK(merge_ssh_config(mine, "") == mine);
  CHECK_THROWS_AS(merge_ssh_config("# >>> boxd ssh-config >>>\nHost *.boxd\n", block), boxd::Error);
}
