// Help topics that are text, not commands: shared by `boxd help TOPIC` and
// the man page, so both say the same thing.
#pragma once

#include <string>

namespace boxd::cli::docs {

// `boxd help environment`: every variable boxd reads.
std::string environment_help();
// The FILES section: where boxd keeps what.
std::string files_help();

}  // namespace boxd::cli::docs
