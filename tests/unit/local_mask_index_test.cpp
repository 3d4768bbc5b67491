// The server's live mask list (lib/local/mask_index.hpp) on real files in a
// temp dir: each case changes the files the way a host user would, then asks
// for a snapshot as a boot does, and checks the list against what "other"
// may read. fanotify needs root (CAP_SYS_ADMIN); skipped without it.
#include "local/host_masks.hpp"
#include "local/mask_index.hpp"
#include "local_test_support.hpp"

#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

namespace fs = std::filesystem;
using boxd::local::HostMaskList;
using boxd::local::MaskIndex;

// A fake host: <tmp>/a and <tmp>/b are the overlaid directories, <tmp>/out
// is outside them on the same file system, <tmp>/state is the server's.
struct MaskIndexHost {
  boxd::local::test::TempDir tmp;
  fs::path a = tmp.path() / "a";
  fs::path b = tmp.path() / "b";
  fs::path out = tmp.path() / "out";
  fs::path state = tmp.path() / "state";

  MaskIndexHost() {
    for (const auto& dir : {a, b, out, state}) {
      fs::create_directory(dir);
      chmod(dir.c_str(), 0755);
    }
  }

  // The directories a box would overlay: every child of tmp but state and out.
  MaskIndex::RootsFn roots() const {
    return [top = tmp.path(), state = state, out = out] {
      std::vector<fs::path> dirs;
      for (const auto& entry : fs::directory_iterator(top)) {
        if (entry.is_directory() && !entry.is_symlink() && entry.path() != state &&
            entry.path() != out) {
          dirs.push_back(entry.path());
        }
      }
      return dirs;
    };
  }
};

void mask_index_test_file(const fs::path& path, mode_t mode) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  REQUIRE(fd >= 0);
  REQUIRE(write(fd, "secret\n", 7) == 7);
  close(fd);
  REQUIRE(chmod(path.c_str(), mode) == 0);
}

void mask_index_test_dir(const fs::path& path, mode_t mode) {
  REQUIRE(mkdir(path.c_str(), 0755) == 0);
  REQUIRE(chmod(path.c_str(), mode) == 0);
}

// The masked paths of one directory in a snapshot ("" when it is absent).
std::set<std::string> mask_index_test_masks(MaskIndex& index, const fs::path& root) {
  std::set<std::string> masks;
  const HostMaskList list = index.snapshot();
  auto it = list.find(root.native());
  if (it == list.end()) {
    masks.insert("<not listed>");
    return masks;
  }
  for (const auto& mask : it->second.masks) {
    masks.insert(mask.rel);
  }
  return masks;
}

bool mask_index_test_can_run() {
  if (geteuid() == 0) {
    return true;
  }
  MESSAGE("skipped: fanotify on a file system needs root");
  return false;
}

