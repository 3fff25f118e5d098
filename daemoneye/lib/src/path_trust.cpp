// path_trust.hpp: the owner/mode rule for the paths the agent runs, writes
// or trusts, and the walk that applies it to a path and its directories.

#include <airssys/daemoneye/path_trust.hpp>

#include <fmt/format.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace airssys::daemoneye {

namespace fs = std::filesystem;

Result<void> check_owner_and_mode(const struct stat& st, std::string_view what) {
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    return fail(ErrorCategory::denied,
                fmt::format("refusing {}: it is writable by {} (mode {:04o}); only its owner may write it (e.g. chmod go-w)",
                            what, (st.st_mode & S_IWOTH) != 0 ? "everyone" : "its group", st.st_mode & 07777));
  }
  if (st.st_uid != ::geteuid() && st.st_uid != 0) {
    return fail(ErrorCategory::denied,
                fmt::format("refusing {}: owned by uid {}, not by us ({}) or root", what, st.st_uid, ::geteuid()));
  }
  return {};
}

namespace {

// "<key>: <shown> does not exist", for Missing::refused: `at` is the first
// component that is not there (or the one that is not a directory).
Error missing_error(const fs::path& at, const fs::path& shown, std::string_view key, int e) {
  const std::string where =
      at == shown ? std::string{}
          : fmt::format(" ({} {})", at.string(), e == ENOTDIR ? "has a file, not a directory, above it" : "is missing");
  return Error{ErrorCategory::not_found, e, fmt::format("{}: {} does not exist{}", key, shown.string(), where)};
}

// `path` (absolute, normal, no trailing slash) from "/" down: each prefix
// lstat'ed and held to the rule; `shown` is the path as the key gave it.
Result<void> check_chain(const fs::path& path, const fs::path& shown, std::string_view key, Missing missing) {
  std::vector<fs::path> parts(path.begin(), path.end());
  fs::path prefix;
  mode_t parent_mode = 0;  // of the directory above prefix, as lstat gave it
  for (std::size_t i = 0; i < parts.size(); ++i) {
    prefix /= parts[i];
    const bool leaf = i + 1 == parts.size();
    struct stat st {};
    if (::lstat(prefix.c_str(), &st) != 0) {
      const int e = errno;
      if (e == ENOENT || e == ENOTDIR) {
        if (missing == Missing::refused) return std::unexpected(missing_error(prefix, shown, key, e));
        // Not there (yet): its opener reports it, or creates it — unless
        // others may create it first. A sticky directory (/tmp) protects
        // what is ours from being replaced, not a name nobody holds yet:
        // a credentials file or CA certificate named there and missing
        // would be whatever another user put there later (libnats and
        // OpenSSL open them by path, with no owner check of ours).
        if (e == ENOENT && (parent_mode & (S_IWGRP | S_IWOTH)) != 0)
          return fail(ErrorCategory::denied,
                      fmt::format("{}: refusing {}: {} does not exist, and directory {} (mode {:04o}) lets {} create "
                                  "it; name a path in a directory only its owner may write",
                                  key, shown.string(), prefix.string(), prefix.parent_path().string(),
                                  parent_mode & 07777, (parent_mode & S_IWOTH) != 0 ? "everyone" : "its group"));
        return {};
      }
      return std::unexpected(Error::from_errno(e, fmt::format("{}: cannot check {} ({})", key, prefix.string(),
                                                              shown.string())));
    }
    // A link's mode is always 0777 and means nothing: only who owns it
    // (who may remove it from a sticky directory). A sticky directory above
    // the entry may be writable by others: they cannot replace what is ours.
    parent_mode = st.st_mode;
    if (S_ISLNK(st.st_mode) || (!leaf && S_ISDIR(st.st_mode) && (st.st_mode & S_ISVTX) != 0))
      st.st_mode &= ~static_cast<mode_t>(S_IWGRP | S_IWOTH);
    const std::string what = leaf ? shown.string()
                                  : fmt::format("directory {} above {}", prefix.string(), shown.string());
    if (auto r = check_owner_and_mode(st, what); !r) return std::unexpected(r.error().prefixed(key));
  }
  return {};
}

// Each symbolic link on `abs`, from "/" down, read with readlink and its
// target's chain checked, resolution then going on from there (as the
// kernel does, at most kMaxHops links). A link whose target cannot be
// resolved (missing, a loop) is refused: whoever later makes the target
// would decide what the agent uses.
constexpr int kMaxHops = 40;

Result<void> check_links(fs::path abs, const fs::path& shown, std::string_view key, Missing missing) {
  const auto unresolved = [&](const fs::path& link, const fs::path& target, std::string_view why) {
    return fail(ErrorCategory::denied,
                fmt::format("{}: refusing {}: the symbolic link {} leads to {}, which {}; a link is trusted only "
                            "when where it leads can be checked",
                            key, shown.string(), link.string(), target.string(), why));
  };
  for (int hops = 0;;) {
    std::vector<fs::path> parts(abs.begin(), abs.end());
    fs::path prefix;
    std::size_t i = 0;
    struct stat st {};
    for (; i < parts.size(); ++i) {
      prefix /= parts[i];
      if (::lstat(prefix.c_str(), &st) != 0) {
        const int e = errno;
        if (missing == Missing::refused) return std::unexpected(missing_error(prefix, shown, key, e));
        return {};  // not there (yet): check_chain judged what is
      }
      if (S_ISLNK(st.st_mode)) break;
    }
    if (i == parts.size()) return {};
    if (++hops > kMaxHops) return unresolved(prefix, prefix, "passes more than 40 symbolic links (a loop)");
    std::string target(static_cast<std::size_t>(st.st_size > 0 ? st.st_size : 255) + 1, '\0');
    const ssize_t n = ::readlink(prefix.c_str(), target.data(), target.size());
    if (n < 0) return std::unexpected(Error::from_errno(errno, fmt::format("{}: cannot read the link {} ({})", key,
                                                                            prefix.string(), shown.string())));
    target.resize(static_cast<std::size_t>(n));
    // The parent of `prefix` holds no link (resolved from the left), so ".."
    // is lexical there.
    const fs::path to = (prefix.parent_path() / target).lexically_normal();
    struct stat tst {};
    if (::stat(to.c_str(), &tst) != 0) {
      const int e = errno;
      return unresolved(prefix, to, e == ELOOP ? "passes too many symbolic links (a loop)"
                                              : fmt::format("cannot be reached ({})", std::strerror(e)));
    }
    fs::path next = to;
    for (std::size_t j = i + 1; j < parts.size(); ++j) next /= parts[j];
    next = next.lexically_normal();
    if (auto r = check_chain(next, shown, key, missing); !r) return r;
    abs = std::move(next);
  }
}

}  // namespace

