// Base64 (RFC 4648): the standard alphabet with padding (exec's binary
// chunks in --json/--jsonl, MCP file contents, SSH keys) and the URL
// alphabet without padding (JWT parts), and lower-case hex (digests, random
// ids). The one implementation of each in the tree.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace boxd {

// Standard alphabet, padded to a multiple of 4.
std::string base64_encode(std::string_view data);
// Standard alphabet; the padding may be left out, but when present it is at
// most "==" and completes a multiple of 4. nullopt on any other character
// (whitespace included).
std::optional<std::string> base64_decode(std::string_view text);

// URL alphabet ('-', '_'), no padding.
std::string base64url_encode(std::string_view data);
// URL alphabet; padding accepted as for base64_decode.
std::optional<std::string> base64url_decode(std::string_view text);

// Two lower-case hex digits per byte.
std::string hex_encode(std::string_view data);

}  // namespace boxd
