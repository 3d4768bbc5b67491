// Unit tests of lib/common: names, sizes, argv quoting, errors, JWT, files.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <grpcpp/support/status.h>
#include <filesystem>
#include <vector>

#include "common/error.hpp"
#include "common/files.hpp"
#include "common/jwt.hpp"
#include "common/names.hpp"
#include "common/sha256.hpp"
#include "common/shell_quote.hpp"
#include "common/sizes.hpp"

using namespace boxd;

TEST_CASE("VM names are DNS labels") {
  CHECK(is_valid_name("web"));
  CHECK(is_valid_name("a"));
  CHECK(is_valid_name("0box-1"));
  CHECK(is_valid_name(std::string(63, 'a')));
  CHECK_FALSE(is_valid_name(std::string(64, 'a')));
  CHECK_FALSE(is_valid_name(""));
  CHECK_FALSE(is_valid_name("-web"));
  CHECK_FALSE(is_valid_name("web-"));
  CHECK_FALSE(is_valid_name("Web"));
  CHECK_FALSE(is_valid_name("web_1"));
  CHECK_FALSE(is_valid_name("web.1"));
  CHECK(name_problem("web").empty());
  CHECK(name_problem("Web_1").find("'Web_1'") != std::string::npos);
}

TEST_CASE("environment variable names") {
  CHECK(is_valid_env_name("A"));
  CHECK(is_valid_env_name("_x1"));
  CHECK(is_valid_env_name("PATH"));
  CHECK_FALSE(is_valid_env_name(""));
  CHECK_FALSE(is_valid_env_name("1A"));
  CHECK_FALSE(is_valid_env_name("A-B"));
  CHECK_FALSE(is_valid_env_name("A B"));
}

TEST_CASE("sizes") {
  CHECK(parse_size("1024") == 1024U);
  CHECK(parse_size("512M") == 512ULL << 20);
  CHECK(parse_size("4G") == 4ULL << 30);
  CHECK(parse_size("4g") == 4ULL << 30);
  CHECK(parse_size("1.5G") == (3ULL << 30) / 2);
  CHECK(parse_size("10GiB") == 10ULL << 30);
  CHECK(parse_size("10GB") == 10ULL << 30);
  CHECK(parse_size("64K") == 64ULL << 10);
  CHECK(parse_size("2T") == 2ULL << 40);
  CHECK_FALSE(parse_size(""));
  CHECK_FALSE(parse_size("G"));
  CHECK_FALSE(parse_size("-1G"));
  CHECK_FALSE(parse_size("4X"));
  CHECK_FALSE(parse_size("4 G"));
  CHECK_FALSE(parse_size("1.G"));
  CHECK_FALSE(parse_size("1.5"));
  CHECK_FALSE(parse_size("99999999999999999999"));
  CHECK_FALSE(parse_size("20000000000T"));
  // Found by tests/fuzz/fuzz_sizes: the fraction of a T size overflowed
  // 64 bits (frac * 2^40) and gave a wrong, smaller size.
  CHECK(parse_size("1.999999999T") == 2199023254452ULL);
  CHECK(parse_size("0.5T") == 1ULL << 39);
  CHECK(parse_size("16777215.999999999T") == 18446744073709550516ULL);
  CHECK_FALSE(parse_size("16777216T"));
  CHECK(format_size(0) == "0B");
  CHECK(format_size(4ULL << 30) == "4GiB");
  CHECK(format_size(1536ULL << 20) == "1.5GiB");
  CHECK(format_size(512ULL << 20) == "512MiB");
}

TEST_CASE("argv quoting gives the remote program exactly this argv") {
  CHECK(shell_quote("abc") == "abc");
  CHECK(shell_quote("a/b.c=d:e@f%g+h,i-j_k") == "a/b.c=d:e@f%g+h,i-j_k");
  CHECK(shell_quote("") == "''");
  CHECK(shell_quote("a b") == "'a b'");
  CHECK(shell_quote("it's") == "'it'\"'\"'s'");
  CHECK(shell_quote("$HOME") == "'$HOME'");
  CHECK(shell_quote("*") == "'*'");
  CHECK(join_command({}).empty());
  CHECK(join_command({"ls | wc -l"}) == "ls | wc -l");  // one word: a shell string as is
  CHECK(join_command({"printf", "%s\\n", "a b", "c'd"}) == "printf '%s\\n' 'a b' 'c'\"'\"'d'");
  CHECK(join_command({"echo", ""}) == "echo ''");
}

