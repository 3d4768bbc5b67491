#pragma once
#include <filesystem>

namespace boxd {
// $BOXD_CONFIG_DIR, else $XDG_CONFIG_HOME/boxd, else $HOME/.config/boxd.
std::filesystem::path config_dir();
// $XDG_CACHE_HOME/boxd, else $HOME/.cache/boxd.
std::filesystem::path cache_dir();
// $XDG_DATA_HOME/boxd-local, else $HOME/.local/share/boxd-local.
std::filesystem::path local_state_dir();
}  // namespace boxd
