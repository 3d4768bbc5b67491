// The cgroups of a box; see box_cgroup.hpp for the model.
#include "local/box_cgroup.hpp"

#include "common/error.hpp"
#include "common/sizes.hpp"
#include "local/fault.hpp"
#include "local/runtime_support.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

namespace boxd::local {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// 0, or the errno of the failed open/write.
int write_value(const fs::path& path, const std::string& text) {
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    return errno;
  }
  int err = 0;
  if (write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
    err = errno != 0 ? errno : EIO;
  }
  close(fd);
  return err;
}

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::stringstream in(text);
  std::string part;
  while (std::getline(in, part, separator)) {
    parts.push_back(part);
  }
  return parts;
}

std::vector<int> all_pids() {
  std::vector<int> pids;
  DIR* dir = opendir("/proc");
  if (dir == nullptr) {
    return pids;
  }
  while (dirent* entry = readdir(dir)) {
    char* end = nullptr;
    long pid = std::strtol(entry->d_name, &end, 10);
    if (end != entry->d_name && *end == '\0' && pid > 0) {
      pids.push_back(static_cast<int>(pid));
    }
  }
  closedir(dir);
  return pids;
}

// Every host pid whose PID namespace is init_pid's (the init included).
std::vector<int> pids_in_namespace_of(int init_pid) {
  std::vector<int> result;
  std::string target = ns_link(init_pid, "pid");
  if (target.empty()) {
    return result;
  }
  for (int pid : all_pids()) {
    if (ns_link(pid, "pid") == target) {
      result.push_back(pid);
    }
  }
  return result;
}

bool lists_word(const std::string& text, const std::string& word) {
  std::istringstream in(text);
  std::string each;
  while (in >> each) {
    if (each == word) {
      return true;
    }
  }
  return false;
}

// "+memory" into a v2 cgroup's subtree_control unless it is there already.
int enable_controller(const fs::path& cgroup, const std::string& controller) {
  if (lists_word(read_text(cgroup / "cgroup.subtree_control"), controller)) {
    return 0;
  }
  return write_value(cgroup / "cgroup.subtree_control", "+" + controller);
}

FaultError limit_error(const std::string& what, int err) {
  if (err == EBUSY) {
    return FaultError(Fault::FailedPrecondition,
                      "cannot set the " + what + ": the box uses more than that now",
                      "free memory in the box (or stop it) first");
  }
  return FaultError(Fault::Internal, "cannot set the " + what + ": " + std::strerror(err));
}

}  // namespace

// ---- pure helpers ----

std::vector<CgroupMount> parse_cgroup_mounts(const std::string& proc_mounts) {
  static const std::set<std::string> k_known = {"memory", "cpu", "pids", "freezer"};
  std::vector<CgroupMount> mounts;
  std::istringstream lines(proc_mounts);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::string source;
    std::string path;
    std::string type;
    std::string options;
    if (!(fields >> source >> path >> type >> options)) {
      continue;
    }
    if (type != "cgroup" && type != "cgroup2") {
      continue;
    }
    CgroupMount mount{unescape_mount_path(path), type == "cgroup2", {}};
    if (!mount.v2) {
      for (const auto& option : split(options, ',')) {
        if (k_known.count(option) != 0) {
          mount.controllers.push_back(option);
        }
      }
      if (mount.controllers.empty()) {
        continue;  // name=systemd, cpuset, devices...: nothing we use
      }
    }
    mounts.push_back(std::move(mount));
  }
  return mounts;
}

std::string v2_limit_text(std::uint64_t value) {
  return value == 0 ? "max" : std::to_string(value);
}

std::string v1_limit_text(std::uint64_t value) {
  return value == 0 ? "-1" : std::to_string(value);
}

std::string v2_cpu_max_text(std::uint32_t vcpu) {
  const std::string period = std::to_string(k_cpu_period_us);
  return (vcpu == 0 ? std::string("max") : std::to_string(vcpu * k_cpu_period_us)) + " " + period;
}