TEST_CASE("env and workdir are applied through the command string") {
  CHECK(wrap_command("make", {}, "") == "make");
  CHECK(wrap_command("make", {{"A", "1 2"}, {"B", "x"}}, "") == "export A='1 2'; export B=x; make");
  CHECK(wrap_command("make", {}, "/src dir") == "cd '/src dir' || exit 1; make");
  CHECK(wrap_command("", {}, "").empty());
  CHECK(wrap_command("", {{"A", "1"}}, "") == "export A=1; exec \"${SHELL:-/bin/sh}\" -l");
}

TEST_CASE("gRPC status codes map to the SDK's error classes") {
  using grpc::StatusCode;
  CHECK(error_class_from_grpc(StatusCode::UNAUTHENTICATED) == ErrorClass::Authentication);
  CHECK(error_class_from_grpc(StatusCode::PERMISSION_DENIED) == ErrorClass::Authentication);
  CHECK(error_class_from_grpc(StatusCode::NOT_FOUND) == ErrorClass::NotFound);
  CHECK(error_class_from_grpc(StatusCode::INVALID_ARGUMENT) == ErrorClass::InvalidArgument);
  CHECK(error_class_from_grpc(StatusCode::ALREADY_EXISTS) == ErrorClass::InvalidArgument);
  CHECK(error_class_from_grpc(StatusCode::FAILED_PRECONDITION) == ErrorClass::InvalidArgument);
  CHECK(error_class_from_grpc(StatusCode::RESOURCE_EXHAUSTED) == ErrorClass::QuotaExceeded);
  CHECK(error_class_from_grpc(StatusCode::DEADLINE_EXCEEDED) == ErrorClass::Timeout);
  CHECK(error_class_from_grpc(StatusCode::UNAVAILABLE) == ErrorClass::Connection);
  CHECK(error_class_from_grpc(StatusCode::CANCELLED) == ErrorClass::Cancelled);
  CHECK(error_class_from_grpc(StatusCode::INTERNAL) == ErrorClass::Internal);
  CHECK(error_class_from_grpc(StatusCode::UNKNOWN) == ErrorClass::Internal);
  CHECK(error_class_from_grpc(StatusCode::UNIMPLEMENTED) == ErrorClass::Internal);
  const Error e = error_from_status(grpc::Status(StatusCode::NOT_FOUND, "VM 'web' not found"));
  CHECK(std::string(e.what()) == "VM 'web' not found");
  CHECK(e.error_class() == ErrorClass::NotFound);
  CHECK(e.grpc_code() == static_cast<int>(StatusCode::NOT_FOUND));
  CHECK(error_class_name(ErrorClass::Connection) == "ConnectionError");
}

TEST_CASE("base64url round trip") {
  for (const std::string& s : std::vector<std::string>{"", "f", "fo", "foo", "foob", "fooba",
                                                       "foobar", std::string("\xff\xfe\x00", 3)}) {
    CHECK(base64url_decode(base64url_encode(s)) == s);
  }
  CHECK(base64url_encode("\xfb\xff") == "-_8");
  CHECK_FALSE(base64url_decode("a+b/"));
  CHECK_FALSE(base64url_decode("abcde"));
}

TEST_CASE("JWT sign and verify") {
  JwtClaims claims{"alice", "j1", 1000, 4600};
  const std::string token = jwt_sign(claims, "secret");
  auto ok = jwt_verify(token, "secret");
  REQUIRE(ok);
  CHECK(ok->subject == "alice");
  CHECK(ok->jti == "j1");
  CHECK(ok->issued_at == 1000);
  CHECK(ok->expires_at == 4600);
  CHECK_FALSE(jwt_verify(token, "other-secret"));
  // A tampered payload fails the MAC.
  const auto dot1 = token.find('.');
  const auto dot2 = token.find('.', dot1 + 1);
  std::string forged_payload =
      base64url_encode(R"({"sub":"bob","jti":"j1","iat":1000,"exp":4600})");
  std::string forged = token.substr(0, dot1 + 1) + forged_payload + token.substr(dot2);
  CHECK_FALSE(jwt_verify(forged, "secret"));
  // alg "none" is refused even with an empty signature.
  std::string none = base64url_encode(R"({"alg":"none"})") + "." + forged_payload + ".";
  CHECK_FALSE(jwt_verify(none, "secret"));
  CHECK_FALSE(jwt_verify("garbage", "secret"));
  // Found by tests/fuzz/fuzz_jwt: an "alg" that is not a string threw
  // nlohmann::json::type_error out of jwt_verify (every RPC's first step).
  for (const char* header : {R"({"alg":1})", R"({"alg":["HS256"]})", R"({"alg":null})", "{}"}) {
    const std::string input = base64url_encode(header) + "." + forged_payload;
    CHECK_NOTHROW(CHECK_FALSE(jwt_verify(input + ".", "secret")));
    CHECK_NOTHROW(CHECK_FALSE(jwt_verify(input + "." + base64url_encode(input), "secret")));
  }
  CHECK_FALSE(jwt_verify("a.b.c.d", "secret"));
  auto unverified = jwt_decode_unverified(forged);
  REQUIRE(unverified);
  CHECK(unverified->subject == "bob");
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(random_hex(8).size() == 16);
  CHECK(random_hex(8) != random_hex(8));
}

