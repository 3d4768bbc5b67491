// SHA-256 (FIPS 180-4) in plain C++, for the places that hash a few bytes
// on every command (the token cache's file name, the server's API key
// digests). OpenSSL's SHA256() costs 1.5-2 ms on its first call in a
// process (OpenSSL 3 loads its config and builds its algorithm tables),
// which is a tenth of a whole `boxd box exec`; this costs microseconds.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace boxd {

using Sha256Digest = std::array<std::uint8_t, 32>;

// Incremental: update() any number of times, then digest() once.
class Sha256 {
 public:
  Sha256();
  void update(std::string_view data);
  Sha256Digest digest();

 private:
  void block(const std::uint8_t* data);

  std::array<std::uint32_t, 8> m_state{};
  std::array<std::uint8_t, 64> m_buffer{};
  std::size_t m_buffered = 0;
  std::uint64_t m_length = 0;  // bytes so far
};

Sha256Digest sha256(std::string_view data);
// Lower-case hex of sha256(data).
std::string sha256_hex(std::string_view data);

}  // namespace boxd
