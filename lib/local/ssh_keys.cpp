#include "local/ssh_keys.hpp"

#include <openssl/sha.h>

#include <sstream>
#include <string_view>

#include "common/base64.hpp"

namespace boxd::local {

namespace {

bool is_key_type(const std::string& word) {
  return word.starts_with("ssh-") || word.starts_with("ecdsa-sha2-") ||
         word.starts_with("sk-ssh-") || word.starts_with("sk-ecdsa-");
}

// A key's blob: padded standard base64, as authorized_keys writes it.
std::optional<std::string> key_blob(const std::string& text) {
  if (text.empty() || text.size() % 4 != 0) {
    return std::nullopt;
  }
  return base64_decode(text);
}

// OpenSSH's fingerprint spelling: base64 without the padding.
std::string base64_no_padding(const unsigned char* data, std::size_t size) {
  std::string out = base64_encode(std::string_view(reinterpret_cast<const char*>(data), size));
  while (!out.empty() && out.back() == '=') {
    out.pop_back();
  }
  return out;
}

}  // namespace

std::optional<std::string> ssh_key_fingerprint(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> words;
  for (std::string word; in >> word;) {
    words.push_back(word);
  }
  if (words.empty() || words.front().starts_with("#")) {
    return std::nullopt;
  }
  for (std::size_t i = 0; i + 1 < words.size(); ++i) {
    if (!is_key_type(words[i])) {
      continue;
    }
    const auto blob = key_blob(words[i + 1]);
    if (!blob || blob->size() < 4) {
      return std::nullopt;
    }
    const auto* b = reinterpret_cast<const unsigned char*>(blob->data());
    const std::size_t type_len = (std::size_t{b[0]} << 24) | (std::size_t{b[1]} << 16) |
                                 (std::size_t{b[2]} << 8) | std::size_t{b[3]};
    if (type_len > blob->size() - 4 || blob->compare(4, type_len, words[i]) != 0) {
      return std::nullopt;
    }
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(b, blob->size(), digest);
    return "SHA256:" + base64_no_padding(digest, sizeof digest);
  }
  return std::nullopt;
}

std::vector<std::string> ssh_key_fingerprints(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (auto fp = ssh_key_fingerprint(line)) {
      out.push_back(*fp);
    }
  }
  return out;
}

std::filesystem::path ssh_keys_file(const std::filesystem::path& state_dir,
                                    const std::string& user) {
  if (user.empty() || user == "." || user == ".." || user.find('/') != std::string::npos) {
    return {};
  }
  return state_dir / "ssh_keys" / user;
}

}  // namespace boxd::local
