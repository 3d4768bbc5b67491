// lib/common/fd.hpp and base64.hpp: the shared descriptor and encoding helpers.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include "common/base64.hpp"
#include "common/fd.hpp"

using namespace boxd;

namespace {

bool is_open(int fd) {
  return ::fcntl(fd, F_GETFD) != -1;
}

}  // namespace

TEST_CASE("UniqueFd closes once, moves ownership") {
  Pipe pipe;
  const int r = pipe.read_fd();
  UniqueFd moved = std::move(pipe.read_end());
  CHECK(moved.get() == r);
  CHECK_FALSE(pipe.read_end().valid());
  UniqueFd other;
  other = std::move(moved);
  CHECK(other.get() == r);
  CHECK(is_open(r));
  other.reset();
  CHECK_FALSE(is_open(r));
  const int w = pipe.write_fd();
  const int released = pipe.write_end().release();
  CHECK(released == w);
  CHECK(is_open(w));
  ::close(w);
}

TEST_CASE("Pipe: both ends close with it; notify and drain") {
  int r = -1;
  int w = -1;
  {
    Pipe pipe(O_CLOEXEC | O_NONBLOCK);
    r = pipe.read_fd();
    w = pipe.write_fd();
    CHECK((::fcntl(r, F_GETFD) & FD_CLOEXEC) != 0);
    CHECK((::fcntl(r, F_GETFL) & O_NONBLOCK) != 0);
    pipe.notify('x');
    pipe.notify('y');
    char byte = 0;
    CHECK(::read(r, &byte, 1) == 1);
    CHECK(byte == 'x');
    pipe.drain();
    CHECK(::read(r, &byte, 1) == -1);
  }
  CHECK_FALSE(is_open(r));
  CHECK_FALSE(is_open(w));
}

TEST_CASE("write_all and read_all move every byte across partial transfers") {
  Pipe pipe;
  std::string data(1 << 20, '\0');
  for (std::size_t i = 0; i < data.size(); ++i) {
    data[i] = static_cast<char>(i * 7);
  }
  std::string got(data.size(), '\0');
  std::thread reader([&] { CHECK(read_all(pipe.read_fd(), got.data(), got.size())); });
  CHECK(write_all(pipe.write_fd(), data));
  reader.join();
  CHECK(got == data);
  // End of file before the count is a failure, not a short success.
  CHECK(write_all(pipe.write_fd(), "ab", 2));
  pipe.write_end().reset();
  char buffer[3];
  CHECK_FALSE(read_all(pipe.read_fd(), buffer, 3));
  // A closed reader is EPIPE (SIGPIPE ignored here), not a hang.
  Pipe closed;
  closed.read_end().reset();
  struct sigaction ignore {};
  struct sigaction previous {};
  ignore.sa_handler = SIG_IGN;
  ::sigaction(SIGPIPE, &ignore, &previous);
  CHECK_FALSE(write_all(closed.write_fd(), "x"));
  ::sigaction(SIGPIPE, &previous, nullptr);
}

TEST_CASE("SignalPipe turns signals into bytes and restores the handlers") {
  struct sigaction before {};
  ::sigaction(SIGUSR1, nullptr, &before);
  {
    SignalPipe signals({SIGUSR1, SIGUSR2});
    CHECK(signals.take() == 0);
    ::raise(SIGUSR2);
    ::raise(SIGUSR1);
    CHECK(signals.take() == SIGUSR2);
    CHECK(signals.take() == SIGUSR1);
    CHECK(signals.take() == 0);
    signals.notify('w');
    CHECK(signals.take() == 'w');
    {
      // The newest owner gets the signal; the older one again once it ends.
      SignalPipe inner({SIGUSR1});
      ::raise(SIGUSR1);
      CHECK(inner.take() == SIGUSR1);
      CHECK(signals.take() == 0);
    }
  }
  struct sigaction after {};
  ::sigaction(SIGUSR1, nullptr, &after);
  CHECK(reinterpret_cast<void*>(after.sa_handler) == reinterpret_cast<void*>(before.sa_handler));
}

TEST_CASE("base64: RFC 4648 vectors, both alphabets, strict decoding") {
  const std::vector<std::pair<std::string, std::string>> vectors = {{"", ""},
                                                                    {"f", "Zg=="},
                                                                    {"fo", "Zm8="},
                                                                    {"foo", "Zm9v"},
                                                                    {"foob", "Zm9vYg=="},
                                                                    {"fooba", "Zm9vYmE="},
                                                                    {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors) {
    CHECK(base64_encode(plain) == encoded);
    CHECK(base64_decode(encoded) == plain);
    std::string unpadded = encoded;
    while (!unpadded.empty() && unpadded.back() == '=') {
      unpadded.pop_back();
    }
    CHECK(base64_decode(unpadded) == plain);
    CHECK(base64url_encode(plain) == unpadded);
  }
  const std::string binary("\xfb\xff\x00\x10", 4);
  CHECK(base64_encode(binary) == "+/8AEA==");
  CHECK(base64url_encode(binary) == "-_8AEA");
  CHECK(base64url_decode("-_8AEA") == binary);
  CHECK_FALSE(base64_decode("-_8AEA"));
  CHECK_FALSE(base64url_decode("+/8AEA"));
  CHECK_FALSE(base64_decode("Zm9v\n"));
  CHECK_FALSE(base64_decode("Zg==="));
  CHECK_FALSE(base64_decode("Zm9=="));  // padding that does not complete a quantum
  CHECK_FALSE(base64_decode("Z"));
  CHECK_FALSE(base64_decode("Zm=9"));
}
