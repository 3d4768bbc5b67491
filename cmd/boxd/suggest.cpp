#include "boxd/suggest.hpp"

#include <algorithm>
#include <cctype>
#include <set>
#include <utility>

namespace boxd::cli {

std::size_t edit_distance(const std::string& a, const std::string& b) {
  // Optimal string alignment: Levenshtein plus adjacent transpositions.
  const std::size_t n = a.size();
  const std::size_t m = b.size();
  std::vector<std::vector<std::size_t>> d(n + 1, std::vector<std::size_t>(m + 1, 0));
  for (std::size_t i = 0; i <= n; ++i) {
    d[i][0] = i;
  }
  for (std::size_t j = 0; j <= m; ++j) {
    d[0][j] = j;
  }
  for (std::size_t i = 1; i <= n; ++i) {
    for (std::size_t j = 1; j <= m; ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[n][m];
}

std::vector<std::string> suggestions(const std::string& typed,
                                     const std::vector<std::string>& candidates) {
  // The dashes of a flag are not part of what was mistyped.
  const auto core = [](const std::string& word) {
    return word.substr(std::min(word.find_first_not_of('-'), word.size()));
  };
  const std::string typed_core = core(typed);
  const std::size_t limit = typed_core.size() >= 5 ? 2 : 1;
  std::vector<std::pair<std::size_t, std::string>> close;
  std::set<std::string> seen;
  for (const auto& candidate : candidates) {
    if (candidate == typed || !seen.insert(candidate).second) {
      continue;
    }
    const std::string candidate_core = core(candidate);
    if (typed_core.size() == 1) {
      // One letter: only the other case ("-Q" -> "-q"); any letter is one edit away.
      if (candidate_core.size() == 1 &&
          std::tolower(static_cast<unsigned char>(candidate_core[0])) ==
              std::tolower(static_cast<unsigned char>(typed_core[0]))) {
        close.emplace_back(1, candidate);
      }
      continue;
    }
    const std::size_t distance = edit_distance(typed_core, candidate_core);
    const bool prefix = typed_core.size() >= 2 && candidate_core.rfind(typed_core, 0) == 0;
    if (distance <= limit || prefix) {
      close.emplace_back(distance, candidate);
    }
  }
  std::stable_sort(close.begin(), close.end(),
                   [](const auto& x, const auto& y) { return x.first < y.first; });
  std::vector<std::string> result;
  for (std::size_t i = 0; i < close.size() && i < 3; ++i) {
    result.push_back(close[i].second);
  }
  return result;
}

std::string or_list(const std::vector<std::string>& words) {
  std::string text;
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (i > 0) {
      text += i + 1 == words.size() ? " or " : ", ";
    }
    text += "'" + words[i] + "'";
  }
  return text;
}

namespace {

std::string command_path(const CLI::App& app) {
  std::string path = app.get_name();
  for (const CLI::App* parent = app.get_parent(); parent != nullptr;
       parent = parent->get_parent()) {
    path = parent->get_name() + " " + path;
  }
  return path;
}

// The names (and aliases) of a group's visible subcommands.
std::vector<std::string> command_names(CLI::App& group) {
  std::vector<std::string> names;
  for (const CLI::App* sub : group.get_subcommands([](CLI::App*) { return true; })) {
    if (sub->get_group().empty() || sub->get_name().rfind("__", 0) == 0) {
      continue;  // hidden
    }
    names.push_back(sub->get_name());
    for (const auto& alias : sub->get_aliases()) {
      names.push_back(alias);
    }
  }
  return names;
}

// The visible flags a command accepts: its own and those of its parents.
std::vector<std::string> flag_names(const CLI::App& command) {
  std::vector<std::string> names;
  for (const CLI::App* app = &command; app != nullptr; app = app->get_parent()) {
    for (const CLI::Option* option : app->get_options()) {
      if (option->get_group().empty()) {
        continue;
      }
      for (const auto& name : option->get_lnames()) {
        names.push_back("--" + name);
      }
      for (const auto& name : option->get_snames()) {
        names.push_back("-" + name);
      }
    }
  }
  return names;
}

bool is_group(CLI::App& app) {
  return !app.get_subcommands([](CLI::App*) { return true; }).empty();
}

}  // namespace

std::optional<UsageProblem> explain_extras(CLI::App& root, const std::vector<std::string>& words) {
  CLI::App* deepest = &root;
  while (!deepest->get_subcommands().empty()) {
    deepest = deepest->get_subcommands().back();
  }
  const std::vector<std::string> left = root.remaining(true);
  const std::string path = command_path(*deepest);
  // The first leftover in command-line order says what went wrong.
  for (const auto& word : words) {
    if (std::find(left.begin(), left.end(), word) == left.end()) {
      continue;
    }
    UsageProblem problem;
    problem.help_path = path;
    if (word.size() > 1 && word[0] == '-') {
      const std::string flag = word.substr(0, word.find('='));
      problem.message = "unknown flag '" + flag + "' for '" + path + "'";
      if (auto close = suggestions(flag, flag_names(*deepest)); !close.empty()) {
        problem.hint = "did you mean " + or_list(close) + "?";
      }
      return problem;
    }
    if (!is_group(*deepest)) {
      return std::nullopt;  // an extra argument to a command
    }
    problem.message = "unknown command '" + word + "' for '" + path + "'";
    if (auto close = suggestions(word, command_names(*deepest)); !close.empty()) {
      problem.hint = "did you mean " + or_list(close) + "?";
    }
    return problem;
  }
  return std::nullopt;
}

}  // namespace boxd::cli