// `levels` directories of `length`-byte names below `top` (22 of 200: a
// path past PATH_MAX, which /proc cannot name). Returns an fd on the
// deepest (the caller closes it) and its path relative to `top`.
std::pair<int, std::string> mask_index_test_deep_dirs(const fs::path& top, char letter,
                                                      int levels = 22, std::size_t length = 200) {
  int fd = open(top.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  const std::string part(length, letter);
  std::string rel;
  for (int i = 0; i < levels; ++i) {
    REQUIRE(mkdirat(fd, part.c_str(), 0755) == 0);
    const int next = openat(fd, part.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    close(fd);
    REQUIRE(next >= 0);
    fd = next;
    rel += (rel.empty() ? "" : "/") + part;
  }
  return {fd, rel};
}

// A private file `name` in directory `dir` (by fd: its path may be too long).
void mask_index_test_private_file_at(int dir, const char* name) {
  const int file = openat(dir, name, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  REQUIRE(file >= 0);
  close(file);
}

// Removes a tree that may go past PATH_MAX (rm works relative to fds).
void mask_index_test_remove(const fs::path& path) {
  const std::string remove = "rm -rf '" + path.string() + "'";
  CHECK(std::system(remove.c_str()) == 0);
}

using Set = std::set<std::string>;

// Unmounts whatever the test left mounted on its paths, before they go.
struct MaskIndexTestUnmount {
  std::vector<fs::path> paths;
  ~MaskIndexTestUnmount() {
    for (const auto& path : paths) {
      while (umount2(path.c_str(), MNT_DETACH) == 0) {
      }
    }
  }
};

}  // namespace

TEST_CASE("mask list: its file format keeps every field and refuses what could leave a layer") {
  HostMaskList list;
  list["/etc"] = {
      2049, 12, {{"shadow", S_IFREG | 0640, 0, 42}, {"ssl/private", S_IFDIR | 0710, 0, 103}}};
  list["/var/lib/x y"] = {7, 99, {{"a\tb/c d", S_IFREG | 0600, 1000, 1000}}};
  list["/empty"] = {1, 2, {}};
  const auto text = boxd::local::encode_host_masks(list);
  const auto back = boxd::local::decode_host_masks(text);
  REQUIRE(back.has_value());
  CHECK(*back == list);
  using namespace std::string_view_literals;
  for (const auto bad :
       {"M100600 0 0 x"sv, "R1 2 /etc\0M100600 0 0 ../x"sv, "R1 2 /etc\0M100600 0 0 /x"sv,
        "R1 2 /etc\0M100600 0 0 a//b"sv, "R1 2 /etc\0M100600 0 x a"sv,
        "R1 2 /etc\0M100600 0 0 a/./b"sv, "R1 2 /etc\0M100600 0 0 a/.."sv}) {
    std::string record(bad);
    record.push_back('\0');
    CHECK_MESSAGE(!boxd::local::decode_host_masks(record).has_value(), bad.substr(5));
  }
  CHECK(boxd::local::decode_host_masks(std::string("R1 2 /etc\0", 10)).has_value());
  CHECK(!boxd::local::decode_host_masks(std::string("R1 2 /etc", 9)).has_value());
  CHECK(!boxd::local::decode_host_masks(std::string("R/etc\0", 6)).has_value());
}

TEST_CASE("mask list: the first walk lists what others may not read, and nothing else") {
  if (!mask_index_test_can_run()) {
    return;
  }
  MaskIndexHost host;
  mask_index_test_file(host.a / "public", 0644);
  mask_index_test_file(host.a / "private", 0600);
  mask_index_test_file(host.a / "group-only", 0640);
  mask_index_test_dir(host.a / "closed", 0700);
  mask_index_test_file(host.a / "closed" / "inner", 0600);  // hidden with its directory
  mask_index_test_dir(host.a / "no-search", 0754);
  mask_index_test_dir(host.b / "open", 0755);
  mask_index_test_file(host.b / "open" / "deep", 0400 | 0040);
  REQUIRE(symlink("private", (host.a / "link").c_str()) == 0);
  mask_index_test_file(host.state / "key", 0600);
  MaskIndex index(host.state, host.roots());
  CHECK(mask_index_test_masks(index, host.a) ==
        Set{"closed", "group-only", "no-search", "private"});
  CHECK(mask_index_test_masks(index, host.b) == Set{"open/deep"});
  const auto list = index.snapshot();
  CHECK(list.count(host.state.native()) == 0);
  CHECK(list.count(host.out.native()) == 0);
  const auto stats = index.stats();
  CHECK(stats.watching);
  CHECK(stats.roots == 2);
  CHECK(stats.watched == 2);
}

TEST_CASE("mask list: every change made before a snapshot is in it") {
  if (!mask_index_test_can_run()) {
    return;
  }
  MaskIndexHost host;
  mask_index_test_file(host.a / "f", 0644);
  MaskIndex index(host.state, host.roots());
  CHECK(mask_index_test_masks(index, host.a) == Set{});

  SUBCASE("a private file created, then made public, then private again") {
    mask_index_test_file(host.a / "new", 0600);
    CHECK(mask_index_test_masks(index, host.a) == Set{"new"});
    REQUIRE(chmod((host.a / "new").c_str(), 0644) == 0);
    CHECK(mask_index_test_masks(index, host.a) == Set{});
    REQUIRE(chmod((host.a / "f").c_str(), 0600) == 0);
    CHECK(mask_index_test_masks(index, host.a) == Set{"f"});
  }
  SUBCASE("chown keeps the mask's owner current") {
    REQUIRE(chmod((host.a / "f").c_str(), 0600) == 0);
    REQUIRE(chown((host.a / "f").c_str(), 1000, 1000) == 0);
    const auto list = index.snapshot();
    REQUIRE(list.at(host.a.native()).masks.size() == 1);
    CHECK(list.at(host.a.native()).masks[0].uid == 1000);
  }
  SUBCASE("a directory closed hides its contents; opened, its private contents show up") {
    mask_index_test_dir(host.a / "d", 0755);
    mask_index_test_file(host.a / "d" / "secret", 0600);
    mask_index_test_file(host.a / "d" / "open", 0644);
    CHECK(mask_index_test_masks(index, host.a) == Set{"d/secret"});
    REQUIRE(chmod((host.a / "d").c_str(), 0700) == 0);
    CHECK(mask_index_test_masks(index, host.a) == Set{"d"});
    REQUIRE(chmod((host.a / "d").c_str(), 0755) == 0);
    CHECK(mask_index_test_masks(index, host.a) == Set{"d/secret"});
  }
  SUBCASE("a tree moved in from outside, within, and out again") {
    mask_index_test_dir(host.out / "t", 0755);
    mask_index_test_dir(host.out / "t" / "sub", 0755);
    mask_index_test_file(host.out / "t" / "sub" / "key", 0600);
    mask_index_test_dir(host.out / "t" / "closed", 0700);
    fs::rename(host.out / "t", host.a / "t");
    CHECK(mask_index_test_masks(index, host.a) == Set{"t/closed", "t/sub/key"});
    fs::rename(host.a / "t", host.b / "moved");
    CHECK(mask_index_test_masks(index, host.a) == Set{});
    CHECK(mask_index_test_masks(index, host.b) == Set{"moved/closed", "moved/sub/key"});
    fs::rename(host.b / "moved", host.out / "back");
    CHECK(mask_index_test_masks(index, host.b) == Set{});
  }
  SUBCASE("a directory of the server's state moved into a listed one is watched again") {
    // Events in the state are dropped, and the next ones in the same
    // directory skip even the lookup: until a directory moves.
    mask_index_test_dir(host.state / "box", 0755);
    mask_index_test_dir(host.state / "box" / "d", 0755);
    mask_index_test_file(host.state / "box" / "d" / "x", 0600);
    mask_index_test_dir(host.state / "box" / "d" / "e", 0755);
    CHECK(mask_index_test_masks(index, host.a) == Set{});
    // A directory moved within the state: d is still known, and the
    // move's two events, a create and a chmod in it are dropped without a
    // lookup. (The index sees the whole file system: a directory moved
    // anywhere else meanwhile, by another test's box, empties the cache
    // once; a few tries tell that from a cache that does not work.)
    bool skipped_them = false;
    for (int attempt = 0; attempt < 5 && !skipped_them; ++attempt) {
      const auto skipped = index.stats().skipped;
      const std::string n = std::to_string(attempt);
      fs::rename(host.state / "box" / "d" / (attempt == 0 ? "e" : "e" + std::to_string(attempt)),
                 host.state / "box" / "d" / ("e" + std::to_string(attempt + 1)));
      mask_index_test_file(host.state / "box" / "d" / ("y" + n), 0600);
      CHECK(mask_index_test_masks(index, host.a) == Set{});
      skipped_them = index.stats().skipped >= skipped + 3;
    }
    CHECK(skipped_them);
    fs::rename(host.state / "box", host.a / "box");  // an ancestor of d moves
    Set moved{"box/d/x"};
    for (const auto& entry : fs::directory_iterator(host.a / "box" / "d")) {
      if (entry.path().filename().native()[0] == 'y') {
        moved.insert("box/d/" + entry.path().filename().native());
      }
    }
    CHECK(moved.size() >= 2);
    CHECK(mask_index_test_masks(index, host.a) == moved);
    mask_index_test_file(host.a / "box" / "d" / "z", 0600);
    moved.insert("box/d/z");
    CHECK(mask_index_test_masks(index, host.a) == moved);
  }
  SUBCASE("the state directory moved away and back, then a directory of it moved out") {
    // An event named after the state directory is in the state, but its
    // directory (the state's parent) is the host's: never taken as the
    // state's, or the move out below would be missed.
    mask_index_test_dir(host.state / "box", 0755);
    mask_index_test_dir(host.state / "box" / "d", 0755);
    mask_index_test_file(host.state / "box" / "d" / "x", 0600);
    CHECK(mask_index_test_masks(index, host.a) == Set{});
    const fs::path old = host.tmp.path() / "state.old";
    fs::rename(host.state, old);
    fs::rename(old, host.state);
    CHECK(mask_index_test_masks(index, host.a) == Set{});
    const fs::path c = host.tmp.path() / "c";  // a new overlaid directory
    fs::rename(host.state / "box", c);
    CHECK(mask_index_test_masks(index, c) == Set{"d/x"});
    mask_index_test_file(c / "d" / "y", 0600);
    CHECK(mask_index_test_masks(index, c) == Set{"d/x", "d/y"});
  }
  SUBCASE("deleted entries leave the list") {
    mask_index_test_dir(host.a / "d", 0755);
    mask_index_test_file(host.a / "d" / "key", 0600);
    mask_index_test_file(host.a / "key", 0600);
    CHECK(mask_index_test_masks(index, host.a) == Set{"d/key", "key"});
    fs::remove_all(host.a / "d");
    fs::remove(host.a / "key");
    CHECK(mask_index_test_masks(index, host.a) == Set{});
  }
  SUBCASE("a file made private through a hard link outside every directory") {
    REQUIRE(link((host.a / "f").c_str(), (host.out / "f").c_str()) == 0);
    REQUIRE(link((host.a / "f").c_str(), (host.b / "g").c_str()) == 0);
    CHECK(mask_index_test_masks(index, host.a) == Set{});
    REQUIRE(chmod((host.out / "f").c_str(), 0600) == 0);
    CHECK(mask_index_test_masks(index, host.a) == Set{"f"});
    CHECK(mask_index_test_masks(index, host.b) == Set{"g"});
  }
  SUBCASE("a file made private through one of its links in another directory") {
    REQUIRE(link((host.a / "f").c_str(), (host.b / "g").c_str()) == 0);
    CHECK(mask_index_test_masks(index, host.b) == Set{});  // the link is known, public
    REQUIRE(chmod((host.a / "f").c_str(), 0600) == 0);
    CHECK(mask_index_test_masks(index, host.b) == Set{"g"});
    CHECK(mask_index_test_masks(index, host.a) == Set{"f"});
  }
  SUBCASE("made private through a link inside a masked directory") {
    mask_index_test_dir(host.b / "closed", 0700);
    REQUIRE(link((host.a / "f").c_str(), (host.b / "closed" / "l").c_str()) == 0);
    CHECK(mask_index_test_masks(index, host.a) == Set{});
    REQUIRE(chmod((host.b / "closed" / "l").c_str(), 0600) == 0);
    CHECK(mask_index_test_masks(index, host.a) == Set{"f"});
  }
  SUBCASE("made private through a link that is renamed or removed before the boot") {
    mask_index_test_file(host.a / "g", 0644);
    REQUIRE(link((host.a / "f").c_str(), (host.b / "l").c_str()) == 0);
    REQUIRE(link((host.a / "g").c_str(), (host.out / "m").c_str()) == 0);
    CHECK(mask_index_test_masks(index, host.a) == Set{});
    REQUIRE(chmod((host.b / "l").c_str(), 0600) == 0);
    fs::rename(host.b / "l", host.b / "l2");
    REQUIRE(chmod((host.out / "m").c_str(), 0600) == 0);
    fs::remove(host.out / "m");
    CHECK(mask_index_test_masks(index, host.a) == Set{"f", "g"});
  }
  SUBCASE("a directory whose name looks like a deleted one's, and a path past PATH_MAX") {
    mask_index_test_dir(host.a / "x (deleted)", 0755);
    CHECK(mask_index_test_masks(index, host.a) == Set{});
    mask_index_test_file(host.a / "x (deleted)" / "key", 0600);
    CHECK(mask_index_test_masks(index, host.a) == Set{"x (deleted)/key"});
    const auto [fd, rel] = mask_index_test_deep_dirs(host.a / "x (deleted)", 'd');
    const std::string deep = "x (deleted)/" + rel;
    CHECK(mask_index_test_masks(index, host.a).count("x (deleted)/key") == 1);
    mask_index_test_private_file_at(fd, "deep-key");
    close(fd);
    const auto walks = index.stats().walks;
    CHECK(mask_index_test_masks(index, host.a).count(deep + "/deep-key") == 1);
    CHECK(index.stats().walks == walks + 1);  // that directory only
    mask_index_test_remove(host.a / "x (deleted)");
  }
  SUBCASE("a path deeper than the walk up goes (a local user's chain of short names)") {
    // 140 levels of 30 bytes: past PATH_MAX and past the 128 levels the
    // event thread walks up. It gives up and walks every directory before
    // the next boot, as for any event it cannot place: the file is masked.
    const auto [fd, rel] = mask_index_test_deep_dirs(host.a, 'c', 140, 30);
    index.snapshot();
    mask_index_test_private_file_at(fd, "deep-key");
    close(fd);
    const auto walks = index.stats().walks;
    CHECK(mask_index_test_masks(index, host.a).count(rel + "/deep-key") == 1);
    CHECK(index.stats().walks == walks + 2);  // a and b
    mask_index_test_remove(host.a / std::string(30, 'c'));
  }
  SUBCASE("a directory made next to the others is indexed, one removed is dropped") {
    mask_index_test_dir(host.tmp.path() / "c", 0755);
    mask_index_test_file(host.tmp.path() / "c" / "key", 0600);
    CHECK(mask_index_test_masks(index, host.tmp.path() / "c") == Set{"key"});
    fs::remove_all(host.tmp.path() / "c");
    CHECK(mask_index_test_masks(index, host.tmp.path() / "c") == Set{"<not listed>"});
  }
  SUBCASE("hard links a box makes in its disk and makes private cost no walk") {
    mask_index_test_file(host.state / "x", 0644);
    REQUIRE(link((host.state / "x").c_str(), (host.state / "y").c_str()) == 0);
    index.snapshot();
    const auto walks = index.stats().walks;
    for (int i = 0; i < 3; ++i) {
      REQUIRE(chmod((host.state / "x").c_str(), 0600) == 0);
      REQUIRE(chmod((host.state / "x").c_str(), 0644) == 0);
      index.snapshot();
    }
    CHECK(index.stats().walks == walks);
    mask_index_test_file(host.a / "h", 0644);  // the same on the host: walked
    REQUIRE(link((host.a / "h").c_str(), (host.out / "h").c_str()) == 0);
    index.snapshot();
    REQUIRE(chmod((host.out / "h").c_str(), 0600) == 0);
    CHECK(mask_index_test_masks(index, host.a) == Set{"h"});
    CHECK(index.stats().walks > walks);
  }
  SUBCASE("what happens outside the listed directories costs no walk") {
    index.snapshot();
    const auto walks = index.stats().walks;
    for (int i = 0; i < 20; ++i) {
      // What a box's overlay does in its work directory, and a build does.
      const fs::path a = host.out / ("a" + std::to_string(i));
      const fs::path b = host.out / ("b" + std::to_string(i));
      mask_index_test_dir(a, 0755);
      mask_index_test_dir(b, 0755);
      mask_index_test_file(a / "f", 0600);
      REQUIRE(chmod((a / "f").c_str(), 0644) == 0);
      fs::rename(b, a / "moved");
      REQUIRE(rmdir((a / "moved").c_str()) == 0);
      const int held = open(a.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      fs::remove_all(a);
      REQUIRE(fchmod(held, 0700) == 0);  // an event on a deleted directory
      close(held);
    }
    // Paths past PATH_MAX, which /proc cannot name: found by walking up.
    const auto [fd, rel] = mask_index_test_deep_dirs(host.out, 'o');
    mask_index_test_private_file_at(fd, "deep-key");
    REQUIRE(fchmodat(fd, "deep-key", 0644, 0) == 0);
    close(fd);
    CHECK(mask_index_test_masks(index, host.a) == Set{});
    CHECK(index.stats().walks == walks);
    mask_index_test_remove(host.out / std::string(200, 'o'));
  }
  SUBCASE("the server's own state is never listed nor walked") {
    mask_index_test_file(host.state / "box-secret", 0600);
    mask_index_test_dir(host.state / "boxes", 0700);
    const auto list = index.snapshot();
    CHECK(list.count(host.state.native()) == 0);
    CHECK(mask_index_test_masks(index, host.a) == Set{});
  }
}

TEST_CASE(
    "mask list: what a box's lower layer shows around mounts: covered files yes, mounted no") {
  if (!mask_index_test_can_run()) {
    return;
  }
  MaskIndexHost host;
  mask_index_test_dir(host.a / "m", 0755);
  mask_index_test_file(host.a / "m" / "under", 0600);
  const MaskIndexTestUnmount unmount{{host.a / "m", host.b}};
  if (mount("boxd-test", (host.a / "m").c_str(), "tmpfs", 0, "mode=0755") != 0) {
    MESSAGE("skipped: cannot mount a tmpfs here");
    return;
  }
  mask_index_test_file(host.a / "m" / "on-top", 0600);
  MaskIndex index(host.state, host.roots());
  // The box's lower layer is a clone of a's mount alone: it shows the
  // directory the tmpfs covers (and "under" in it), not the tmpfs.
  CHECK(mask_index_test_masks(index, host.a) == Set{"m/under"});
  mask_index_test_file(host.a / "m" / "on-top-later", 0600);
  CHECK(mask_index_test_masks(index, host.a) == Set{"m/under"});
  REQUIRE(umount2((host.a / "m").c_str(), MNT_DETACH) == 0);
  CHECK(mask_index_test_masks(index, host.a) == Set{"m/under"});
  mask_index_test_file(host.a / "m" / "after", 0600);
  CHECK(mask_index_test_masks(index, host.a) == Set{"m/after", "m/under"});
  REQUIRE(mount("boxd-test", host.b.c_str(), "tmpfs", 0, "mode=0755") == 0);
  mask_index_test_file(host.b / "on-b", 0600);
  CHECK(mask_index_test_masks(index, host.b) == Set{"on-b"});  // a directory that is a mount
  mask_index_test_file(host.b / "later", 0600);
  CHECK(mask_index_test_masks(index, host.b) == Set{"later", "on-b"});
  REQUIRE(umount2(host.b.c_str(), MNT_DETACH) == 0);
  CHECK(mask_index_test_masks(index, host.b) == Set{});
  // Another file system there (the kernel may give it the last one's device
  // number and mount id): watched anew.
  REQUIRE(mount("boxd-test", host.b.c_str(), "tmpfs", 0, "mode=0755") == 0);
  CHECK(mask_index_test_masks(index, host.b) == Set{});
  mask_index_test_file(host.b / "again", 0600);
  CHECK(mask_index_test_masks(index, host.b) == Set{"again"});
  REQUIRE(umount2(host.b.c_str(), MNT_DETACH) == 0);
  // A bind mount shows a's directory as b too: both are listed.
  mask_index_test_dir(host.a / "shared", 0755);
  mask_index_test_file(host.a / "shared" / "f", 0644);
  REQUIRE(mount((host.a / "shared").c_str(), host.b.c_str(), nullptr, MS_BIND, nullptr) == 0);
  CHECK(mask_index_test_masks(index, host.b) == Set{});
  REQUIRE(chmod((host.a / "shared" / "f").c_str(), 0600) == 0);
  CHECK(mask_index_test_masks(index, host.a).count("shared/f") == 1);
  CHECK(mask_index_test_masks(index, host.b) == Set{"f"});
  // Past PATH_MAX in the shared directory: the walk up meets b's directory
  // (the bind) before a's, and both show the file.
  const auto [fd, deep] = mask_index_test_deep_dirs(host.a / "shared", 's');
  index.snapshot();  // the directories are in; the file's event alone is past PATH_MAX
  mask_index_test_private_file_at(fd, "deep-key");
  close(fd);
  CHECK(mask_index_test_masks(index, host.b).count(deep + "/deep-key") == 1);
  CHECK(mask_index_test_masks(index, host.a).count("shared/" + deep + "/deep-key") == 1);
  REQUIRE(umount2(host.b.c_str(), MNT_DETACH) == 0);
  mask_index_test_remove(host.a / "shared" / std::string(200, 's'));
}
