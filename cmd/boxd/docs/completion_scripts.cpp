// Shell completion scripts generated from the command tree.
//
// bash: the script carries the tree as `case` tables (subcommands, options,
// options that take a value, fixed values, what each positional completes)
// and one function that walks the words typed so far: options are skipped
// (with their value when they take one), a word that names a subcommand of
// the current path extends the path, `--` ends completion (what follows is
// the remote command), any other word is a positional: the command's
// spec says what the one being typed completes (box names for `box exec`'s
// VM, nothing for the remote command after it). Box, disk and template names come from the API via
// the hidden `boxd __complete KIND`, run under `timeout 2` with stderr
// dropped, so a slow or broken endpoint costs at most two seconds and prints
// nothing. The global options typed on the line (--environment, --profile,
// --api-url...) are passed along, so names come from the same endpoint.
// zsh reuses the bash script through bashcompinit; fish gets native
// `complete` lines from the same tree.
#include <fmt/format.h>

#include <set>
#include <sstream>
#include <string_view>

#include "boxd/docs/tree.hpp"

namespace boxd::cli::docs {

namespace {

std::string join(const std::vector<std::string>& words, const char* sep = " ") {
  std::string out;
  for (const auto& w : words) {
    if (!out.empty()) {
      out += sep;
    }
    out += w;
  }
  return out;
}

std::vector<std::string> option_words(const OptionDoc& o) {
  std::vector<std::string> out;
  for (const auto& l : o.long_names) {
    out.push_back("--" + l);
  }
  for (const auto& s : o.short_names) {
    out.push_back("-" + s);
  }
  return out;
}

std::vector<std::string> child_names(const CommandDoc& doc) {
  std::vector<std::string> out;
  for (const auto& c : doc.children) {
    out.push_back(c.name);
  }
  return out;
}

// What each positional of a command completes, in order: a kind ("vms",
// "disks", "templates") or "-" for nothing, "..." after one that takes
// every remaining word: "vms -..." for `box exec VM COMMAND...`. Empty when
// no positional completes anything.
std::string positional_spec(const CommandDoc& doc) {
  std::string spec;
  bool any = false;
  for (const auto& p : doc.positionals) {
    any = any || !p.dynamic.empty();
    spec += (spec.empty() ? "" : " ") + (p.dynamic.empty() ? std::string("-") : p.dynamic) +
            (p.repeated ? "..." : "");
  }
  return any ? spec : std::string();
}

// _boxd_subcommands, _boxd_options and _boxd_takes_value: the tables the
// bash function below looks words up in.
void bash_word_tables(std::ostream& s, const std::vector<const CommandDoc*>& commands,
                      const CommandDoc& root) {
  s << "_boxd_subcommands() {\n  case \"$1\" in\n";
  for (const auto* c : commands) {
    if (!c->children.empty()) {
      s << fmt::format("    \"{}\") echo \"{}\" ;;\n", join(c->path), join(child_names(*c)));
    }
  }
  s << "  esac\n}\n\n";

  std::vector<std::string> global_words;
  std::vector<std::string> global_value_words;
  for (const auto& o : root.options) {
    for (const auto& w : option_words(o)) {
      global_words.push_back(w);
      if (!o.value_name.empty()) {
        global_value_words.push_back(w);
      }
    }
  }

  s << "_boxd_options() {\n  case \"$1\" in\n";
  for (const auto* c : commands) {
    std::vector<std::string> words;
    for (const auto& o : c->options) {
      for (const auto& w : option_words(o)) {
        words.push_back(w);
      }
    }
    if (!c->path.empty()) {
      words.insert(words.end(), global_words.begin(), global_words.end());
    }
    words.push_back("--help");
    s << fmt::format("    \"{}\") echo \"{}\" ;;\n", join(c->path), join(words));
  }
  s << "  esac\n}\n\n";

  s << "_boxd_takes_value() {\n  case \"$1|$2\" in\n";
  std::set<std::string> value_cases;
  for (const auto* c : commands) {
    for (const auto& o : c->options) {
      if (o.value_name.empty()) {
        continue;
      }
      for (const auto& w : option_words(o)) {
        value_cases.insert(fmt::format("\"{}|{}\"", join(c->path), w));
      }
    }
  }
  for (const auto& v : value_cases) {
    s << "    " << v << ") return 0 ;;\n";
  }
  for (const auto& w : global_value_words) {
    s << "    *\"|" << w << "\") return 0 ;;\n";
  }
  s << "  esac\n  return 1\n}\n\n";
}

// _boxd_option_values and _boxd_positionals: what a value or a positional
// completes to.
void bash_value_tables(std::ostream& s, const std::vector<const CommandDoc*>& commands) {
  s << "_boxd_option_values() {\n  case \"$1\" in\n";
  std::set<std::string> done;
  for (const auto* c : commands) {
    for (const auto& o : c->options) {
      if (o.values.empty()) {
        continue;
      }
      for (const auto& w : option_words(o)) {
        if (done.insert(w).second) {
          s << fmt::format("    {}) echo \"{}\" ;;\n", w, join(o.values));
        }
      }
    }
  }
  s << "  esac\n}\n\n";

  s << "_boxd_positionals() {\n  case \"$1\" in\n";
  for (const auto* c : commands) {
    if (const std::string spec = positional_spec(*c); !spec.empty()) {
      s << fmt::format("    \"{}\") echo \"{}\" ;;\n", join(c->path), spec);
    }
  }
  s << "  esac\n}\n\n";
}

// The bash completion function itself (it reads the tables above).
constexpr std::string_view k_bash_main = R"BASH(_boxd() {
  local cur="${COMP_WORDS[COMP_CWORD]}" prev="" path="" w i npos=0
  local -a globals=()
  COMPREPLY=()
  if (( COMP_CWORD > 0 )); then prev="${COMP_WORDS[COMP_CWORD-1]}"; fi
  for (( i = 1; i < COMP_CWORD; i++ )); do
    w="${COMP_WORDS[i]}"
    case "$w" in
      --) return 0 ;;
      --environment|--profile|--api-url|--exchange-url)
        globals+=("$w" "${COMP_WORDS[i+1]}"); (( i++ )); continue ;;
      -*) if _boxd_takes_value "$path" "$w"; then (( i++ )); fi; continue ;;
    esac
    local subs=" $(_boxd_subcommands "$path") "
    if (( npos == 0 )) && [[ "$subs" == *" $w "* ]]; then
      path="${path:+$path }$w"
    else
      (( npos++ ))
    fi
  done
  if [[ "$prev" == -* ]] && _boxd_takes_value "$path" "$prev"; then
    local values; values="$(_boxd_option_values "$prev")"
    if [[ -n "$values" ]]; then COMPREPLY=( $(compgen -W "$values" -- "$cur") ); fi
    return 0
  fi
  if [[ "$cur" == -* ]]; then
    COMPREPLY=( $(compgen -W "$(_boxd_options "$path")" -- "$cur") )
    return 0
  fi
  local subs; subs="$(_boxd_subcommands "$path")"
  if [[ -n "$subs" ]]; then
    COMPREPLY=( $(compgen -W "$subs" -- "$cur") )
    return 0
  fi
  # The positional being typed: its kind in the command's spec, or the
  # last one's when that takes every remaining word ("vms..."); "-" or none
  # completes nothing (box exec VM <TAB> is the remote command).
  local -a spec=( $(_boxd_positionals "$path") )
  local kind="" n=${#spec[@]}
  if (( npos < n )); then
    kind="${spec[npos]}"
  elif (( n > 0 )) && [[ "${spec[n-1]}" == *... ]]; then
    kind="${spec[n-1]}"
  fi
  kind="${kind%...}"
  if [[ -n "$kind" && "$kind" != "-" ]]; then
    local names; names="$(timeout 2 "${COMP_WORDS[0]}" "${globals[@]}" __complete "$kind" 2>/dev/null)"
    COMPREPLY=( $(compgen -W "$names" -- "$cur") )
  fi
  return 0
}
complete -F _boxd boxd
)BASH";

