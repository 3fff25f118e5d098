#include "fs/path_resolver.hpp"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <memory>
#include <string_view>

#include <fmt/format.h>

#include <airssys/osl/detail/shown_text.hpp>

#include "platform/linux_fs.hpp"

namespace airssys::osl::detail {

namespace {

constexpr std::uint64_t kPinFlags = O_PATH | O_DIRECTORY | O_CLOEXEC;

struct Lexical {
  std::vector<std::string> parts;  // components after removing "" and "."
  bool has_dotdot = false;
};

Lexical split(std::string_view abs) {
  Lexical l;
  std::size_t i = 0;
  while (i < abs.size()) {
    while (i < abs.size() && abs[i] == '/') ++i;
    const std::size_t j = abs.find('/', i);
    const std::string_view part = abs.substr(i, (j == std::string_view::npos ? abs.size() : j) - i);
    if (!part.empty() && part != ".") {
      if (part == "..") l.has_dotdot = true;
      l.parts.emplace_back(part);
    }
    i = (j == std::string_view::npos) ? abs.size() : j + 1;
  }
  return l;
}

bool is_normal_absolute(std::string_view p) {
  if (p.size() < 2 || p.front() != '/' || p.back() == '/') return false;
  for (std::size_t i = 0; i < p.size(); ++i) {
    if (p[i] != '/') continue;
    if (p[i + 1] == '/') return false;
    if (p[i + 1] == '.' && (i + 2 == p.size() || p[i + 2] == '/' ||
                            (p[i + 2] == '.' && (i + 3 == p.size() || p[i + 3] == '/')))) {
      return false;
    }
  }
  return true;
}

std::string join(const std::vector<std::string>& parts, std::size_t n) {
  std::string s;
  for (std::size_t i = 0; i < n; ++i) {
    s += '/';
    s += parts[i];
  }
  return s.empty() ? "/" : s;
}

// Lexical '..' removal, only used as the best guess when resolution fails.
std::string lexical_guess(const Lexical& l) {
  std::vector<std::string> out;
  for (const auto& p : l.parts) {
    if (p == "..") {
      if (!out.empty()) out.pop_back();
    } else {
      out.push_back(p);
    }
  }
  return join(out, out.size());
}

std::optional<std::string> real_path(const std::string& p, int& err) {
  std::unique_ptr<char, decltype(&std::free)> r(::realpath(p.c_str(), nullptr), &std::free);
  if (!r) {
    err = errno;
    return std::nullopt;
  }
  return std::string(r.get());
}

// Every message here shows its path with shown_path (escaped, cut past 256
// bytes): callers (fs operations, spawn's program and redirects) pass them on.
Error resolution_error(int err, const std::string& path) {
  if (err == ELOOP) {
    return Error{ErrorCategory::invalid_argument, err, 0,
                 fmt::format("{}: too many levels of symbolic links (a symlink loop?)", shown_path(path))};
  }
  return Error::from_errno(err, shown_path(path));
}

Resolution fail(std::string guess, Error e) {
  Resolution r;
  r.resolved.path = std::move(guess);
  r.error = std::move(e);
  return r;
}

// Pins canonical directory `dir` (must contain no symlink) and fills the result.
std::optional<Error> pin(const std::string& dir, ResolvedPath& out) {
  const int fd = sys_openat2(AT_FDCWD, dir.c_str(), kPinFlags, 0, 0x04 | 0x02);
  if (fd < 0) return resolution_error(errno, dir);
  out.parent.reset(fd);
  return std::nullopt;
}

std::string child_of(const std::string& dir, const std::string& name) {
  return dir == "/" ? "/" + name : dir + "/" + name;
}

// "/a/b/c" → dir "/a/b", name "c"; "/c" → dir "/", name "c".
void split_last(const std::string& canonical, std::string& dir, std::string& name) {
  const auto slash = canonical.rfind('/');
  dir = slash == 0 ? "/" : canonical.substr(0, slash);
  name = canonical.substr(slash + 1);
}

// The root directory itself: pinned "/", final component ".".
Resolution root_resolution() {
  Resolution r;
  r.resolved.path = "/";
  r.resolved.name = ".";
  if (auto e = pin("/", r.resolved)) r.error = std::move(e);
  return r;
}

// Missing::create_parents when `dir` does not exist (or cannot be
// canonicalised because its tail does not exist): pins the deepest existing
// ancestor, canonical (a symlinked ancestor is resolved with realpath), and
// lists the components to create below it. `e`: the error to report when
// not even "/" can be pinned.
Resolution walk_up_to_existing(const std::string& dir, const std::string& name, const Error& e) {
  Resolution res;
  ResolvedPath& out = res.resolved;
  auto parts = split(dir).parts;
  std::vector<std::string> to_create{name};
  while (!parts.empty()) {
    to_create.insert(to_create.begin(), parts.back());
    parts.pop_back();
    std::string anc = join(parts, parts.size());
    ResolvedPath base;
    auto pe = pin(anc, base);
    if (pe && pe->errno_value == ELOOP) {
      int err = 0;
      auto rp = real_path(anc, err);
      if (!rp && err == ENOENT) continue;  // a symlinked ancestor whose own tail is missing: go higher
      if (!rp) return fail(child_of(dir, name), resolution_error(err, anc));
      anc = std::move(*rp);
      pe = pin(anc, base);
    }
    if (pe && pe->errno_value == ENOENT) continue;
    if (pe) return fail(child_of(dir, name), std::move(*pe));
    out.parent = std::move(base.parent);
    out.missing = std::move(to_create);
    out.name = out.missing.front();
    std::string full = anc;
    for (const auto& m : out.missing) full = child_of(full, m);
    out.path = std::move(full);
    return res;
  }
  return fail(child_of(dir, name), e);
}

// A path ending in "/" or "/." names a directory: the final object must be
// one (a symlink does not count unless followed to one). Checked after
// resolution, with at most one extra fstatat (only for such paths).
std::optional<Error> check_names_directory(const ResolvedPath& out, FollowFinal follow) {
  struct stat st {};
  const struct stat* fin = out.final_stat ? &*out.final_stat : nullptr;
  if (fin == nullptr && ::fstatat(out.parent.get(), out.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) fin = &st;
  if (fin != nullptr && !S_ISDIR(fin->st_mode)) {
    return Error{ErrorCategory::not_found, ENOTDIR, 0,
                 fmt::format("{}/: not a directory{}", shown_path(out.path),
                             S_ISLNK(fin->st_mode) ? " (a symbolic link; the trailing '/' asks for a directory)" : "")};
  }
  if (fin == nullptr && follow == FollowFinal::yes) {
    // Nothing there: an operation that would create it (fs.write) must not
    // create a file under a name that asks for a directory.
    return Error{ErrorCategory::not_found, ENOENT, 0, fmt::format("{}/: no such directory", shown_path(out.path))};
  }
  return std::nullopt;
}

}  // namespace

bool lexically_canonical(const std::string& p) noexcept {
  return p.size() < PATH_MAX && is_normal_absolute(p) && p.find('\0') == std::string::npos;
}

int open_canonical(const std::string& canonical, int flags) noexcept {
  return sys_openat2(AT_FDCWD, canonical.c_str(), static_cast<std::uint64_t>(flags) | O_NOFOLLOW | O_CLOEXEC, 0,
                     0x04 /*RESOLVE_NO_SYMLINKS*/ | 0x02 /*RESOLVE_NO_MAGICLINKS*/);
}

Resolution resolve_path(const std::filesystem::path& input, FollowFinal follow, Missing missing) {
  const std::string& raw = input.native();
  auto malformed = [](Error e) {
    Resolution r = fail("", std::move(e));
    r.malformed = true;
    return r;
  };
  if (raw.empty()) return malformed(Error::make(ErrorCategory::invalid_argument, "empty path"));
  if (raw.find('\0') != std::string::npos) {
    return malformed(Error::make(ErrorCategory::invalid_argument, "path contains a NUL byte"));
  }
  if (raw.size() >= PATH_MAX) {
    return malformed(Error{ErrorCategory::invalid_argument, ENAMETOOLONG, 0,
                           fmt::format("path is {} bytes; the limit is {}", raw.size(), PATH_MAX - 1)});
  }
  std::string abs;
  if (raw.front() == '/') {
    abs = raw;
  } else {
    char cwd[PATH_MAX];
    if (::getcwd(cwd, sizeof cwd) == nullptr) return fail(raw, Error::from_errno(errno, "getcwd"));
    abs = fmt::format("{}/{}", cwd, raw);
  }
  // "x/" and "x/." name a directory (POSIX): checked once x is resolved.
  const bool names_directory = abs.size() > 1 && (abs.ends_with('/') || abs.ends_with("/."));
  Resolution res;
  ResolvedPath& out = res.resolved;

  // Fast path: an already normal absolute path ("/a/b/c": no ".", "..",
  // "//" or trailing "/") needs no splitting.
  std::string dir;
  std::string name;
  const bool normal = is_normal_absolute(abs);
  const Lexical lex = normal ? Lexical{} : split(abs);
  if (normal) {
    split_last(abs, dir, name);
  } else {
    if (lex.parts.empty()) return root_resolution();

    // Directory part and final component. A final ".." (or a symlinked
    // directory chain) needs the kernel's view: realpath.
    name = lex.parts.back();
    if (lex.has_dotdot) {
      int err = 0;
      if (name == "..") {
        auto rp = real_path(abs, err);
        if (!rp) return fail(lexical_guess(lex), resolution_error(err, abs));
        if (*rp == "/") return root_resolution();
        split_last(*rp, dir, name);
      } else {
        const std::string lexical_dir = join(lex.parts, lex.parts.size() - 1);
        auto rp = real_path(lexical_dir, err);
        if (!rp) return fail(lexical_guess(lex), resolution_error(err, lexical_dir));
        dir = std::move(*rp);
      }
    } else {
      dir = join(lex.parts, lex.parts.size() - 1);
    }
  }

  // Pin the directory; if it holds a symlink, canonicalise it with realpath.
  if (auto e = pin(dir, out)) {
    if (e->errno_value == ELOOP) {
      int err = 0;
      auto rp = real_path(dir, err);
      if (!rp && err == ENOENT && missing == Missing::create_parents) return walk_up_to_existing(dir, name, *e);
      if (!rp) return fail(child_of(dir, name), resolution_error(err, dir));
      dir = std::move(*rp);
      if (auto e2 = pin(dir, out)) {
        if (e2->errno_value == ENOENT && missing == Missing::create_parents) return walk_up_to_existing(dir, name, *e2);
        return fail(child_of(dir, name), std::move(*e2));
      }
    } else if ((e->errno_value == ENOENT) && missing == Missing::create_parents) {
      // Walk up to the deepest existing ancestor; the rest is to be created.
      return walk_up_to_existing(dir, name, *e);
    } else {
      return fail(child_of(dir, name), std::move(*e));
    }
  }

  if (follow == FollowFinal::yes) {
    struct stat st {};
    const bool exists = ::fstatat(out.parent.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
    if (exists && !S_ISLNK(st.st_mode)) out.final_stat = st;
    if (exists && S_ISLNK(st.st_mode)) {
      const std::string link = child_of(dir, name);
      int err = 0;
      auto rp = real_path(link, err);
      if (!rp) {
        if (err == ENOENT) {
          return fail(link, Error{ErrorCategory::not_found, ENOENT, 0, fmt::format("{}: dangling symbolic link", shown_path(link))});
        }
        return fail(link, resolution_error(err, link));
      }
      if (*rp == "/") return root_resolution();
      split_last(*rp, dir, name);
      if (auto e = pin(dir, out)) return fail(*rp, std::move(*e));
      struct stat target {};
      if (::fstatat(out.parent.get(), name.c_str(), &target, AT_SYMLINK_NOFOLLOW) == 0) out.final_stat = target;
    }
  }
  out.path = child_of(dir, name);
  out.name = std::move(name);
  if (names_directory) {
    if (auto e = check_names_directory(out, follow)) return fail(out.path, std::move(*e));
    out.names_directory = true;
  }
  if (missing == Missing::create_parents) {
    out.missing = {out.name};
  }
  return res;
}

}  // namespace airssys::osl::detail
