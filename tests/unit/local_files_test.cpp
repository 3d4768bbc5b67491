// The domain layer's file and log rules (files.hpp) on the in-memory
// runtime (fake_runtime.hpp): which box and path a call reaches, and what
// the server makes of the file helper's replies. The helper is scripted:
// its frames (box_file.hpp) are written up front, and what the server sent
// it is kept for the test to read.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/fd.hpp"
#include "fake_runtime.hpp"
#include "local/box_file.hpp"
#include "local/box_file_wire.hpp"
#include "local/boxes.hpp"
#include "local/fault.hpp"
#include "local/files.hpp"
#include "local/store.hpp"
#include "local_fault_support.hpp"
#include "local_test_support.hpp"

using namespace boxd::local;
using boxd::local::test::failure_of;

namespace {

// One frame of the helper's protocol.
std::string frame(char type, const std::string& payload = {}) {
  std::string out(1, type);
  box_file::put_u32(out, static_cast<std::uint32_t>(payload.size()));
  return out + payload;
}

std::string u64(std::uint64_t value) {
  std::string out;
  box_file::put_u64(out, value);
  return out;
}

// A file helper that sends `replies` and then EOF; what the server writes to
// its stdin is read as it comes (so a frame larger than the pipe fits) and
// lands in `*received` when the server lets it go.
class ScriptedHelper final : public ExecProcess {
 public:
  ScriptedHelper(const std::string& replies, std::shared_ptr<std::string> received)
      : m_received(std::move(received)) {
    boxd::Pipe out;
    REQUIRE(boxd::write_all(out.write_fd(), replies));
    m_stdout = std::move(out.read_end());
    boxd::Pipe in;
    m_stdin = std::move(in.write_end());
    m_reader = std::thread([this, read_end = std::move(in.read_end())] {
      std::string buffer(64 * 1024, '\0');
      ssize_t n = 0;
      while ((n = ::read(read_end.get(), buffer.data(), buffer.size())) > 0) {
        m_read.append(buffer, 0, static_cast<std::size_t>(n));
      }
    });
  }
  ~ScriptedHelper() override {
    m_stdin.reset();
    if (m_reader.joinable()) {
      m_reader.join();
    }
  }
  int stdin_fd() const override { return m_stdin.get(); }
  int stdout_fd() const override { return m_stdout.get(); }
  int stderr_fd() const override { return -1; }
  void close_stdin() override {
    m_stdin.reset();
    if (m_reader.joinable()) {
      m_reader.join();
      m_received->append(m_read);
    }
  }
  void resize(unsigned /*cols*/, unsigned /*rows*/) override {}
  void kill_group(int /*signal*/) override {}
  std::optional<ExitStatus> poll_exit() override { return ExitStatus{}; }
  ExitStatus wait_exit() override { return ExitStatus{}; }
  int exit_fd() const override { return -1; }

 private:
  std::shared_ptr<std::string> m_received;
  boxd::UniqueFd m_stdout;
  boxd::UniqueFd m_stdin;
  std::string m_read;
  std::thread m_reader;  // drains stdin into m_read until EOF
};

struct FileWorld {
  test::TempDir dir;
  Store store{dir.path()};
  test::FakeRuntime runtime;
  Boxes boxes{BoxesOptions{dir.path(), 50, 2048}, store, runtime};
  Files files{store, boxes};
  std::shared_ptr<std::string> received = std::make_shared<std::string>();
  CancelledFn not_cancelled = [] { return false; };

  FileWorld() {
    create_box("alice", "web");
    create_box("bob", "api");
  }

  void create_box(const std::string& user, const std::string& name) {
    BoxRecord box = boxes.draft(user, BoxDraft{name, {}, {}, {}, {}});
    boxes.create(box);
  }

  // The helper started next answers with `replies`.
  void script(const std::string& replies) {
    runtime.self_process = [this, replies](const std::vector<std::string>&) {
      return std::make_unique<ScriptedHelper>(replies, received);
    };
  }

  // The operation and path of the last helper started ("list /home/boxd").
  std::string last_helper() const {
    REQUIRE_FALSE(runtime.self_runs.empty());
    const auto& args = runtime.self_runs.back();
    REQUIRE(args.size() == 5);
    return args[2] + " " + args[4];
  }

