#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "boxd/secret_args.hpp"

using boxd::cli::take_secret_arguments;

namespace {

// A writable argv over the given words (as the kernel lays it out: one
// buffer, NUL-separated), and what it reads as after the call.
struct Argv {
  std::string buffer;
  std::vector<char*> pointers;
  explicit Argv(const std::vector<std::string>& words) {
    for (const auto& w : words) {
      buffer += w;
      buffer.push_back('\0');
    }
    std::size_t at = 0;
    for (const auto& w : words) {
      pointers.push_back(buffer.data() + at);
      at += w.size() + 1;
    }
  }
  int argc() const { return static_cast<int>(pointers.size()); }
  std::vector<std::string> now() const { return {pointers.begin(), pointers.end()}; }
};

}  // namespace

TEST_CASE("secret arguments: wiped in argv, kept in the copies the parser gets") {
  const std::vector<std::string> words = {"boxd",
                                          "local",
                                          "serve",
                                          "--api-key",
                                          "bxd_alice123=alice",
                                          "--api-key=bxd_bob456=bob",
                                          "--state-dir",
                                          "/tmp/s",
                                          "--token",
                                          "eyJ.payload.sig",
                                          "--token=eyJ.other.sig",
                                          "--api-key",
                                          "plainkey"};
  Argv argv(words);
  const auto copies = take_secret_arguments(argv.argc(), argv.pointers.data());
  CHECK(copies == words);
  CHECK(argv.now() == std::vector<std::string>{
                          "boxd", "local", "serve", "--api-key", "************=alice",
                          "--api-key=**********=bob", "--state-dir", "/tmp/s", "--token",
                          "***************", "--token=*************", "--api-key", "********"});
  CHECK(argv.buffer.find("bxd_") == std::string::npos);
  CHECK(argv.buffer.find("eyJ") == std::string::npos);
}

TEST_CASE("secret arguments: a command's own arguments and look-alikes stay") {
  const std::vector<std::string> words = {"boxd",        "box",       "exec",       "vm",
                                          "--token-ttl", "5",         "--api-keys", "x",
                                          "--",          "--api-key", "mine",       "--token"};
  Argv argv(words);
  CHECK(take_secret_arguments(argv.argc(), argv.pointers.data()) == words);
  CHECK(argv.now() == words);
  // A flag at the end with no value: nothing to wipe, nothing read past argv.
  Argv last({"boxd", "--api-key"});
  CHECK(take_secret_arguments(last.argc(), last.pointers.data()) ==
        std::vector<std::string>{"boxd", "--api-key"});
}
