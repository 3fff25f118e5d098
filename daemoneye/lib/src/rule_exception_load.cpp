// load_exceptions (rule_exception.hpp): rules.exceptions (a file or a
// directory) under the rules' trust checks, each entry checked against the
// columns its rule's query returns.

#include <airssys/daemoneye/path_trust.hpp>
#include <airssys/daemoneye/query_engine.hpp>
#include <airssys/daemoneye/rule_exception.hpp>
#include <airssys/osl/detail/shown_text.hpp>
#include <airssys/osl/unique_fd.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <set>

#include "trusted_file.hpp"

namespace airssys::daemoneye {

namespace {

std::string shown(const std::filesystem::path& p) { return osl::detail::shown_path(p.native()); }

bool is_yaml_name(std::string_view name) {
  return !name.empty() && name.front() != '.' && (name.ends_with(".yaml") || name.ends_with(".yml"));
}

struct DirCloser {
  void operator()(DIR* d) const noexcept { ::closedir(d); }
};

// The *.yaml / *.yml names directly in `dirfd`, sorted (the order decides
// which of two entries with one id is the duplicate).
Result<std::vector<std::string>> yaml_names(int dirfd) {
  osl::UniqueFd copy(::fcntl(dirfd, F_DUPFD_CLOEXEC, 0));
  if (!copy) return fail_errno(errno, "dup");
  std::unique_ptr<DIR, DirCloser> d(::fdopendir(copy.get()));
  if (!d) return fail_errno(errno, "fdopendir");
  (void)copy.release();
  std::vector<std::string> names;
  errno = 0;
  while (const dirent* e = ::readdir(d.get()))
    if (is_yaml_name(e->d_name)) names.emplace_back(e->d_name);
  if (errno != 0) return fail_errno(errno, "readdir");
  std::ranges::sort(names);
  return names;
}

void add_file(ExceptionSet& set, int dirfd, const std::string& name, const std::filesystem::path& file,
              std::int64_t now) {
  auto text = detail::read_trusted_file(dirfd, name, "exception file");
  if (!text) {
    set.errors.push_back({fmt::format("{}: {}", shown(file), text.error().message), {}, {}, file});
    return;
  }
  ExceptionSet one = parse_exceptions(*text, file, now);
  for (auto& e : one.exceptions) set.exceptions.push_back(std::move(e));
  for (auto& e : one.errors) set.errors.push_back(std::move(e));
  for (auto& w : one.warnings) set.warnings.push_back(std::move(w));
}

// The files: `path` itself, or the YAML files directly in it.
void read_files(ExceptionSet& set, const std::filesystem::path& path, std::int64_t now) {
  const auto refused = [&](std::string message) {
    set.errors.push_back({"rules.exceptions: " + message, {}, {}, path});
  };
  // The directories above it: owned by us or root, writable by no one else
  // (the file or directory itself is checked on its descriptor below).
  if (auto r = check_trusted_path(path.parent_path().empty() ? "." : path.parent_path(), "rules.exceptions"); !r)
    return refused(r.error().message);
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    // Deleting the file is how an operator removes every exception: none
    // are in force then (said), not the ones loaded before.
    if (errno == ENOENT) {
      set.warnings.push_back({fmt::format("rules.exceptions: {} does not exist: no rule exceptions are in force",
                                          shown(path)),
                              {}});
      return;
    }
    return refused(fmt::format("{}: {}", shown(path), std::strerror(errno)));
  }
  if (S_ISLNK(st.st_mode)) return refused(fmt::format("{}: it is a symbolic link (not followed)", shown(path)));
  if (!S_ISDIR(st.st_mode)) {
    const std::filesystem::path dir = path.parent_path().empty() ? "." : path.parent_path();
    osl::UniqueFd dirfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dirfd) return refused(fmt::format("{}: cannot open its directory: {}", shown(path), std::strerror(errno)));
    return add_file(set, dirfd.get(), path.filename().string(), path, now);
  }
  osl::UniqueFd dirfd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!dirfd) return refused(fmt::format("{}: cannot open: {}", shown(path), std::strerror(errno)));
  if (::fstat(dirfd.get(), &st) != 0) return refused(fmt::format("{}: cannot stat: {}", shown(path), std::strerror(errno)));
  if (auto r = check_owner_and_mode(st, "exception directory"); !r)
    return refused(fmt::format("{}: {}", shown(path), r.error().message));
  auto names = yaml_names(dirfd.get());
  if (!names) return refused(fmt::format("{}: cannot list: {}", shown(path), names.error().message));
  for (const std::string& name : *names) add_file(set, dirfd.get(), name, path / name, now);
}

}  // namespace

ExceptionSet load_exceptions(const std::filesystem::path& path, std::span<const Rule> rules, const QueryEngine& engine,
                             std::int64_t now) {
  ExceptionSet read;
  if (path.empty()) return read;
  read_files(read, path, now);
  ExceptionSet out;
  out.errors = std::move(read.errors);
  out.warnings = std::move(read.warnings);
  std::map<std::string, std::filesystem::path> claimed;  // id → the file that has it first
  std::map<std::string, Result<std::vector<std::string>>> columns;  // rule id → its result's columns
  for (RuleException& e : read.exceptions) {
    const std::string at = fmt::format("{}:{}: exception '{}'", shown(e.file), e.line, e.id);
    if (auto [it, fresh] = claimed.emplace(e.id, e.file); !fresh) {
      out.errors.push_back({fmt::format("{}: duplicate id (already in {})", at, shown(it->second)), e.rule, e.id, e.file});
      continue;
    }
    const auto rule = std::ranges::find(rules, e.rule, &Rule::id);
    if (rule == rules.end()) {
      out.warnings.push_back({fmt::format("{}: rule '{}' is not loaded: the exception applies to nothing until it is",
                                          at, e.rule),
                              e.rule});
      out.exceptions.push_back(std::move(e));
      continue;
    }
    auto [cols, fresh] = columns.try_emplace(e.rule, Result<std::vector<std::string>>{});
    if (fresh) cols->second = engine.columns(rule->query);
    if (!cols->second) {
      out.errors.push_back({fmt::format("{}: rule '{}': its query does not compile, so the columns cannot be checked: {}",
                                        at, e.rule, cols->second.error().message),
                            e.rule, e.id, e.file});
      continue;
    }
    const std::vector<std::string>& have = *cols->second;
    std::string missing;
    for (const ExceptionCondition& c : e.match)
      if (std::ranges::find(have, c.column) == have.end()) missing = c.column;
    if (!missing.empty()) {
      out.errors.push_back({fmt::format("{}: match: '{}' is not a column of rule {}'s result, so the exception could "
                                        "never match (columns: {})",
                                        at, osl::detail::shown_text(missing), e.rule, fmt::join(have, ", ")),
                            e.rule, e.id, e.file});
      continue;
    }
    out.exceptions.push_back(std::move(e));
  }
  return out;
}

}  // namespace airssys::daemoneye