  DirListing list(const std::string& path) {
    return files.list("alice", {"web", path}, not_cancelled);
  }
};

// The chunks of a download_stream, with the size each came with.
struct Collected {
  std::vector<std::string> chunks;
  std::vector<std::uint64_t> sizes;
};

}  // namespace

TEST_CASE("files: another user's box is NOT_FOUND, and no helper starts") {
  FileWorld w;
  w.script(frame('O', std::string(1, '\0')));
  const auto not_found = std::pair{Fault::NotFound, std::string("VM 'api' not found")};
  CHECK(failure_of([&] { w.files.list("alice", {"api", "~"}, w.not_cancelled); }) == not_found);
  CHECK(failure_of([&] { w.files.download("alice", {"api", "x"}, w.not_cancelled); }) == not_found);
  CHECK(failure_of([&] {
          w.files.upload(
              "alice", {"api", "x"}, 0, [](ChunkPieces&) { return false; }, w.not_cancelled);
        }) == not_found);
  CHECK(failure_of([&] {
          w.files.stream_logs(
              "alice", "api", false, [](std::string&) { return true; }, w.not_cancelled);
        }) == not_found);
  CHECK(w.runtime.self_runs.empty());
}

TEST_CASE("files: a stopped or suspended box is FAILED_PRECONDITION 'VM NAME is STATUS'") {
  FileWorld w;
  w.script(frame('O', std::string(1, '\0')));
  w.boxes.suspend("alice", "web");
  CHECK(failure_of([&] { w.list("~"); }) ==
        std::pair{Fault::FailedPrecondition, std::string("VM 'web' is suspended")});
  w.boxes.stop("alice", "web");
  CHECK(failure_of([&] {
          w.files.download("alice", {"web", "x"}, w.not_cancelled);
        }) == std::pair{Fault::FailedPrecondition, std::string("VM 'web' is stopped")});
  CHECK(w.runtime.self_runs.empty());
}

TEST_CASE("files: paths reach the helper absolute and normalised; '..' above '/' never does") {
  FileWorld w;
  w.script(frame('O', std::string(1, '\0')));
  w.list("");
  CHECK(w.last_helper() == "list /home/boxd");
  w.list("src//app/../lib/.");
  CHECK(w.last_helper() == "list /home/boxd/src/lib");
  w.list("//etc/");
  CHECK(w.last_helper() == "list /etc");
  const auto runs = w.runtime.self_runs.size();
  CHECK(failure_of([&] { w.list("../../../etc"); }) ==
        std::pair{Fault::InvalidArgument, std::string("path '../../../etc' is outside the box")});
  CHECK(failure_of([&] {
          w.files.upload(
              "alice", {"web", "/tmp/../.."}, 0, [](ChunkPieces&) { return false; },
              w.not_cancelled);
        }).first == Fault::InvalidArgument);
  CHECK(failure_of([&] {
          w.files.upload(
              "alice", {"web", "/tmp/.."}, 0, [](ChunkPieces&) { return false; }, w.not_cancelled);
        }) == std::pair{Fault::FailedPrecondition, std::string("'/' is a directory in VM 'web'")});
  CHECK(w.runtime.self_runs.size() == runs);
}

TEST_CASE("files: a listing is sorted by name with ls-style permissions and the truncated flag") {
  FileWorld w;
  const auto entry = [](std::uint32_t mode, std::uint64_t size, const std::string& name) {
    return frame('N', box_file::encode_entry({mode, size, 1700000000, name}));
  };
  w.script(entry(0100644, 12, "b.txt") + entry(040755, 4096, "a") + entry(0104755, 1, "su") +
           frame('O', std::string(1, '\1')));
  const auto listing = w.list("~");
  REQUIRE(listing.entries.size() == 3);
  CHECK(listing.truncated);
  CHECK(listing.entries[0].name == "a");
  CHECK(listing.entries[0].is_dir);
  CHECK(listing.entries[0].permissions == "drwxr-xr-x");
  CHECK(listing.entries[1].name == "b.txt");
  CHECK(listing.entries[1].size_bytes == 12);
  CHECK(listing.entries[1].permissions == "-rw-r--r--");
  CHECK(listing.entries[1].modified_at == 1700000000);
  CHECK(listing.entries[2].permissions == "-rwsr-xr-x");
}

