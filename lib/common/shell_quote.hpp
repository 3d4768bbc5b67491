// How argv becomes the one command string the server runs with /bin/sh -c.
#pragma once
#include <string>
#include <utility>
#include <vector>

namespace boxd {
// POSIX single-quoting where needed: words of [A-Za-z0-9_\-./=:@%+,] stay
// bare, everything else is wrapped in '...' with ' written as '"'"'.
std::string shell_quote(const std::string& word);
// One word is sent as is (it is already a shell command string); several
// words are each quoted and joined with spaces, so the remote program gets
// exactly that argv. An empty argv gives "" (meaning: a login shell).
std::string join_command(const std::vector<std::string>& argv);
// Prefixes the command with `export K='V'; ` for each env pair and
// `cd 'DIR' || exit 1; ` for a working directory. Env names must already be valid.
std::string wrap_command(const std::string& command,
                         const std::vector<std::pair<std::string, std::string>>& env,
                         const std::string& workdir);
}  // namespace boxd