std::uint64_t parse_limit_text(const std::string& text) {
  std::istringstream in(text);
  std::string word;
  if (!(in >> word) || word == "max" || word.empty() || word[0] == '-') {
    return 0;
  }
  if (!std::all_of(word.begin(), word.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
      word.size() > 19) {
    return 0;
  }
  const std::uint64_t value = std::stoull(word);
  return value >= (1ULL << 62) ? 0 : value;  // v1's "unlimited" is PAGE_COUNTER_MAX pages
}

double vcpu_of_quota(long long quota_us, long long period_us) {
  if (quota_us <= 0 || period_us <= 0) {
    return 0;
  }
  return static_cast<double>(quota_us) / static_cast<double>(period_us);
}

double parse_cpu_max_text(const std::string& text) {
  std::istringstream in(text);
  std::string quota;
  long long period = 0;
  if (!(in >> quota >> period) || quota == "max") {
    return 0;
  }
  try {
    return vcpu_of_quota(std::stoll(quota), period);
  } catch (const std::exception&) {
    return 0;
  }
}

// ---- BoxCgroup: setup ----

BoxCgroup::BoxCgroup() {
  const auto mounts = parse_cgroup_mounts(read_text("/proc/self/mounts"));
  m_memory = pick_limit(mounts, "memory");
  m_cpu = pick_limit(mounts, "cpu");
  m_pids = pick_limit(mounts, "pids");
  pick_freezer(mounts);
}

int BoxCgroup::add_hierarchy(const CgroupMount& mount) {
  const fs::path base = mount.path / "boxd-local";
  for (std::size_t i = 0; i < m_hierarchies.size(); ++i) {
    if (m_hierarchies[i].base == base) {
      return static_cast<int>(i);
    }
  }
  if (mkdir(base.c_str(), 0755) < 0 && errno != EEXIST) {
    return -1;
  }
  m_hierarchies.push_back(Hierarchy{base, mount.v2});
  return static_cast<int>(m_hierarchies.size()) - 1;
}

BoxCgroup::Use BoxCgroup::pick_limit(const std::vector<CgroupMount>& mounts,
                                     const std::string& controller) {
  static const std::map<std::string, std::pair<const char*, const char*>> k_files = {
      {"memory", {"memory.limit_in_bytes", "memory.max"}},
      {"cpu", {"cpu.cfs_quota_us", "cpu.max"}},
      {"pids", {"pids.max", "pids.max"}}};
  const auto& [v1_file, v2_file] = k_files.at(controller);
  for (const auto& mount : mounts) {
    if (!mount.v2 || !lists_word(read_text(mount.path / "cgroup.controllers"), controller)) {
      continue;
    }
    // The controller lives in cgroup v2: enable it down to boxd-local's children.
    const fs::path base = mount.path / "boxd-local";
    int err = enable_controller(mount.path, controller);
    if (err == 0 && (mkdir(base.c_str(), 0755) == 0 || errno == EEXIST)) {
      err = enable_controller(base, controller);
    } else if (err == 0) {
      err = errno;
    }
    if (err != 0 || !fs::exists(base / v2_file)) {
      return Use{-1, "cgroup v2 has the " + controller + " controller, but it could not be " +
                         "enabled for the boxes" +
                         (err != 0 ? std::string(": ") + std::strerror(err) : "")};
    }
    return Use{add_hierarchy(mount), {}};
  }
  for (const auto& mount : mounts) {
    if (mount.v2 || std::find(mount.controllers.begin(), mount.controllers.end(), controller) ==
                        mount.controllers.end()) {
      continue;
    }
    const int index = add_hierarchy(mount);
    if (index < 0) {
      return Use{-1, "cannot create a cgroup in the v1 " + controller +
                         " hierarchy: " + std::strerror(errno)};
    }
    if (!fs::exists(m_hierarchies[index].base / v1_file)) {
      return Use{-1, std::string("the v1 ") + controller + " controller has no " + v1_file};
    }
    return Use{index, {}};
  }
  return Use{-1, "the host offers no " + controller + " cgroup controller (neither v2 nor v1)"};
}

void BoxCgroup::pick_freezer(const std::vector<CgroupMount>& mounts) {
  const char* forced_env = getenv("BOXD_FREEZER");
  const std::string forced = forced_env != nullptr ? forced_env : "";
  if (forced == "signals") {
    m_freezer = Use{-1, "BOXD_FREEZER=signals: suspend sends SIGSTOP to the box's processes"};
    return;
  }
  const CgroupMount* v1 = nullptr;
  const CgroupMount* v2 = nullptr;
  for (const auto& mount : mounts) {
    if (mount.v2 && v2 == nullptr) {
      v2 = &mount;
    } else if (!mount.v2 && v1 == nullptr &&
               std::find(mount.controllers.begin(), mount.controllers.end(), "freezer") !=
                   mount.controllers.end()) {
      v1 = &mount;
    }
  }
  auto use = [this](const CgroupMount* mount, const char* file) {
    if (mount == nullptr) {
      return false;
    }
    const int index = add_hierarchy(*mount);
    // cgroup.freeze exists in non-root v2 cgroups from Linux 5.2 on.
    if (index < 0 || !fs::exists(m_hierarchies[index].base / file)) {
      return false;
    }
    m_freezer = Use{index, {}};
    return true;
  };
  bool v2_limits = false;
  for (const Use* each : {&m_memory, &m_cpu, &m_pids}) {
    v2_limits = v2_limits || (each->index >= 0 && m_hierarchies[each->index].v2);
  }
  if ((forced == "v1" && use(v1, "freezer.state")) ||
      (forced == "v2" && use(v2, "cgroup.freeze")) || (v2_limits && use(v2, "cgroup.freeze")) ||
      use(v1, "freezer.state") || use(v2, "cgroup.freeze")) {
    return;
  }
  m_freezer = Use{-1,
                  "no freezer cgroup (neither v2 cgroup.freeze nor the v1 freezer): "
                  "suspend sends SIGSTOP to the box's processes"};
}

fs::path BoxCgroup::dir(int index, const std::string& id) const {
  return m_hierarchies[static_cast<std::size_t>(index)].base / id;
}

std::vector<IsolationLayer> BoxCgroup::layers() const {
  auto layer = [this](const char* name, const Use& use, const std::string& v1,
                      const std::string& v2) {
    if (use.index < 0) {
      return IsolationLayer{name, false, use.why};
    }
    return IsolationLayer{name, true, m_hierarchies[use.index].v2 ? v2 : v1};
  };
  std::string memory_v1 = "cgroup v1: memory.limit_in_bytes";
  if (m_memory.index >= 0 &&
      fs::exists(m_hierarchies[m_memory.index].base / "memory.memsw.limit_in_bytes")) {
    memory_v1 += " and memory.memsw.limit_in_bytes (no swap past it)";
  }
  return {
      layer("memory limit", m_memory,
            memory_v1 + "; past it the kernel's OOM killer ends a "
                        "process of the box",
            "cgroup v2: memory.max (and memory.swap.max 0); past it the kernel's OOM killer "
            "ends a process of the box"),
      layer("cpu limit", m_cpu, "cgroup v1: cpu.cfs_quota_us = vcpu x cpu.cfs_period_us",
            "cgroup v2: cpu.max = vcpu x period"),
      layer("pids limit", m_pids, "cgroup v1: pids.max", "cgroup v2: pids.max"),
      layer("freezer", m_freezer, "cgroup v1: freezer.state (suspend freezes every process)",
            "cgroup v2: cgroup.freeze (suspend freezes every process)"),
  };
}

// ---- BoxCgroup: per box ----

BoxCgroup::InitJoin BoxCgroup::prepare(const std::string& id, const BoxLimits& limits) {
  bool leftovers = false;
  for (std::size_t i = 0; i < m_hierarchies.size(); ++i) {
    leftovers = leftovers || fs::exists(dir(static_cast<int>(i), id));
  }
  if (leftovers) {
    kill_all(id);
  }
  for (std::size_t i = 0; i < m_hierarchies.size(); ++i) {
    const auto path = dir(static_cast<int>(i), id);
    if (mkdir(path.c_str(), 0755) < 0 && errno != EEXIST) {
      throw_errno("creating the box's cgroup");
    }
  }
  thaw(id, 0);
  apply(id, limits);
  InitJoin join;
  for (std::size_t i = 0; i < m_hierarchies.size(); ++i) {
    const bool v2 = m_hierarchies[i].v2;
    const int fd = open(join_file(i, id).c_str(), O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
      (v2 ? join.by_pid : join.self).push_back(fd);
    }
  }
  return join;
}

std::vector<int> BoxCgroup::open_procs(const std::string& id) const {
  std::vector<int> fds;
  for (std::size_t i = 0; i < m_hierarchies.size(); ++i) {
    const int fd = open(join_file(i, id).c_str(), O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
      fds.push_back(fd);
    }
  }
  return fds;
}

// The file a process joins hierarchy `index` by (box_cgroup.hpp).
fs::path BoxCgroup::join_file(std::size_t index, const std::string& id) const {
  return dir(static_cast<int>(index), id) / (m_hierarchies[index].v2 ? "cgroup.procs" : "tasks");
}

void BoxCgroup::apply(const std::string& id, const BoxLimits& limits) const {
  try {
    apply_memory(id, limits.memory_bytes);
    apply_cpu(id, limits.vcpu);
    apply_pids(id, limits.pids);
  } catch (...) {
    forget_enforced(id);  // some may be written
    throw;
  }
  forget_enforced(id);
}

void BoxCgroup::forget_enforced(const std::string& id) const {
  std::lock_guard lock(m_enforced_mutex);
  m_enforced.erase(id);
}

void BoxCgroup::apply_memory(const std::string& id, std::uint64_t bytes) const {
  if (m_memory.index < 0 || !fs::exists(dir(m_memory.index, id))) {
    return;
  }
  const fs::path d = dir(m_memory.index, id);
  const std::string what = "memory limit " + (bytes == 0 ? "(none)" : format_size(bytes));
  if (m_hierarchies[m_memory.index].v2) {
    if (int err = write_value(d / "memory.max", v2_limit_text(bytes))) {
      throw limit_error(what, err);
    }
    if (fs::exists(d / "memory.swap.max")) {
      write_value(d / "memory.swap.max", bytes == 0 ? "max" : "0");
    }
    return;
  }
  // v1: memory <= memory+swap must hold after every write, so lower the
  // memory limit first and raise memory+swap first.
  const fs::path limit = d / "memory.limit_in_bytes";
  const fs::path memsw = d / "memory.memsw.limit_in_bytes";
  const std::string text = v1_limit_text(bytes);
  const bool has_memsw = fs::exists(memsw);
  int err = write_value(limit, text);
  if (err == 0 && has_memsw) {
    err = write_value(memsw, text);
  } else if (err == EINVAL && has_memsw) {
    err = write_value(memsw, text);
    if (err == 0) {
      err = write_value(limit, text);
    }
  }
  if (err != 0) {
    throw limit_error(what, err);
  }
}

void BoxCgroup::apply_cpu(const std::string& id, std::uint32_t vcpu) const {
  if (m_cpu.index < 0 || !fs::exists(dir(m_cpu.index, id))) {
    return;
  }
  const fs::path d = dir(m_cpu.index, id);
  const std::string what = "cpu limit (" + std::to_string(vcpu) + " vcpu)";
  int err = 0;
  if (m_hierarchies[m_cpu.index].v2) {
    err = write_value(d / "cpu.max", v2_cpu_max_text(vcpu));
  } else {
    err = write_value(d / "cpu.cfs_period_us", std::to_string(k_cpu_period_us));
    if (err == 0) {
      err = write_value(d / "cpu.cfs_quota_us",
                        vcpu == 0 ? "-1" : std::to_string(vcpu * k_cpu_period_us));
    }
  }
  if (err != 0) {
    throw limit_error(what, err);
  }
}

void BoxCgroup::apply_pids(const std::string& id, std::uint64_t pids) const {
  if (m_pids.index < 0 || !fs::exists(dir(m_pids.index, id))) {
    return;
  }
  if (int err = write_value(dir(m_pids.index, id) / "pids.max", v2_limit_text(pids))) {
    throw limit_error("process limit " + std::to_string(pids), err);
  }
}

EnforcedLimits BoxCgroup::enforced(const std::string& id) const {
  std::lock_guard lock(m_enforced_mutex);
  auto it = m_enforced.find(id);
  if (it == m_enforced.end()) {
    it = m_enforced.emplace(id, read_enforced(id)).first;
  }
  return it->second;
}

EnforcedLimits BoxCgroup::read_enforced(const std::string& id) const {
  EnforcedLimits limits;
  if (m_memory.index >= 0) {
    const fs::path d = dir(m_memory.index, id);
    limits.memory_bytes = parse_limit_text(
        read_text(d / (m_hierarchies[m_memory.index].v2 ? "memory.max" : "memory.limit_in_bytes")));
  }
  if (m_cpu.index >= 0) {
    const fs::path d = dir(m_cpu.index, id);
    if (m_hierarchies[m_cpu.index].v2) {
      limits.vcpu = parse_cpu_max_text(read_text(d / "cpu.max"));
    } else {
      limits.vcpu = parse_cpu_max_text(read_text(d / "cpu.cfs_quota_us") + " " +
                                       read_text(d / "cpu.cfs_period_us"));
    }
  }
  if (m_pids.index >= 0) {
    limits.pids = parse_limit_text(read_text(dir(m_pids.index, id) / "pids.max"));
  }
  return limits;
}

// ---- freezing and killing ----

std::vector<int> BoxCgroup::members(const std::string& id) const {
  std::set<int> pids;
  for (std::size_t i = 0; i < m_hierarchies.size(); ++i) {
    std::istringstream in(read_text(dir(static_cast<int>(i), id) / "cgroup.procs"));
    int pid = 0;
    while (in >> pid) {
      pids.insert(pid);
    }
  }
  return {pids.begin(), pids.end()};
}

bool BoxCgroup::has_freezer_cgroup(const std::string& id) const {
  return m_freezer.index >= 0 && fs::exists(dir(m_freezer.index, id) / "cgroup.procs");
}

void BoxCgroup::freeze(const std::string& id, int init_pid) const {
  if (!has_freezer_cgroup(id)) {
    for (int pid : pids_in_namespace_of(init_pid)) {
      kill(pid, SIGSTOP);
    }
    return;
  }
  const fs::path d = dir(m_freezer.index, id);
  const bool v2 = m_hierarchies[m_freezer.index].v2;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (true) {
    if (!v2) {
      write_value(d / "freezer.state", "FROZEN");
      if (read_text(d / "freezer.state").starts_with("FROZEN")) {
        return;
      }
    } else {
      write_value(d / "cgroup.freeze", "1");
      if (read_text(d / "cgroup.events").find("frozen 1") != std::string::npos) {
        return;
      }
    }
    if (std::chrono::steady_clock::now() > deadline) {
      thaw(id, init_pid);
      throw Error(ErrorClass::Internal, "the box did not freeze within 10 seconds");
    }
    std::this_thread::sleep_for(10ms);
  }
}

void BoxCgroup::thaw(const std::string& id, int init_pid) const {
  if (!has_freezer_cgroup(id)) {
    if (init_pid > 0) {
      for (int pid : pids_in_namespace_of(init_pid)) {
        kill(pid, SIGCONT);
      }
    }
    return;
  }
  const fs::path d = dir(m_freezer.index, id);
  if (m_hierarchies[m_freezer.index].v2) {
    write_value(d / "cgroup.freeze", "0");
  } else {
    write_value(d / "freezer.state", "THAWED");
  }
}

bool BoxCgroup::frozen(const std::string& id, int init_pid) const {
  if (!has_freezer_cgroup(id)) {
    auto stat = read_proc_stat(init_pid);
    return stat && stat->state == 'T';
  }
  const fs::path d = dir(m_freezer.index, id);
  if (m_hierarchies[m_freezer.index].v2) {
    return read_text(d / "cgroup.freeze").starts_with("1");
  }
  return !read_text(d / "freezer.state").starts_with("THAWED");
}

void BoxCgroup::kill_all(const std::string& id) const {
  if (members(id).empty()) {
    return;
  }
  // Frozen processes cannot fork: freeze (without waiting), SIGKILL every
  // member, thaw so that the kills land. A fork bomb cannot outrun this.
  const bool freezer = has_freezer_cgroup(id);
  if (freezer) {
    const fs::path d = dir(m_freezer.index, id);
    write_value(m_hierarchies[m_freezer.index].v2 ? d / "cgroup.freeze" : d / "freezer.state",
                m_hierarchies[m_freezer.index].v2 ? "1" : "FROZEN");
  }
  for (int pid : members(id)) {
    kill(pid, SIGKILL);
  }
  thaw(id, 0);
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (true) {
    auto pids = members(id);
    if (pids.empty() || std::chrono::steady_clock::now() > deadline) {
      return;
    }
    for (int pid : pids) {
      kill(pid, SIGKILL);
      if (!is_spawned_child(pid)) {
        waitpid(pid, nullptr, WNOHANG);  // a box init of ours
      }
    }
    reap_orphans();
    std::this_thread::sleep_for(10ms);
  }
}

void BoxCgroup::remove(const std::string& id) const {
  forget_enforced(id);
  kill_all(id);
  for (std::size_t i = 0; i < m_hierarchies.size(); ++i) {
    const auto path = dir(static_cast<int>(i), id);
    for (int attempt = 0; attempt < 50; ++attempt) {
      if (rmdir(path.c_str()) == 0 || errno == ENOENT) {
        break;
      }
      std::this_thread::sleep_for(20ms);
    }
  }
  forget_enforced(id);
}

}  // namespace boxd::local