TEST_CASE("files: the helper's failures become faults that name the box path") {
  FileWorld w;
  w.script(frame('E', box_file::encode_failure(box_file::Reason::Open, ENOENT)));
  CHECK(failure_of([&] {
          w.files.download("alice", {"web", "nope"}, w.not_cancelled);
        }) == std::pair{Fault::NotFound, std::string("'/home/boxd/nope' not found in VM 'web'")});
  w.script(frame('E', box_file::encode_failure(box_file::Reason::Open, EACCES)));
  CHECK(failure_of([&] {
          w.files.download("alice", {"web", "/root/x"}, w.not_cancelled);
        }).first == Fault::PermissionDenied);
  w.script(frame('E', box_file::encode_failure(box_file::Reason::Open, ENOTDIR)));
  CHECK(failure_of([&] { w.list("f.txt"); }) ==
        std::pair{Fault::FailedPrecondition,
                  std::string("'/home/boxd/f.txt' is not a directory in VM 'web'")});
  w.script(frame('E', box_file::encode_failure(box_file::Reason::OpenParent, ENOENT)));
  CHECK(failure_of([&] {
          w.files.upload(
              "alice", {"web", "no/dir/f"}, 0, [](ChunkPieces&) { return false; }, w.not_cancelled);
        }) == std::pair{Fault::NotFound,
                        std::string("directory '/home/boxd/no/dir' does not exist in VM 'web'")});
  w.script(frame('X'));
  CHECK(failure_of([&] { w.list("~"); }) ==
        std::pair{Fault::Internal,
                  std::string("the file helper in the box sent an unexpected reply")});
}

TEST_CASE("files: a download comes in chunks with its size; an empty file is one empty chunk") {
  FileWorld w;
  w.script(frame('S', u64(11)) + frame('D', "hello ") + frame('D', "world") + frame('O'));
  Collected got;
  w.files.download_stream(
      "alice", {"web", "f"},
      [&](std::string& data, std::uint64_t size) {
        got.chunks.push_back(data);
        got.sizes.push_back(size);
        return true;
      },
      w.not_cancelled);
  CHECK(got.chunks == std::vector<std::string>{"hello ", "world"});
  CHECK(got.sizes == std::vector<std::uint64_t>{11, 11});
  CHECK(w.last_helper() == "download /home/boxd/f");

  w.script(frame('S', u64(0)) + frame('O'));
  Collected empty;
  w.files.download_stream(
      "alice", {"web", "empty"},
      [&](std::string& data, std::uint64_t size) {
        empty.chunks.push_back(data);
        empty.sizes.push_back(size);
        return true;
      },
      w.not_cancelled);
  CHECK(empty.chunks == std::vector<std::string>{""});
  CHECK(empty.sizes == std::vector<std::uint64_t>{0});

  w.script(frame('S', u64(3)) + frame('D', "abc") + frame('O'));
  CHECK(failure_of([&] {
          w.files.download_stream(
              "alice", {"web", "f"}, [](std::string&, std::uint64_t) { return false; },
              w.not_cancelled);
        }) == std::pair{Fault::Cancelled, std::string("download cancelled")});
}

TEST_CASE("files: a download may not send more than its size; a unary one stops at 8 MiB") {
  FileWorld w;
  w.script(frame('S', u64(3)) + frame('D', "abcd") + frame('O'));
  CHECK(failure_of([&] {
          w.files.download("alice", {"web", "f"}, w.not_cancelled);
        }).first == Fault::Internal);
  w.script(frame('S', u64(9ULL << 20)));
  CHECK(failure_of([&] {
          w.files.download("alice", {"web", "big"}, w.not_cancelled);
        }) ==
        std::pair{Fault::FailedPrecondition,
                  std::string("'/home/boxd/big' is larger than 8 MiB: use DownloadFileStream")});
  w.script(frame('S', u64(5)) + frame('D', "12345") + frame('O'));
  CHECK(w.files.download("alice", {"web", "f"}, w.not_cancelled) == "12345");
}

