// Secrets given on the command line (`--api-key`, `--token`) are wiped from
// the process's own argv as soon as it starts: /proc/<pid>/cmdline shows
// that memory to every local user, and, for the server, to every box, while
// a command it starts in a box has not yet replaced the server's memory
// image (the spawn shares it until execve). The command line is parsed from
// a copy.
#pragma once

#include <string>
#include <vector>

namespace boxd::cli {

// Copies argv, then overwrites in argv itself the value of every --api-key
// and --token (separate or after '='; of a KEY=USER value, the KEY part)
// with '*'. Returns the copies, for the parser.
std::vector<std::string> take_secret_arguments(int argc, char** argv);

}  // namespace boxd::cli