Result<void> check_trusted_path(const fs::path& path, std::string_view key, Missing missing) {
  if (path.empty()) return {};
  std::error_code ec;
  fs::path abs = fs::absolute(path, ec);
  if (ec) return std::unexpected(Error::from_errno(ec.value(), fmt::format("{}: {}", key, path.string())));
  abs = abs.lexically_normal();
  if (!abs.has_filename() && abs.has_parent_path() && abs != abs.root_path()) abs = abs.parent_path();  // "dir/"
  if (auto r = check_chain(abs, path, key, missing); !r) return r;
  // Through a symbolic link: where it leads is what is used.
  return check_links(abs, path, key, missing);
}

Result<void> make_trusted_dir(const fs::path& dir, std::string_view key) {
  if (dir.empty()) return {};
  fs::path partial;
  for (const auto& component : dir) {
    partial /= component;
    if (::mkdir(partial.c_str(), 0700) != 0 && errno != EEXIST)
      return fail_errno(errno, fmt::format("{}: cannot create directory {}", key, partial.string()));
  }
  return check_trusted_path(dir, key);
}

Result<void> check_secret_file(const fs::path& path, std::string_view key) {
  if (path.empty()) return {};
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    const int e = errno;
    if (e == ENOENT || e == ENOTDIR) return {};
    return std::unexpected(Error::from_errno(e, fmt::format("{}: cannot check {}", key, path.string())));
  }
  // The agent's own group only (its egid), not any group it is also in: a
  // supplementary group is usually shared with others (adm, a team).
  const bool by_group = (st.st_mode & S_IRGRP) != 0 &&
                        !(st.st_uid == 0 && ::geteuid() != 0 && st.st_gid == ::getegid());
  if ((st.st_mode & S_IROTH) == 0 && !by_group) {
    // Safe, but can the agent read it? (A non-root agent and root's 0600
    // file: better said now than as a failed connection later.)
    if (::faccessat(AT_FDCWD, path.c_str(), R_OK, AT_EACCESS) == 0) return {};
    const int e = errno;
    if (e != EACCES) return std::unexpected(Error::from_errno(e, fmt::format("{}: cannot check {}", key, path.string())));
    return fail(ErrorCategory::invalid_input,
                fmt::format("{}: the agent (uid {}) cannot read {} (owned by uid {}, group {}, mode {:04o})", key,
                            ::geteuid(), path.string(), st.st_uid, st.st_gid, st.st_mode & 07777));
  }
  return fail(ErrorCategory::invalid_input,
              fmt::format("{}: refusing {}: it is a secret and readable by {} (mode {:04o}); only its owner may read "
                          "it (chmod 600 {})",
                          key, path.string(), (st.st_mode & S_IROTH) != 0 ? "everyone" : "its group",
                          st.st_mode & 07777, path.string()));
}

