#pragma once

#include <CLI/CLI.hpp>

#include "boxd/context.hpp"

namespace boxd::cli {

// `boxd completion bash|zsh|fish`, and the hidden generators used by the
// completion scripts (`__complete KIND`) and the build (`__man`). Add it
// after every other command: it reads the finished tree.
void add_docs(CLI::App& root, Context& ctx);

}  // namespace boxd::cli
