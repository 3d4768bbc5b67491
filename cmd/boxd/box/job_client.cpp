#include "boxd/box/job_client.hpp"

#include <algorithm>
#include <charconv>
#include <sstream>

#include "boxd/box/exec_relay.hpp"
#include "boxd/box/job_scripts.hpp"
#include "common/error.hpp"

namespace boxd::cli {

namespace {

constexpr std::string_view k_report_prefix = "boxd-job: ";

// Splits stderr into lines: reports are kept, anything else goes to the
// Context's stderr fd.
class StderrSplitter {
 public:
  StderrSplitter(std::vector<std::string>& reports, int err_fd)
      : m_reports(reports), m_err_fd(err_fd) {}
  void feed(std::string_view data) {
    m_pending.append(data);
    std::size_t newline;
    while ((newline = m_pending.find('\n')) != std::string::npos) {
      line(m_pending.substr(0, newline), true);
      m_pending.erase(0, newline + 1);
    }
  }
  void finish() {
    if (!m_pending.empty()) {
      line(m_pending, false);
      m_pending.clear();
    }
  }

 private:
  void line(const std::string& text, bool newline) {
    if (text.starts_with(k_report_prefix)) {
      m_reports.push_back(text.substr(k_report_prefix.size()));
      return;
    }
    const std::string out = newline ? text + "\n" : text;
    write_all(m_err_fd, out.data(), out.size());
  }
  std::vector<std::string>& m_reports;
  int m_err_fd;
  std::string m_pending;
};

std::vector<std::string> words_of(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> words;
  std::string word;
  while (in >> word) {
    words.push_back(word);
  }
  return words;
}

template <class Int>
std::optional<Int> parse_int(const std::string& text) {
  Int value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return std::nullopt;
  }
  return value;
}

std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> fields;
  std::size_t start = 0;
  for (;;) {
    const std::size_t tab = line.find('\t', start);
    if (tab == std::string::npos || fields.size() == 6) {
      fields.push_back(line.substr(start));
      return fields;
    }
    fields.push_back(line.substr(start, tab - start));
    start = tab + 1;
  }
}

}  // namespace

JobScriptResult run_job_script(Context& ctx, const std::string& vm, const std::string& script,
                               bool stream) {
  client::ExecRequest request;
  request.vm = vm;
  request.command = script;
  std::unique_ptr<client::ExecSession> session = ctx.client().exec(request);
  JobScriptResult result;
  StderrSplitter splitter(result.reports, ctx.err_fd);
  RelayOptions relay;
  relay.relay_stdin = false;
  relay.stdin_fd = ctx.in_fd;
  relay.stdout_fd = ctx.out_fd;
  relay.stderr_fd = ctx.err_fd;
  relay.on_output = [&](bool is_stderr, std::string_view data) {
    if (is_stderr) {
      splitter.feed(data);
      return true;
    }
    if (stream) {
      return write_all(ctx.out_fd, data.data(), data.size());
    }
    result.out.append(data);
    return true;
  };
  const RelayResult relayed = relay_exec(*session, relay);
  splitter.finish();
  result.exit_code = relayed.exit_code;
  result.interrupted_by = relayed.interrupted_by;
  result.stdout_closed = relayed.stdout_closed;
  return result;
}

std::optional<std::vector<std::string>> find_report(const JobScriptResult& result,
                                                    const std::string& word) {
  for (const auto& report : result.reports) {
    std::vector<std::string> words = words_of(report);
    if (!words.empty() && words.front() == word) {
      words.erase(words.begin());
      return words;
    }
  }
  return std::nullopt;
}

std::vector<JobInfo> parse_job_list(const std::string& text) {
  std::vector<JobInfo> jobs;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    const std::vector<std::string> f = split_tabs(line);
    if (f.size() != 7 || !valid_job_id(f[0]) || f[1].empty()) {
      continue;
    }
    JobInfo job;
    job.id = f[0];
    job.state = f[1];
    job.exit_code = parse_int<int>(f[2]);
    job.pid = parse_int<std::int64_t>(f[3]);
    job.started = parse_int<std::int64_t>(f[4]).value_or(0);
    job.ended = parse_int<std::int64_t>(f[5]);
    job.command = f[6];
    jobs.push_back(std::move(job));
  }
  std::stable_sort(jobs.begin(), jobs.end(), [](const JobInfo& a, const JobInfo& b) {
    return a.started < b.started || (a.started == b.started && a.id < b.id);
  });
  return jobs;
}

void check_job_id(const std::string& id) {
  if (!valid_job_id(id)) {
    throw Error(ErrorClass::Usage, "invalid job id '" + id + "'",
                "job ids are letters, digits, '-' and '_' (see 'boxd box jobs VM')");
  }
}

void throw_job_missing(const std::string& vm, const std::string& id) {
  throw Error(ErrorClass::NotFound, "job '" + id + "' not found in box '" + vm + "'",
              "list the box's jobs with 'boxd box jobs " + vm + "'");
}

std::string describe_job_state(const std::vector<std::string>& words) {
  const std::string state = words.empty() ? "lost" : words[0];
  const std::string code = words.size() > 1 ? words[1] : "";
  if (state == "running") {
    return "is still running";
  }
  if (state == "exited") {
    return "exited with status " + code;
  }
  if (state == "killed") {
    return "was killed (status " + code + ")";
  }
  return "ended without recording its status (its box was stopped or restarted)";
}

}  // namespace boxd::cli
