// Whether this build runs under AddressSanitizer (the asan preset: clang,
// tests/sanitizers), for the few places that must behave differently there:
// the CLI exits the long way so LeakSanitizer runs (cmd/boxd/main.cpp), and
// the spawn code forks instead of running a child on a stack ASan did not
// make (lib/local/runtime_spawn.cpp).
#pragma once

namespace boxd {

#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool k_address_sanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool k_address_sanitizer = true;
#else
inline constexpr bool k_address_sanitizer = false;
#endif
#else
inline constexpr bool k_address_sanitizer = false;
#endif

}  // namespace boxd
