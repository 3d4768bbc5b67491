// The pure parts of the box cgroups (lib/local/box_cgroup.hpp), the one
// memory rule (lib/common/sizes.hpp), the doctor's isolation line and the
// `box get` rendering of enforced limits. The kernel side is in
// runtime_test.cpp (real boxes).
#include "local/box_cgroup.hpp"
#include "boxd/box/get.hpp"
#include "client/doctor.hpp"
#include "common/sizes.hpp"

#include <doctest/doctest.h>

using namespace boxd::local;

TEST_CASE("cgroup mounts: v1 controllers from the options, v2, escapes, others skipped") {
  const std::string mounts =
      "sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0\n"
      "tmpfs /sys/fs/cgroup tmpfs ro,nosuid,nodev,noexec,mode=755 0 0\n"
      "cgroup2 /sys/fs/cgroup/unified cgroup2 rw,nosuid,nodev,noexec,relatime,nsdelegate 0 0\n"
      "cgroup /sys/fs/cgroup/systemd cgroup rw,nosuid,nodev,noexec,relatime,xattr,name=systemd 0 "
      "0\n"
      "cgroup /sys/fs/cgroup/cpu,cpuacct cgroup rw,nosuid,nodev,noexec,relatime,cpu,cpuacct 0 0\n"
      "cgroup /sys/fs/cgroup/memory cgroup rw,nosuid,nodev,noexec,relatime,memory 0 0\n"
      "cgroup /sys/fs/cgroup/devices cgroup rw,nosuid,nodev,noexec,relatime,devices 0 0\n"
      "cgroup /odd\\040place/pids cgroup rw,pids 0 0\n"
      "cgroup /sys/fs/cgroup/freezer cgroup rw,nosuid,nodev,noexec,relatime,freezer 0 0\n"
      "garbage\n";
  const auto parsed = parse_cgroup_mounts(mounts);
  REQUIRE(parsed.size() == 5);
  CHECK(parsed[0].path == "/sys/fs/cgroup/unified");
  CHECK(parsed[0].v2);
  CHECK(parsed[0].controllers.empty());
  CHECK(parsed[1].path == "/sys/fs/cgroup/cpu,cpuacct");
  CHECK(parsed[1].controllers == std::vector<std::string>{"cpu"});
  CHECK(parsed[2].controllers == std::vector<std::string>{"memory"});
  CHECK(parsed[3].path == "/odd place/pids");
  CHECK(parsed[3].controllers == std::vector<std::string>{"pids"});
  CHECK(parsed[4].controllers == std::vector<std::string>{"freezer"});
  CHECK_FALSE(parsed[4].v2);

  const auto pure_v2 = parse_cgroup_mounts("cgroup2 /sys/fs/cgroup cgroup2 rw,nsdelegate 0 0\n");
  REQUIRE(pure_v2.size() == 1);
  CHECK(pure_v2[0].v2);
  CHECK(parse_cgroup_mounts("").empty());
}

TEST_CASE("cgroup values: written as the kernel wants them") {
  CHECK(v2_limit_text(0) == "max");
  CHECK(v2_limit_text(268435456) == "268435456");
  CHECK(v1_limit_text(0) == "-1");
  CHECK(v1_limit_text(67108864) == "67108864");
  CHECK(v2_cpu_max_text(0) == "max 100000");
  CHECK(v2_cpu_max_text(1) == "100000 100000");
  CHECK(v2_cpu_max_text(4) == "400000 100000");
}

TEST_CASE("cgroup values: read back, 'unlimited' in every spelling is 0") {
  CHECK(parse_limit_text("268435456\n") == 268435456);
  CHECK(parse_limit_text("max\n") == 0);
  CHECK(parse_limit_text("9223372036854771712\n") == 0);  // v1 memory: unlimited
  CHECK(parse_limit_text("") == 0);
  CHECK(parse_limit_text("-1") == 0);
  CHECK(parse_limit_text("12abc") == 0);
  CHECK(parse_limit_text("99999999999999999999999") == 0);
  CHECK(parse_limit_text("2048") == 2048);

  CHECK(parse_cpu_max_text("200000 100000\n") == doctest::Approx(2.0));
  CHECK(parse_cpu_max_text("50000 100000") == doctest::Approx(0.5));
  CHECK(parse_cpu_max_text("max 100000\n") == 0);
  CHECK(parse_cpu_max_text("-1\n 100000\n") == 0);  // v1 quota and period, unlimited
  CHECK(parse_cpu_max_text("300000\n 100000\n") == doctest::Approx(3.0));
  CHECK(parse_cpu_max_text("") == 0);
  CHECK(parse_cpu_max_text("x y") == 0);
  CHECK(vcpu_of_quota(100000, 0) == 0);
}

TEST_CASE("box memory: one minimum for create, templates and resize") {
  CHECK(boxd::box_memory_problem(0).empty());  // unset
  CHECK(boxd::box_memory_problem(64ULL << 20).empty());
  CHECK(boxd::box_memory_problem(16ULL << 30).empty());
  CHECK(boxd::box_memory_problem(1) == "invalid memory size 1B: at least 64MiB");
  CHECK(boxd::box_memory_problem((64ULL << 20) - 1).rfind("invalid memory size ", 0) == 0);
}

TEST_CASE("doctor: the isolation line names what is off and why") {
  using boxd::client::CheckStatus;
  using boxd::client::judge_isolation;
  auto all_on = judge_isolation({{"pid namespace", true, "x"}, {"memory limit", true, "y"}});
  CHECK(all_on.status == CheckStatus::Ok);
  CHECK(all_on.name == "isolation");
  CHECK(all_on.detail == "all 2 layers in force: pid namespace, memory limit");
  auto some_off = judge_isolation(
      {{"pid namespace", true, "x"}, {"memory limit", false, "no memory controller"}});
  CHECK(some_off.status == CheckStatus::Warn);
  CHECK(some_off.detail ==
        "not in force: memory limit (no memory controller); in force: pid namespace");
  CHECK(judge_isolation({}).status == CheckStatus::Warn);
}

TEST_CASE("box get: enforced limits as shown") {
  boxd::api::v1::EnforcedLimits limits;
  CHECK(boxd::cli::enforced_text(limits) == "no limits");
  limits.set_memory_bytes(256ULL << 20);
  limits.set_vcpu(2);
  limits.set_pids(2048);
  CHECK(boxd::cli::enforced_text(limits) == "memory 256MiB, cpu 2 vcpu, pids 2048");
  limits.set_vcpu(0.5);
  limits.set_memory_bytes(0);
  CHECK(boxd::cli::enforced_text(limits) == "cpu 0.5 vcpu, pids 2048");
}
