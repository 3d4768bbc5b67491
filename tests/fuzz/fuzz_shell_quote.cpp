// Shell quoting: `box exec web -- ARGV...` joins argv into one command
// string for /bin/sh -c; the remote program must get exactly that argv.
//
// The input is argv, words separated by NUL bytes (a real argv holds no
// NUL). Property: split(join_command(argv)) == argv for two words or more,
// and split(shell_quote(word)) == {word}, where split is a POSIX sh word
// splitter below that refuses anything the shell would expand or treat as
// an operator (so a quoting that only works by luck fails too).
#include <optional>
#include <string>
#include <vector>

#include "common/shell_quote.hpp"
#include "fuzz_support.hpp"

namespace {

// Characters with no special meaning to sh anywhere in an unquoted word.
bool plain(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("_-./=:@%+,").find(c) != std::string_view::npos;
}

// POSIX sh tokenization of a simple command, for the subset that quoting
// produces: blanks separate words, '...' is literal, "..." is literal unless
// it holds $ ` \ (refused), and anything else unquoted must be plain.
std::optional<std::vector<std::string>> split(std::string_view line) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (c == ' ' || c == '\t') {
      if (in_word) {
        words.push_back(word);
        word.clear();
        in_word = false;
      }
      continue;
    }
    in_word = true;
    if (c == '\'' || c == '"') {
      const auto close = line.find(c, i + 1);
      if (close == std::string_view::npos) {
        return std::nullopt;
      }
      const auto inner = line.substr(i + 1, close - i - 1);
      if (c == '"' && inner.find_first_of("$`\\") != std::string_view::npos) {
        return std::nullopt;
      }
      word += inner;
      i = close;
    } else if (plain(c)) {
      word += c;
    } else {
      return std::nullopt;  // an operator, an expansion, a glob, a comment, ...
    }
  }
  if (in_word) {
    words.push_back(word);
  }
  return words;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using boxd::fuzz::require;
  const auto text = boxd::fuzz::as_text(data, size);
  std::vector<std::string> argv;
  for (std::size_t start = 0;;) {
    const auto end = text.find('\0', start);
    argv.emplace_back(text.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) {
      break;
    }
    start = end + 1;
  }
  for (const auto& word : argv) {
    require(split(boxd::shell_quote(word)) == std::vector<std::string>{word},
            "split(shell_quote(word)) == {word}");
  }
  if (argv.size() >= 2) {
    require(split(boxd::join_command(argv)) == argv, "split(join_command(argv)) == argv");
  }
  return 0;
}