TEST_CASE("a durable batch replaces its files only when committed") {
  const auto dir = std::filesystem::temp_directory_path() / ("boxd-unit-" + random_hex(4));
  ensure_dir(dir / "sub", 0700);
  const auto count_entries = [](const std::filesystem::path& d) {
    int n = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(d)) {
      ++n;
    }
    return n;
  };
  write_file_atomic(dir / "passwd", "old", 0644);
  {
    boxd::DurableFiles abandoned;
    abandoned.add(dir / "passwd", "never", 0644);
    abandoned.add(dir / "sub" / "group", "never", 0644);
    CHECK(read_file(dir / "passwd") == "old");
  }
  CHECK(read_file(dir / "passwd") == "old");
  CHECK(count_entries(dir) == 2);  // passwd, sub: the temp files went with the batch
  CHECK(count_entries(dir / "sub") == 0);

  const bool root = ::geteuid() == 0;
  boxd::DurableFiles files;
  files.add(dir / "passwd", "new", 0644);
  files.add(dir / "sub" / "group", "g", 0440, root ? 12345 : -1, root ? 12345 : -1);
  files.add(dir / "sub" / "tool", "#!", 04755, root ? 12345 : -1, -1);
  CHECK(read_file(dir / "passwd") == "old");
  CHECK_FALSE(read_file(dir / "sub" / "group"));
  files.commit();
  CHECK(read_file(dir / "passwd") == "new");
  CHECK(read_file(dir / "sub" / "group") == "g");
  struct stat st {};
  REQUIRE(::stat((dir / "sub" / "group").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0440);
  REQUIRE(::stat((dir / "sub" / "tool").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 04755);  // the owner change did not clear set-user-ID
  if (root) {
    CHECK(st.st_uid == 12345U);
    REQUIRE(::stat((dir / "sub" / "group").c_str(), &st) == 0);
    CHECK(st.st_gid == 12345U);
  }
  CHECK(count_entries(dir) == 2);
  CHECK(count_entries(dir / "sub") == 2);

  // keep(): a file already in place joins the batch; it is neither
  // rewritten nor removed, also when the batch is abandoned.
  write_file_atomic(dir / "sub" / "owner", "kept", 0600, boxd::Sync::None);
  {
    boxd::DurableFiles abandoned;
    abandoned.keep(dir / "sub" / "owner");
  }
  CHECK(read_file(dir / "sub" / "owner") == "kept");
  boxd::DurableFiles with_kept;
  with_kept.keep(dir / "sub" / "owner");
  with_kept.add(dir / "passwd", "newer", 0644);
  with_kept.commit();
  CHECK(read_file(dir / "sub" / "owner") == "kept");
  CHECK(read_file(dir / "passwd") == "newer");
  CHECK(count_entries(dir / "sub") == 3);

  boxd::DurableFiles failing;
  CHECK_THROWS_AS(failing.add(dir / "missing" / "x", "x", 0644), boxd::Error);
  CHECK_THROWS_AS(failing.keep(dir / "missing"), boxd::Error);
  std::filesystem::remove_all(dir);
}

TEST_CASE("atomic writes set the mode and replace the content") {
  const auto dir = std::filesystem::temp_directory_path() / ("boxd-unit-" + random_hex(4));
  ensure_dir(dir, 0700);
  struct stat st {};
  REQUIRE(::stat(dir.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
  const auto file = dir / "credentials.json";
  CHECK_FALSE(read_file(file));
  write_file_atomic(file, "one", 0600);
  write_file_atomic(file, "two", 0600);
  CHECK(read_file(file) == "two");
  write_file_atomic(file, "three", 0600, boxd::Sync::None);  // the same, without fsync
  CHECK(read_file(file) == "three");
  REQUIRE(::stat(file.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  // No temp files left behind.
  int entries = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) {
    ++entries;
  }
  CHECK(entries == 1);
  std::filesystem::remove_all(dir);
}