// fish: the helper functions the completions' conditions call.
constexpr std::string_view k_fish_functions =
    R"FISH(# The command path typed so far, and how many positionals follow it.
function __boxd_walk
    set -l path ''
    set -l n 0
    for w in (commandline -opc)[2..-1]
        if test "$w" = '--'
            echo '--'
            echo 0
            return
        end
        string match -q -- '-*' $w; and continue
        set -l next (string trim -- "$path $w")
        if test $n -eq 0; and contains -- $next $__boxd_paths
            set path $next
        else
            set n (math $n + 1)
        end
    end
    echo $path
    echo $n
end

function __boxd_path
    __boxd_walk | head -n 1
end

# __boxd_arg_is PATH INDEX [more]: completing positional INDEX of PATH
# (or any later one with "more").
function __boxd_arg_is
    set -l walk (__boxd_walk)
    test "$walk[1]" = "$argv[1]"; or return 1
    if test (count $argv) -ge 3
        test $walk[2] -ge $argv[2]
    else
        test $walk[2] -eq $argv[2]
    end
end

function __boxd_path_is
    test (__boxd_path) = "$argv[1]"
end

complete -c boxd -f
)FISH";

// One command's lines: its subcommands, its options (the root's for the
// root), and its dynamic positionals.
void fish_command_lines(std::ostream& s, const CommandDoc* c, const CommandDoc& root) {
  const std::string cond = fmt::format("__boxd_path_is '{}'", join(c->path));
  for (const auto& child : c->children) {
    s << fmt::format("complete -c boxd -n \"{}\" -a {} -d '{}'\n", cond, child.name, [&] {
      std::string d = child.description;
      std::string out;
      for (char ch : d) {
        out += (ch == '\'') ? std::string("\\'") : std::string(1, ch);
      }
      return out;
    }());
  }
  const auto& opts = c->path.empty() ? root.options : c->options;
  for (const auto& o : opts) {
    std::string line = "complete -c boxd";
    if (!c->path.empty()) {
      line += fmt::format(" -n \"{}\"", cond);
    }
    for (const auto& l : o.long_names) {
      line += " -l " + l;
    }
    for (const auto& sn : o.short_names) {
      line += " -s " + sn;
    }
    if (!o.value_name.empty()) {
      line += " -r";
      if (!o.values.empty()) {
        line += " -a '" + join(o.values) + "'";
      }
    }
    s << line << "\n";
  }
  for (std::size_t i = 0; c->children.empty() && i < c->positionals.size(); ++i) {
    const PositionalDoc& p = c->positionals[i];
    if (!p.dynamic.empty()) {
      s << fmt::format(
          "complete -c boxd -n \"__boxd_arg_is '{}' {}{}\" -a \"(timeout 2 boxd __complete {} "
          "2>/dev/null)\"\n",
          join(c->path), i, p.repeated ? " more" : "", p.dynamic);
    }
  }
}

}  // namespace