namespace {

void add_sink_paths(std::vector<std::pair<std::string, fs::path>>& out, const std::string& what, const SinkConfig& s) {
  out.emplace_back(what + ": credentials", s.credentials);
  out.emplace_back(what + ": tls_ca", s.tls_ca);
  out.emplace_back(what + ": tls_cert", s.tls_cert);
  out.emplace_back(what + ": tls_key", s.tls_key);
  out.emplace_back(what + ": spool dir", s.spool_dir);
}

}  // namespace

Result<void> check_config_secrets(const Config& c) {
  std::vector<std::pair<std::string, fs::path>> secrets;
  const auto add = [&](const std::string& what, const fs::path& credentials, const fs::path& tls_key) {
    secrets.emplace_back(what + "credentials", credentials);
    secrets.emplace_back(what + "tls_key", tls_key);
  };
  int index = 0;
  for (const SinkConfig& s : c.alerts.sinks) {
    const std::string what = fmt::format("alerts.sinks #{}: ", ++index);  // as load_config names it
    if (s.type == SinkType::nats) add(what, s.credentials, s.tls_key);
  }
  if (c.events.nats) add("events.nats: ", c.events.nats->credentials, c.events.nats->tls_key);
  if (c.live_query.enabled) add("live_query.", c.live_query.credentials, c.live_query.tls_key);
  for (const auto& [key, path] : secrets)
    if (auto r = check_secret_file(path, key); !r) return r;
  return {};
}

Error as_config_error(Error e) {
  if (e.category == ErrorCategory::denied && e.errno_value == 0) e.category = ErrorCategory::invalid_input;
  return e;
}

Result<void> check_config_paths(const Config& c) {
  const fs::path db_dir = c.database.path.parent_path().empty() ? fs::path(".") : c.database.path.parent_path();
  std::vector<std::pair<std::string, fs::path>> paths{
      {"database.path", db_dir},
      {"rules.dir", c.rules.dir},
      {c.ledger.dir.empty() ? "ledger.dir (default, beside database.path)" : "ledger.dir",
       c.ledger.dir.empty() ? db_dir / "ledger" : c.ledger.dir},
      {"bus.socket", c.bus.socket.empty() ? fs::path{} : c.bus.socket.parent_path()},
      {"procmond.path", c.procmond.path},
  };
  int index = 0;
  for (const SinkConfig& s : c.alerts.sinks) {
    const std::string what = fmt::format("alerts.sinks #{}", ++index);  // as load_config names it
    if (s.type == SinkType::file) paths.emplace_back(what + ": path", s.path);
    if (s.type == SinkType::nats) add_sink_paths(paths, what, s);
  }
  if (c.events.nats) add_sink_paths(paths, "events.nats", *c.events.nats);
  if (const auto& q = c.live_query; q.enabled) {
    for (const fs::path& k : q.trusted_keys) paths.emplace_back("live_query.trusted_keys", k);
    paths.emplace_back("live_query.credentials", q.credentials);
    paths.emplace_back("live_query.tls_ca", q.tls_ca);
    paths.emplace_back("live_query.tls_cert", q.tls_cert);
    paths.emplace_back("live_query.tls_key", q.tls_key);
  }
  for (const auto& [key, path] : paths) {
    if (auto r = check_trusted_path(path, key); !r) return std::unexpected(as_config_error(std::move(r.error())));
  }
  return check_config_secrets(c);
}

}  // namespace airssys::daemoneye
