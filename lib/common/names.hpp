#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace boxd {
// VM (and disk, template, network) names are DNS labels:
// ^[a-z0-9][a-z0-9-]{0,62}$ with no trailing hyphen.
bool is_valid_name(std::string_view name);
// Empty when valid; otherwise the reason, e.g.
// "invalid name 'Web_1': use lowercase letters, digits and '-' (at most 63, no leading or trailing
// '-')".
std::string name_problem(std::string_view name);
// Environment variable names: ^[A-Za-z_][A-Za-z0-9_]*$
bool is_valid_env_name(std::string_view name);
}  // namespace boxd
