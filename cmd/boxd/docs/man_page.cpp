// The man page, generated from the command tree: one complete page, boxd(1),
// with every command, its options and examples, plus exit status,
// environment and files. Text is escaped for roff (backslashes, hyphens in
// option names, lines that would start with a control character), and
// examples go in no-fill blocks so long command lines are never reflowed.
#include <fmt/format.h>

#include <sstream>

#include "boxd/docs/topics.hpp"
#include "boxd/docs/tree.hpp"
#include "boxd/exit_codes.hpp"
#include "common/version.hpp"

namespace boxd::cli::docs {

namespace {

std::string roff(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '\\') {
      out += "\\e";
    } else if (c == '-') {
      out += "\\-";
    } else {
      out += c;
    }
  }
  return out;
}

// Each line of a block, escaped and protected against leading . and '.
std::string roff_lines(const std::string& text) {
  std::istringstream in(text);
  std::string line;
  std::string out;
  while (std::getline(in, line)) {
    out += "\\&" + roff(line) + "\n";
  }
  return out;
}

std::string synopsis(const CommandDoc& c) {
  std::string out = "boxd";
  for (const auto& p : c.path) {
    out += " " + p;
  }
  if (!c.children.empty()) {
    return out + " COMMAND";
  }
  if (!c.options.empty()) {
    out += " [OPTIONS]";
  }
  for (const auto& p : c.positionals) {
    out += " " + p.name;
  }
  return out;
}

void options_block(std::ostringstream& s, const std::vector<OptionDoc>& options) {
  for (const auto& o : options) {
    std::string names;
    for (const auto& sn : o.short_names) {
      names += (names.empty() ? "" : ", ") + std::string("\\fB\\-") + roff(sn) + "\\fR";
    }
    for (const auto& l : o.long_names) {
      names += (names.empty() ? "" : ", ") + std::string("\\fB\\-\\-") + roff(l) + "\\fR";
    }
    if (!o.value_name.empty()) {
      names += " \\fI" + roff(o.value_name) + "\\fR";
    }
    s << ".TP\n" << names << "\n" << roff_lines(o.description);
  }
}

}  // namespace

std::string man_page(const CommandDoc& root) {
  std::ostringstream s;
  s << fmt::format(".TH BOXD 1 \"\" \"boxd {}\" \"User Commands\"\n", k_version);
  s << ".SH NAME\nboxd \\- " << roff(root.description.substr(root.description.find(':') + 2))
    << "\n";
  s << ".SH SYNOPSIS\n.B boxd\n[\\fIGLOBAL OPTIONS\\fR] \\fICOMMAND\\fR [\\fIARGS\\fR]\n";
  s << ".SH DESCRIPTION\n"
       "boxd is the command\\-line client for boxd, a cloud of Linux microVMs (\"boxes\").\n"
       "It speaks boxd's public gRPC API, and the same binary carries \\fBboxd local\\fR,\n"
       "a boxd\\-compatible server for one Linux machine.\n"
       "Data goes to standard output; messages, progress and notices go to standard error.\n";
  s << ".SH GLOBAL OPTIONS\nThese work before or after any command.\n";
  options_block(s, root.options);
  s << ".SH COMMANDS\n";
  for (const auto* c : flatten(root)) {
    if (c->path.empty() || (c->path.size() > 1 && c->path.front() == "machine")) {
      continue;  // `machine` is `box` under other verbs: its own section says so
    }
    s << ".SS \"" << roff(synopsis(*c)) << "\"\n" << roff_lines(c->description);
    for (const auto& p : c->positionals) {
      s << ".TP\n\\fI" << roff(p.name) << "\\fR\n" << roff_lines(p.description);
    }
    options_block(s, c->options);
    if (!c->footer.empty()) {
      s << ".PP\n.nf\n.RS 4\n" << roff_lines(c->footer) << ".RE\n.fi\n";
    }
  }
  s << ".SH EXIT STATUS\n.nf\n" << roff_lines(exit_codes_help()) << ".fi\n";
  s << ".SH ENVIRONMENT\n.nf\n" << roff_lines(environment_help()) << ".fi\n";
  s << ".SH FILES\n.nf\n" << roff_lines(files_help()) << ".fi\n";
  if (!root.footer.empty()) {
    s << ".SH EXAMPLES\n.nf\n" << roff_lines(root.footer) << ".fi\n";
  }
  s << ".SH SEE ALSO\n\\fBssh\\fR(1)\n";
  return s.str();
}

}  // namespace boxd::cli::docs
