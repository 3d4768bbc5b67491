// lib/common/sha256: the FIPS 180-4 examples, every padding length around
// the block boundary, split updates, and agreement with OpenSSL's SHA256
// on pseudo-random inputs of every length up to 300 bytes.
#include <doctest/doctest.h>
#include <openssl/sha.h>

#include <random>
#include <string>

#include "common/sha256.hpp"

namespace {

std::string openssl_hex(const std::string& data) {
  std::array<unsigned char, SHA256_DIGEST_LENGTH> digest{};
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest.data());
  static constexpr std::string_view k_hex = "0123456789abcdef";
  std::string out;
  for (const unsigned char b : digest) {
    out += k_hex[b >> 4];
    out += k_hex[b & 15];
  }
  return out;
}

}  // namespace

TEST_CASE("sha256: the FIPS 180-4 examples") {
  CHECK(boxd::sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(boxd::sha256_hex("abc") ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(boxd::sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  CHECK(boxd::sha256_hex(std::string(1000000, 'a')) ==
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("sha256: agrees with OpenSSL for every length 0-300, whole and in pieces") {
  std::mt19937 random(42);
  for (std::size_t length = 0; length <= 300; ++length) {
    std::string data(length, '\0');
    for (char& c : data) {
      c = static_cast<char>(random() & 0xff);
    }
    const std::string expected = openssl_hex(data);
    CAPTURE(length);
    CHECK(boxd::sha256_hex(data) == expected);
    // The same bytes fed in uneven pieces.
    boxd::Sha256 hash;
    for (std::size_t at = 0; at < length;) {
      const std::size_t piece = std::min<std::size_t>(1 + (random() % 70), length - at);
      hash.update(std::string_view(data).substr(at, piece));
      at += piece;
    }
    const auto digest = hash.digest();
    std::string hex;
    for (const auto b : digest) {
      hex += "0123456789abcdef"[b >> 4];
      hex += "0123456789abcdef"[b & 15];
    }
    CHECK(hex == expected);
  }
}
