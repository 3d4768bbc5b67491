// Per-box id ranges (lib/local/box_idmap.hpp) against a registry of the
// test's own ($BOXD_IDMAP_REGISTRY).
#include <doctest/doctest.h>

#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include "common/files.hpp"
#include "local/box_idmap.hpp"
#include "local_test_support.hpp"

namespace fs = std::filesystem;
using boxd::local::box_id_base;
using boxd::local::k_box_id_count;
using boxd::local::release_box_ids;

namespace {

// Points the registry at `path` for the scope.
class RegistryAt {
 public:
  explicit RegistryAt(const fs::path& path) {
    if (const char* old = getenv("BOXD_IDMAP_REGISTRY")) {
      m_old = old;
    }
    setenv("BOXD_IDMAP_REGISTRY", path.c_str(), 1);
  }
  ~RegistryAt() {
    if (m_old) {
      setenv("BOXD_IDMAP_REGISTRY", m_old->c_str(), 1);
    } else {
      unsetenv("BOXD_IDMAP_REGISTRY");
    }
  }
  RegistryAt(const RegistryAt&) = delete;
  RegistryAt& operator=(const RegistryAt&) = delete;

 private:
  std::optional<std::string> m_old;
};

}  // namespace

TEST_CASE("id ranges: one per live box, kept, given back, never shared") {
  boxd::local::test::TempDir dir;
  const RegistryAt registry(dir.path() / "registry");
  std::map<std::string, std::uint32_t> live;  // box dir -> base
  const auto make_box = [&](int n) {
    const fs::path box = dir.path() / ("box-" + std::to_string(n));
    boxd::ensure_dir(box, 0700);
    const std::uint32_t base = box_id_base(box);
    CHECK(base >= (1U << 30));
    CHECK((base - (1U << 30)) % k_box_id_count == 0);
    for (const auto& other : live) {
      CAPTURE(other.first);
      CHECK(other.second != base);
    }
    CHECK(box_id_base(box) == base);  // recorded: asking again gives the same
    live[box.string()] = base;
    return box;
  };
  for (int i = 0; i < 6; ++i) {
    make_box(i);
  }
  // Destroyed boxes give their range back; later ones never get a range a
  // live box holds, whichever slots the search starts from.
  for (int round = 0; round < 20; ++round) {
    const fs::path gone = live.begin()->first;
    release_box_ids(gone);
    live.erase(live.begin());
    fs::remove_all(gone);
    make_box(100 + round);
  }
  CHECK(live.size() == 6);
}
