#include "common/base64.hpp"

#include <cstdint>

namespace boxd {

namespace {

constexpr std::string_view k_standard =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::string_view k_url =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string encode(std::string_view data, std::string_view alphabet, bool pad) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    const std::uint32_t v =
        (static_cast<std::uint32_t>(static_cast<unsigned char>(data[i])) << 16U) |
        (static_cast<std::uint32_t>(static_cast<unsigned char>(data[i + 1])) << 8U) |
        static_cast<unsigned char>(data[i + 2]);
    out += alphabet[(v >> 18U) & 63U];
    out += alphabet[(v >> 12U) & 63U];
    out += alphabet[(v >> 6U) & 63U];
    out += alphabet[v & 63U];
  }
  const std::size_t rest = data.size() - i;
  if (rest == 0) {
    return out;
  }
  std::uint32_t v = static_cast<std::uint32_t>(static_cast<unsigned char>(data[i])) << 16U;
  if (rest == 2) {
    v |= static_cast<std::uint32_t>(static_cast<unsigned char>(data[i + 1])) << 8U;
  }
  out += alphabet[(v >> 18U) & 63U];
  out += alphabet[(v >> 12U) & 63U];
  if (rest == 2) {
    out += alphabet[(v >> 6U) & 63U];
  }
  if (pad) {
    out.append(rest == 2 ? 1 : 2, '=');
  }
  return out;
}

std::optional<std::string> decode(std::string_view text, std::string_view alphabet) {
  std::size_t padding = 0;
  while (!text.empty() && text.back() == '=') {
    text.remove_suffix(1);
    ++padding;
  }
  if (padding > 2 || text.size() % 4 == 1 || (padding > 0 && (text.size() + padding) % 4 != 0)) {
    return std::nullopt;
  }
  std::string out;
  out.reserve(text.size() / 4 * 3 + 2);
  std::uint32_t buffer = 0;
  int bits = 0;
  for (const char c : text) {
    const auto value = alphabet.find(c);
    if (value == std::string_view::npos) {
      return std::nullopt;
    }
    buffer = (buffer << 6U) | static_cast<std::uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> static_cast<unsigned>(bits)) & 0xFFU));
    }
  }
  return out;
}

}  // namespace

std::string base64_encode(std::string_view data) {
  return encode(data, k_standard, true);
}
std::optional<std::string> base64_decode(std::string_view text) {
  return decode(text, k_standard);
}
std::string base64url_encode(std::string_view data) {
  return encode(data, k_url, false);
}
std::optional<std::string> base64url_decode(std::string_view text) {
  return decode(text, k_url);
}

std::string hex_encode(std::string_view data) {
  static constexpr std::string_view k_hex = "0123456789abcdef";
  std::string out;
  out.reserve(data.size() * 2);
  for (const char c : data) {
    const auto b = static_cast<unsigned char>(c);
    out += k_hex[b >> 4];
    out += k_hex[b & 15];
  }
  return out;
}

}  // namespace boxd