TEST_CASE("files: an upload sends its chunks and commits exactly total_size bytes") {
  FileWorld w;
  w.script(frame('R') + frame('O', u64(8)));
  std::vector<std::string> chunks{"abcd", "efgh"};
  std::size_t next = 0;
  const auto written = w.files.upload(
      "alice", {"web", "~/f.txt"}, 8,
      [&](ChunkPieces& data) {
        if (next == chunks.size()) {
          return false;
        }
        data.assign(1, chunks[next++]);
        return true;
      },
      w.not_cancelled);
  CHECK(written == 8);
  CHECK(w.last_helper() == "upload /home/boxd/f.txt");
  // After its answer the helper is waited for on a thread of its own.
  REQUIRE(wait_for_released_helpers(std::chrono::seconds(5)));
  CHECK(*w.received == frame('D', "abcd") + frame('D', "efgh") + frame('C', u64(8)));
}

TEST_CASE("files: a chunk in pieces goes out as whole frames of at most 1 MiB, in order") {
  FileWorld w;
  // One chunk of 1 MiB + 3 bytes in pieces of 1000 bytes and a last short
  // one (a message as gRPC received it), then a chunk of two small pieces.
  const std::size_t size = box_file::k_chunk_bytes + 3;
  std::string big(size, '\0');
  for (std::size_t i = 0; i < size; ++i) {
    big[i] = static_cast<char>('a' + i % 26);
  }
  std::vector<ChunkPieces> chunks(2);
  for (std::size_t at = 0; at < size; at += 1000) {
    chunks[0].push_back(std::string_view(big).substr(at, 1000));
  }
  chunks[1] = {"xy", "z"};
  w.script(frame('R') + frame('O', u64(size + 3)));
  std::size_t next = 0;
  const auto written = w.files.upload(
      "alice", {"web", "f"}, size + 3,
      [&](ChunkPieces& data) {
        if (next == chunks.size()) {
          return false;
        }
        data = chunks[next++];
        return true;
      },
      w.not_cancelled);
  CHECK(written == size + 3);
  REQUIRE(wait_for_released_helpers(std::chrono::seconds(5)));
  CHECK(*w.received == frame('D', big.substr(0, box_file::k_chunk_bytes)) +
                           frame('D', big.substr(box_file::k_chunk_bytes)) + frame('D', "xyz") +
                           frame('C', u64(size + 3)));
}

TEST_CASE("files: a short, long or cancelled upload fails and never commits") {
  FileWorld w;
  const auto once = [](const std::string& text) {
    return [text, sent = false](ChunkPieces& data) mutable {
      if (sent) {
        return false;
      }
      sent = true;
      data.assign(1, text);
      return true;
    };
  };
  w.script(frame('R'));
  CHECK(failure_of([&] {
          w.files.upload("alice", {"web", "f"}, 5, once("abc"), w.not_cancelled);
        }) == std::pair{Fault::InvalidArgument,
                        std::string("upload of '/home/boxd/f' ended after 3 of 5 bytes; "
                                    "nothing written")});
  CHECK(*w.received == frame('D', "abc"));
  w.received->clear();
  w.script(frame('R'));
  CHECK(failure_of([&] {
          w.files.upload("alice", {"web", "f"}, 2, once("abc"), w.not_cancelled);
        }) == std::pair{Fault::InvalidArgument,
                        std::string("upload of '/home/boxd/f' is longer than its total_size 2")});
  CHECK(w.received->empty());
  w.script(frame('R'));
  bool cancelled = false;
  CHECK(failure_of([&] {
          w.files.upload(
              "alice", {"web", "f"}, 3,
              [&, feed = once("abc")](ChunkPieces& data) mutable {
                const bool more = feed(data);
                cancelled = !more;  // the client went away after its data
                return more;
              },
              [&] { return cancelled; });
        }) == std::pair{Fault::Cancelled, std::string("upload cancelled; nothing written")});
  CHECK(w.received->find('C') == std::string::npos);
}

TEST_CASE("files: the console log is read for any box of the caller, running or not") {
  FileWorld w;
  const auto box = w.boxes.require("alice", "web");
  const auto dir = w.boxes.spec_of(box).dir;
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "console.log") << "booted\n";
  w.boxes.stop("alice", "web");
  std::string log;
  w.files.stream_logs(
      "alice", "web", true,
      [&](std::string& data) {
        log += data;
        return true;
      },
      w.not_cancelled);
  CHECK(log == "booted\n");  // follow ends: the box is stopped
  CHECK(failure_of([&] {
          w.files.stream_logs(
              "bob", "web", false, [](std::string&) { return true; }, w.not_cancelled);
        }) == std::pair{Fault::NotFound, std::string("VM 'web' not found")});
}
