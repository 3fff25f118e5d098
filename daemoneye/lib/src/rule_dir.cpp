// load_rules (rule.hpp): a rules directory → the rules that pass, and one
// error per file that does not.

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sys/stat.h>
#include <unistd.h>

#include <airssys/daemoneye/path_trust.hpp>
#include <airssys/daemoneye/query_engine.hpp>
#include <airssys/daemoneye/rule.hpp>
#include <airssys/osl/detail/shown_text.hpp>
#include <airssys/osl/unique_fd.hpp>
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>

#include "trusted_file.hpp"

namespace airssys::daemoneye {

namespace {

constexpr std::size_t kMaxRuleBytes = 1024 * 1024;

struct DirCloser {
  void operator()(DIR* d) const noexcept { ::closedir(d); }
};

bool is_rule_file(std::string_view name) {
  if (name.empty() || name.front() == '.') return false;  // hidden files, editors' backups
  return name.ends_with(".yaml") || name.ends_with(".yml");
}

std::string open_error(int e) {
  return e == ELOOP ? std::string("it is a symbolic link (not followed)") : std::string(std::strerror(e));
}

// from_errno's category and errno; the message is "<what>: <open_error>".
std::unexpected<Error> os_failure(int e, std::string_view what) {
  Error err = Error::from_errno(e, what);
  err.message = fmt::format("{}: {}", what, open_error(e));
  return std::unexpected(std::move(err));
}

// A file or directory name as messages show it: escaped, cut past 256 bytes
// (a cloned Sigma repository can name a file with an escape sequence).
std::string shown(const std::filesystem::path& p) { return osl::detail::shown_path(p.native()); }

// "FILE" or "FILE:LINE" with FILE shown.
std::string located(const std::filesystem::path& file, int line) {
  return line > 0 ? fmt::format("{}:{}", shown(file), line) : shown(file);
}

// "<where>: <message>" as a rejected file, keeping the category.
RuleError rejection(const std::filesystem::path& file, std::string where, const Error& e) {
  return RuleError{file, fmt::format("{}: {}", where, e.message), e.category, e.errno_value};
}

struct DirEntries {
  std::vector<std::string> rules;    // rule file names, sorted
  std::vector<std::pair<std::string, bool>> ignored;  // the other names (hidden ones excepted), is a directory; sorted
};

bool is_directory(int dirfd, const dirent& e) {
  if (e.d_type != DT_UNKNOWN) return e.d_type == DT_DIR;
  struct stat st {};
  return ::fstatat(dirfd, e.d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

// Every rule file name directly in `dirfd`, sorted (the order decides which
// of two files with one id is the duplicate), and what else is there.
Result<DirEntries> rule_file_names(int dirfd) {
  // fdopendir takes ownership of its fd: give it a duplicate.
  osl::UniqueFd copy(::fcntl(dirfd, F_DUPFD_CLOEXEC, 0));
  if (!copy) return fail_errno(errno, "dup");
  std::unique_ptr<DIR, DirCloser> d(::fdopendir(copy.get()));
  if (!d) return fail_errno(errno, "fdopendir");
  (void)copy.release();
  DirEntries names;
  errno = 0;
  while (const dirent* e = ::readdir(d.get())) {
    if (is_rule_file(e->d_name)) {
      names.rules.emplace_back(e->d_name);
    } else if (e->d_name[0] != '.') {
      names.ignored.emplace_back(e->d_name, is_directory(dirfd, *e));
    }
  }
  if (errno != 0) return fail_errno(errno, "readdir");
  std::ranges::sort(names.rules);
  std::ranges::sort(names.ignored);
  return names;
}


// With an engine: the query compiles under the guard, and every `key:`
// column is a column of its result. A query without `key:` whose result has
// neither pid nor start_time gives every row the same dedup key: it loads
// (a rule may mean one alert for all its rows) with a warning; one with
// start_time but no pid shares a key between processes started in the same
// second: also a warning. (pid alone is a usable key: reuse within a dedup
// window is rare.)
Result<void> check_query(Rule& rule, const QueryEngine& engine) {
  auto columns = engine.columns(rule.query);
  if (!columns) {
    // SQLite's messages quote the query's text ('unrecognized token: "..."'):
    // shown as values from a rule file are (escaped; past 256 bytes, cut).
    Error e = columns.error();
    e.message = osl::detail::shown_text(e.message, 256);
    return std::unexpected(e.prefixed("query refused"));
  }
  // Column names come from the rule's query (SELECT 1 AS "..."): shown as
  // every value from a rule file is (escaped, each cut at 64 bytes), and at
  // most kListedColumns of them, as a query may select thousands.
  constexpr std::size_t kListedColumns = 16;
  std::vector<std::string> shown;
  for (std::size_t i = 0; i < std::min(columns->size(), kListedColumns); ++i)
    shown.push_back(osl::detail::shown_text((*columns)[i]));
  std::string listed = fmt::format("{}", fmt::join(shown, ", "));
  if (columns->size() > kListedColumns) listed += fmt::format(", … and {} more", columns->size() - kListedColumns);
  for (const auto& k : rule.key_columns) {
    if (std::ranges::find(*columns, k) == columns->end()) {
      return fail(ErrorCategory::invalid_input,
                  fmt::format("key column '{}' is not a column of the query's result (columns: {})", k, listed));
    }
  }
  const auto has = [&](std::string_view c) { return std::ranges::find(*columns, c) != columns->end(); };
  if (rule.key_columns.empty() && !has("pid") && !has("start_time")) {
    rule.warnings.push_back(fmt::format(
        "{}: warning: the query's result has no pid or start_time column (columns: {}), so all its rows share one "
        "dedup key and the rule raises at most one alert per alerts.dedup_window, whatever it matches; select pid "
        "and start_time, or name the columns that tell its rows apart in key:",
        located(rule.file, rule.query_line), listed));
  } else if (rule.key_columns.empty() && !has("pid")) {
    rule.warnings.push_back(fmt::format(
        "{}: warning: the query's result has start_time but no pid column (columns: {}), so the rows of processes "
        "started in the same second share one dedup key and raise one alert per alerts.dedup_window between them; "
        "select pid too, or name the columns that tell its rows apart in key:",
        located(rule.file, rule.query_line), listed));
  }
  return {};
}

}  // namespace

namespace detail {

// The rules decide which queries run as the agent: whoever can write the
// directory or a file in it controls them. The directory and each file are
// held to path_trust.hpp's check_owner_and_mode (a sticky /tmp-like
// directory is world-writable and refused too). Rule exception files too
// (rule_exception_load.cpp): whoever writes them can silence a rule.
Result<std::string> read_trusted_file(int dirfd, const std::string& name, std::string_view what) {
  osl::UniqueFd fd(::openat(dirfd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  if (!fd) return os_failure(errno, "cannot open");
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0)
    return fail_errno(errno, "cannot stat");
  if (!S_ISREG(st.st_mode)) return fail(ErrorCategory::invalid_input, "not a regular file");
  if (auto r = check_owner_and_mode(st, what); !r) return std::unexpected(r.error());
  if (static_cast<std::size_t>(st.st_size) > kMaxRuleBytes) {
    return fail(ErrorCategory::resource_exhausted, fmt::format("larger than 1 MiB ({} bytes)", st.st_size));
  }
  std::string content;
  char buf[16384];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno(errno, "cannot read");
    if (n == 0) break;
    content.append(buf, static_cast<std::size_t>(n));
    // The file may grow between fstat and read.
    if (content.size() > kMaxRuleBytes) return fail(ErrorCategory::resource_exhausted, "larger than 1 MiB");
  }
  return content;
}

}  // namespace detail

RuleSet load_rules(const std::filesystem::path& dir, const QueryEngine* engine) {
  RuleSet set;
  auto reject = [&](const std::filesystem::path& file, std::string message, ErrorCategory c) {
    set.errors.push_back(RuleError{file, std::move(message), c});
  };
  osl::UniqueFd dirfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!dirfd) {
    int e = errno;
    // O_DIRECTORY|O_NOFOLLOW on a symlink fails with ENOTDIR, not ELOOP.
    struct stat st {};
    if (e == ENOTDIR && ::lstat(dir.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) e = ELOOP;
    set.errors.push_back(rejection(dir, shown(dir), os_failure(e, "cannot open rules directory").error()));
    return set;
  }
  {
    struct stat st {};
    if (::fstat(dirfd.get(), &st) != 0) {
      set.errors.push_back(rejection(dir, shown(dir), Error::from_errno(errno, "cannot stat rules directory")));
      return set;
    }
    if (auto r = check_owner_and_mode(st, "rules directory"); !r) {
      set.errors.push_back(rejection(dir, shown(dir), r.error()));
      return set;
    }
  }
  auto names = rule_file_names(dirfd.get());
  if (!names) {
    set.errors.push_back(rejection(dir, shown(dir) + ": cannot list rules directory", names.error()));
    return set;
  }

  for (const auto& [name, is_dir] : names->ignored) {
    set.ignored.push_back(shown(dir / name) +
                          (is_dir ? ": ignored, a directory (only *.yaml and *.yml files directly in the rules "
                                    "directory are read)"
                                  : ": ignored, not a *.yaml or *.yml file"));
  }
  std::map<std::string, std::filesystem::path> claimed;  // id → the file that defined it first
  for (const std::string& name : names->rules) {
    const std::filesystem::path file = dir / name;
    auto content = detail::read_trusted_file(dirfd.get(), name, "rule file");
    if (!content) {
      set.errors.push_back(rejection(file, shown(file), content.error()));
      continue;
    }
    auto rule = parse_rule(*content, file);
    if (!rule) {
      set.errors.push_back(std::move(rule.error()));
      continue;
    }
    if (auto [it, inserted] = claimed.emplace(rule->id, file); !inserted) {
      reject(file,
             fmt::format("{}: duplicate id '{}' (already defined in {})", shown(file), rule->id, shown(it->second)),
             ErrorCategory::invalid_input);
      continue;
    }
    if (engine != nullptr) {
      if (auto r = check_query(*rule, *engine); !r) {
        set.errors.push_back(rejection(file, located(file, rule->query_line), r.error()));
        continue;
      }
    }
    set.rules.push_back(std::move(*rule));
  }
  std::ranges::sort(set.rules, {}, &Rule::id);
  return set;
}

std::expected<Rule, RuleError> load_rule_file(const std::filesystem::path& file, const QueryEngine* engine) {
  auto refuse = [&](std::string message, ErrorCategory c) {
    return std::unexpected(RuleError{file, shown(file) + ": " + message, c});
  };
  const std::string name = file.filename().string();
  if (!is_rule_file(name))
    return refuse("not a rule file name: the agent reads only *.yaml and *.yml files whose name does not start with '.'",
                  ErrorCategory::invalid_input);
  const std::filesystem::path dir = file.parent_path().empty() ? std::filesystem::path(".") : file.parent_path();
  osl::UniqueFd dirfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dirfd) return std::unexpected(rejection(file, shown(file), Error::from_errno(errno, "cannot open its directory")));
  auto content = detail::read_trusted_file(dirfd.get(), name, "rule file");
  if (!content) return std::unexpected(rejection(file, shown(file), content.error()));
  auto rule = parse_rule(*content, file);
  if (!rule) return std::unexpected(std::move(rule.error()));
  if (engine != nullptr) {
    if (auto r = check_query(*rule, *engine); !r) {
      return std::unexpected(rejection(file, located(file, rule->query_line), r.error()));
    }
  }
  return std::move(*rule);
}

}  // namespace airssys::daemoneye
