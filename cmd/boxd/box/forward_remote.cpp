#include "boxd/box/forward_remote.hpp"

#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <memory>
#include <optional>
#include <sstream>

#include <openssl/evp.h>

#include "boxd/box/forward_relay.hpp"
#include "common/error.hpp"
#include "common/files.hpp"
#include "common/paths.hpp"
#include "common/shell_quote.hpp"
#include "common/unique_fd.hpp"
#include "common/version.hpp"

namespace boxd::cli {

namespace {

using Fd = UniqueFd;

// True when the ELF file has no program interpreter (statically linked).
bool is_static_elf(int fd) {
  Elf64_Ehdr header{};
  if (::pread(fd, &header, sizeof header, 0) != static_cast<ssize_t>(sizeof header) ||
      std::memcmp(header.e_ident, ELFMAG, SELFMAG) != 0 || header.e_ident[EI_CLASS] != ELFCLASS64) {
    return false;
  }
  for (unsigned i = 0; i < header.e_phnum; ++i) {
    Elf64_Phdr ph{};
    const auto at = static_cast<off_t>(header.e_phoff + i * sizeof ph);
    if (::pread(fd, &ph, sizeof ph, at) != static_cast<ssize_t>(sizeof ph)) {
      return false;
    }
    if (ph.p_type == PT_INTERP) {
      return false;
    }
  }
  return true;
}

std::string hash_file(int fd) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> md(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(md.get(), EVP_sha256(), nullptr);
  std::string buffer(1024 * 1024, '\0');
  off_t at = 0;
  for (;;) {
    const ssize_t n = ::pread(fd, buffer.data(), buffer.size(), at);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      throw Error(ErrorClass::Internal, "cannot read the boxd binary to hash it");
    }
    if (n == 0) {
      break;
    }
    EVP_DigestUpdate(md.get(), buffer.data(), static_cast<std::size_t>(n));
    at += n;
  }
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned size = 0;
  EVP_DigestFinal_ex(md.get(), digest.data(), &size);
  std::string hex;
  for (unsigned i = 0; i < size; ++i) {
    char two[3];
    std::snprintf(two, sizeof two, "%02x", digest[i]);
    hex += two;
  }
  return hex;
}

// sha256 of this binary, cached by identity so a 20-300 MB file is hashed once.
std::string self_sha256(int fd) {
  struct stat st {};
  ::fstat(fd, &st);
  const std::string identity = std::to_string(st.st_dev) + " " + std::to_string(st.st_ino) + " " +
                               std::to_string(st.st_size) + " " +
                               std::to_string(st.st_mtim.tv_sec) + "." +
                               std::to_string(st.st_mtim.tv_nsec);
  const auto cache = cache_dir() / "self-sha256";
  if (auto text = read_file(cache)) {
    std::istringstream in(*text);
    std::string line;
    std::getline(in, line);
    std::string hash;
    std::getline(in, hash);
    if (line == identity && hash.size() == 64) {
      return hash;
    }
  }
  std::string hash = hash_file(fd);
  try {
    ensure_dir(cache_dir(), 0700);
    write_file_atomic(cache, identity + "\n" + hash + "\n");
  } catch (const Error&) {
    // A read-only cache only costs the hash next time.
  }
  return hash;
}

struct Probe {
  std::string home;
  std::string arch;
  std::optional<std::uint64_t> helper_size;  // the cached helper's size, when present
  bool have_python = false;
};

Probe probe_box(client::ClientApi& client, const std::string& vm, const std::string& helper_name) {
  const std::string command =
      "d=\"$HOME/.cache/boxd/relay\"; mkdir -p \"$d\" 2>/dev/null; echo \"home=$HOME\"; "
      "echo \"arch=$(uname -m)\"; [ -x \"$d/" +
      helper_name + "\" ] && echo \"helper=$(stat -c %s \"$d/" + helper_name +
      "\")\"; "
      "command -v python3 >/dev/null 2>&1 && echo have-python; true";
  const CapturedRun run = run_captured(client, vm, command);
  Probe probe;
  std::istringstream in(run.out);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("home=", 0) == 0) {
      probe.home = line.substr(5);
    } else if (line.rfind("arch=", 0) == 0) {
      probe.arch = line.substr(5);
    } else if (line.rfind("helper=", 0) == 0) {
      probe.helper_size = std::strtoull(line.c_str() + 7, nullptr, 10);
    } else if (line == "have-python") {
      probe.have_python = true;
    }
  }
  if (run.exit_code != 0 || probe.home.empty()) {
    throw Error(ErrorClass::Internal, "cannot probe the box for a relay: " + run.err);
  }
  return probe;
}

