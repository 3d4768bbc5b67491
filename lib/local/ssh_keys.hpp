// SSH public keys of boxd local's users, for Whoami's fingerprints.
//
// A user's keys live in <state_dir>/ssh_keys/<user> in authorized_keys
// format (one key per line: [options] type base64-blob [comment]; blank
// lines and # comments are skipped), read at every Whoami so keys can be
// added while the server runs. A fingerprint is OpenSSH's:
// "SHA256:" + base64 (no padding) of SHA-256 over the decoded key blob.
// A line whose blob does not decode, or whose blob does not start with its
// own key type (the wire format's first string), is ignored, not an error.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace boxd::local {

// The fingerprint of one authorized_keys line, or nullopt when it holds no key.
std::optional<std::string> ssh_key_fingerprint(const std::string& line);

// The fingerprints of every key in an authorized_keys text, in order.
std::vector<std::string> ssh_key_fingerprints(const std::string& text);

// <state_dir>/ssh_keys/<user>, or "" for a user name that is not a plain
// file name.
std::filesystem::path ssh_keys_file(const std::filesystem::path& state_dir,
                                    const std::string& user);

}  // namespace boxd::local
