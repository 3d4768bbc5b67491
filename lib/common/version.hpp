#pragma once
namespace boxd {
inline constexpr const char* k_version = BOXD_VERSION;
}