// Uploads this binary to `final_path` (temp name, hash check, rename).
void upload_helper(client::ClientApi& client, const std::string& vm, int fd, const std::string& sha,
                   const std::string& final_path) {
  struct stat st {};
  ::fstat(fd, &st);
  const std::string tmp = final_path + "." + std::to_string(::getpid()) + ".tmp";
  off_t at = 0;
  client.upload_file(vm, tmp, static_cast<std::uint64_t>(st.st_size),
                     [fd, &at](char* buffer, std::size_t size) -> std::size_t {
                       const ssize_t n = ::pread(fd, buffer, size, at);
                       if (n <= 0) {
                         return 0;
                       }
                       at += n;
                       return static_cast<std::size_t>(n);
                     });
  const std::string q_tmp = shell_quote(tmp);
  const CapturedRun run = run_captured(
      client, vm,
      "echo " + shell_quote(sha + "  " + tmp) + " | sha256sum -c --status && chmod 755 " + q_tmp +
          " && mv -f " + q_tmp + " " + shell_quote(final_path) + " || { rm -f " + q_tmp +
          "; echo 'the uploaded relay does not match its sha256' >&2; exit 1; }");
  if (run.exit_code != 0) {
    throw Error(ErrorClass::Internal, "installing the relay helper in the box failed: " + run.err);
  }
}

std::string local_arch() {
  utsname u{};
  ::uname(&u);
  return u.machine;
}

}  // namespace

RelayKind parse_relay_kind(const std::string& text) {
  if (text == "auto") {
    return RelayKind::Auto;
  }
  if (text == "boxd") {
    return RelayKind::Boxd;
  }
  if (text == "python3") {
    return RelayKind::Python;
  }
  throw Error(ErrorClass::Usage, "--relay must be auto, boxd or python3, not '" + text + "'");
}

std::string RemoteRelay::command(const std::string& host, unsigned port) const {
  const std::string args = shell_quote(host) + " " + std::to_string(port);
  if (kind == RelayKind::Boxd) {
    return "exec " + shell_quote(helper_path) + " __relay " + args;
  }
  return "exec python3 -c " + shell_quote(k_python_relay) + " " + args;
}

std::string RemoteRelay::name() const {
  return kind == RelayKind::Boxd ? "boxd" : "python3";
}

RemoteRelay prepare_remote_relay(client::ClientApi& client, const std::string& vm, RelayKind wanted,
                                 std::ostream& log) {
  RemoteRelay relay;
  const Fd self(::open("/proc/self/exe", O_RDONLY | O_CLOEXEC));
  if (self.get() < 0 && wanted != RelayKind::Python) {
    throw Error(ErrorClass::Internal, "cannot open the boxd binary (/proc/self/exe)");
  }
  const std::string sha = wanted == RelayKind::Python ? "" : self_sha256(self.get());
  const std::string name = std::string("boxd-") + k_version + "-" + sha.substr(0, 16);
  const Probe probe = probe_box(client, vm, name);
  if (wanted == RelayKind::Python) {
    if (!probe.have_python) {
      throw Error(ErrorClass::InvalidArgument, "the box has no python3 for --relay python3",
                  "use --relay auto or boxd");
    }
    return relay;
  }
  const bool same_arch = probe.arch == local_arch();
  const bool fits = is_static_elf(self.get()) && same_arch;
  if (wanted == RelayKind::Auto && !fits && probe.have_python) {
    return relay;
  }
  if (!same_arch) {
    throw Error(ErrorClass::InvalidArgument,
                "the box has no python3 and its architecture (" + probe.arch +
                    ") differs from this boxd's (" + local_arch() + "): no relay can run there",
                "install python3 in the box, or use a boxd built for " + probe.arch);
  }
  relay.kind = RelayKind::Boxd;
  relay.helper_path = probe.home + "/.cache/boxd/relay/" + name;
  struct stat st {};
  ::fstat(self.get(), &st);
  // Named by hash and checked by sha256sum before its rename; a size that
  // differs now means someone changed it since: upload it again.
  if (probe.helper_size != static_cast<std::uint64_t>(st.st_size)) {
    log << "boxd: uploading the relay helper to " << vm << ":" << relay.helper_path << " ("
        << (st.st_size + (1 << 20) - 1) / (1 << 20) << " MiB, once per boxd build)\n"
        << std::flush;
    upload_helper(client, vm, self.get(), sha, relay.helper_path);
  }
  return relay;
}

CapturedRun run_captured(client::ClientApi& client, const std::string& vm,
                         const std::string& command, const std::string& input) {
  client::ExecRequest request;
  request.vm = vm;
  request.command = command;
  auto session = client.exec(request);
  if (!input.empty()) {
    session->write_stdin(input);
  }
  session->close_stdin();
  CapturedRun run;
  api::v1::ExecChunk chunk;
  while (session->read(chunk)) {
    if (chunk.stdin() || chunk.window_change()) {
      continue;
    }
    if (chunk.exit_code() != 0) {
      run.exit_code = chunk.exit_code();
    }
    (chunk.is_stderr() ? run.err : run.out) += chunk.data();
  }
  session->finish();
  while (!run.err.empty() && run.err.back() == '\n') {
    run.err.pop_back();
  }
  return run;
}

}  // namespace boxd::cli
