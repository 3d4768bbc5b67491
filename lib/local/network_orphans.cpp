#include "local/network_orphans.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <optional>

#include <set>
#include <sstream>
#include <vector>

#include "common/files.hpp"
#include "local/netlink.hpp"
#include "local/runtime_support.hpp"

namespace boxd::local {

namespace {

namespace fs = std::filesystem;

constexpr const char* k_alias_prefix = "boxd-local ";
constexpr std::size_t k_hash_digits = 6;

bool is_hash(const std::string& text) {
  if (text.size() != k_hash_digits) {
    return false;
  }
  for (const char c : text) {
    if ((c < '0' || c > '9') && (c < 'a' || c > 'f')) {
      return false;
    }
  }
  return true;
}

// The hashes of the server bridges on this host (bxd-<6 hex>).
std::vector<std::string> bridge_hashes() {
  std::vector<std::string> hashes;
  for (const auto& name : links_with_prefix("bxd-")) {
    if (is_hash(name.substr(4))) {
      hashes.push_back(name.substr(4));
    }
  }
  return hashes;
}

// "boxd-local pid=<pid> start=<ticks> ns=<pid ns>:<mount ns> state=<dir>",
// as tag_server_bridge writes it.
struct Tag {
  int pid = 0;
  std::uint64_t start_time = 0;
  std::string namespaces;
  fs::path state_dir;
};

// This process's pid and mount namespaces ("<inode>:<inode>"): a pid and a
// state dir in a tag mean something only to a server that sees the same
// ones (servers in containers that share the host's network do not).
std::string own_namespaces() {
  struct stat pid_ns {};
  struct stat mount_ns {};
  if (stat("/proc/self/ns/pid", &pid_ns) != 0 || stat("/proc/self/ns/mnt", &mount_ns) != 0) {
    return "?";
  }
  return std::to_string(pid_ns.st_ino) + ":" + std::to_string(mount_ns.st_ino);
}

std::optional<Tag> read_tag(const std::string& bridge) {
  auto text = read_file("/sys/class/net/" + bridge + "/ifalias");
  if (!text) {
    return std::nullopt;
  }
  while (!text->empty() && text->back() == '\n') {
    text->pop_back();
  }
  if (!text->starts_with(k_alias_prefix)) {
    return std::nullopt;
  }
  std::istringstream in(text->substr(std::char_traits<char>::length(k_alias_prefix)));
  Tag tag;
  std::string pid_field;
  std::string start_field;
  std::string ns_field;
  in >> pid_field >> start_field >> ns_field;
  const auto state_at = text->find(" state=");
  if (!pid_field.starts_with("pid=") || !start_field.starts_with("start=") ||
      !ns_field.starts_with("ns=") || state_at == std::string::npos) {
    return std::nullopt;
  }
  tag.namespaces = ns_field.substr(3);
  try {
    tag.pid = std::stoi(pid_field.substr(4));
    tag.start_time = std::stoull(start_field.substr(6));
  } catch (const std::exception&) {
    return std::nullopt;
  }
  tag.state_dir = text->substr(state_at + 7);
  if (tag.pid <= 0 || !tag.state_dir.is_absolute()) {
    return std::nullopt;
  }
  return tag;
}

bool orphaned(const Tag& tag) {
  std::error_code ec;
  return tag.namespaces == own_namespaces() && !process_matches(tag.pid, tag.start_time) &&
         !fs::exists(tag.state_dir, ec) && !ec;
}

// argv's standard output; "" when it cannot run.
std::string captured(const std::vector<std::string>& argv) {
  try {
    return run_command(argv, true).output;
  } catch (const std::exception&) {
    return "";
  }
}

std::vector<std::string> words(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> out;
  for (std::string word; in >> word;) {
    out.push_back(word);
  }
  return out;
}

// Removes the BOXD-<hash>-* chains of every hash in `hashes` from one table:
// first the rules that jump to them, then the chains. Returns how many
// chains went.
int remove_chains(const std::string& iptables, const char* table,
                  const std::set<std::string>& hashes) {
  const std::string rules = captured({iptables, "-w", "-t", table, "-S"});
  auto ours = [&](const std::string& chain) {
    return chain.starts_with("BOXD-") && chain.size() > 5 + k_hash_digits &&
           hashes.count(chain.substr(5, k_hash_digits)) > 0;
  };
  std::vector<std::string> chains;
  std::istringstream in(rules);
  for (std::string line; std::getline(in, line);) {
    auto rule = words(line);
    if (rule.size() == 2 && rule[0] == "-N" && ours(rule[1])) {
      chains.push_back(rule[1]);
    } else if (rule.size() > 2 && rule[0] == "-A" && !ours(rule[1]) &&
               ours(rule[rule.size() - 1]) && rule[rule.size() - 2] == "-j") {
      rule[0] = "-D";
      std::vector<std::string> argv = {iptables, "-w", "-t", table};
      argv.insert(argv.end(), rule.begin(), rule.end());
      (void)run_command(argv);
    }
  }
  int removed = 0;
  for (const auto& chain : chains) {
    (void)run_command({iptables, "-w", "-t", table, "-F", chain});
    removed += run_command({iptables, "-w", "-t", table, "-X", chain}).status == 0 ? 1 : 0;
  }
  return removed;
}

// The hashes of BOXD-<hash>-* chains in the filter and nat tables.
std::set<std::string> chain_hashes(const std::string& iptables) {
  std::set<std::string> hashes;
  for (const char* table : {"filter", "nat"}) {
    std::istringstream in(captured({iptables, "-w", "-t", table, "-S"}));
    for (std::string line; std::getline(in, line);) {
      const auto rule = words(line);
      if (rule.size() == 2 && rule[0] == "-N" && rule[1].starts_with("BOXD-") &&
          rule[1].size() > 5 + k_hash_digits && is_hash(rule[1].substr(5, k_hash_digits))) {
        hashes.insert(rule[1].substr(5, k_hash_digits));
      }
    }
  }
  return hashes;
}

}  // namespace

NetworkSetupLock::NetworkSetupLock()
    : m_fd(open("/run/boxd-local-network.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600)) {
  if (m_fd >= 0) {
    while (flock(m_fd, LOCK_EX) != 0 && errno == EINTR) {
    }
  }
}

NetworkSetupLock::~NetworkSetupLock() {
  if (m_fd >= 0) {
    close(m_fd);  // releases the lock
  }
}

void tag_server_bridge(const std::string& bridge, const fs::path& state_dir) {
  const auto self = read_proc_stat(getpid());
  const std::string alias = std::string(k_alias_prefix) + "pid=" + std::to_string(getpid()) +
                            " start=" + std::to_string(self ? self->start_time : 0) +
                            " ns=" + own_namespaces() + " state=" + state_dir.string();
  if (alias.size() > 255 || alias.find('\n') != std::string::npos) {
    return;
  }
  const int fd = open(("/sys/class/net/" + bridge + "/ifalias").c_str(), O_WRONLY | O_CLOEXEC);
  if (fd >= 0) {
    (void)!write(fd, alias.data(), alias.size());
    close(fd);
  }
}

ReapedNetworks reap_orphaned_networks(const std::string& own_hash, const std::string& iptables) {
  ReapedNetworks reaped;
  std::set<std::string> gone;
  const auto bridges = bridge_hashes();
  for (const auto& hash : bridges) {
    const auto tag = hash == own_hash ? std::nullopt : read_tag("bxd-" + hash);
    if (!tag || !orphaned(*tag)) {
      continue;
    }
    auto links = links_with_prefix("bxv" + hash);
    for (auto& name : links_with_prefix("bxn" + hash)) {
      links.push_back(std::move(name));
    }
    links.push_back("bxd-" + hash);
    if (!netlink::delete_links(links)) {
      continue;  // not counted; the next server to start tries again
    }
    gone.insert(hash);
    ++reaped.bridges;
  }
  if (iptables.empty()) {
    return reaped;
  }
  const std::set<std::string> with_bridge(bridges.begin(), bridges.end());
  for (const auto& hash : chain_hashes(iptables)) {
    if (hash != own_hash && with_bridge.count(hash) == 0) {
      gone.insert(hash);
    }
  }
  if (!gone.empty()) {
    reaped.chains += remove_chains(iptables, "filter", gone);
    reaped.chains += remove_chains(iptables, "nat", gone);
  }
  return reaped;
}

}  // namespace boxd::local