std::string bash_completion(const CommandDoc& root) {
  const auto commands = flatten(root);
  std::ostringstream s;
  s << "# bash completion for boxd. Generated by `boxd completion bash`: do not edit.\n"
       "# Enable: source this file, or install it as\n"
       "#   /usr/share/bash-completion/completions/boxd\n\n";
  bash_word_tables(s, commands, root);
  bash_value_tables(s, commands);
  s << k_bash_main;
  return s.str();
}

std::string zsh_completion(const CommandDoc& root) {
  return "#compdef boxd\n"
         "# zsh completion for boxd. Generated by `boxd completion zsh`: do not edit.\n"
         "# Enable: put this file in a directory of $fpath as _boxd, or source it.\n"
         "autoload -U +X bashcompinit && bashcompinit\n\n" +
         bash_completion(root);
}

std::string fish_completion(const CommandDoc& root) {
  const auto commands = flatten(root);
  std::ostringstream s;
  s << "# fish completion for boxd. Generated by `boxd completion fish`: do not edit.\n"
       "# Enable: copy to ~/.config/fish/completions/boxd.fish\n\n";
  s << "set -g __boxd_paths";
  for (const auto* c : commands) {
    if (!c->path.empty()) {
      s << " '" << join(c->path) << "'";
    }
  }
  s << "\n\n";
  s << k_fish_functions;
  for (const auto* c : commands) {
    fish_command_lines(s, c, root);
  }
  return s.str();
}

}  // namespace boxd::cli::docs
