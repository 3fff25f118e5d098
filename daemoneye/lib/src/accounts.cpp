#include <airssys/daemoneye/accounts.hpp>

#include <airssys/osl/unique_fd.hpp>

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <fmt/format.h>

#include <array>
#include <cerrno>
#include <charconv>

namespace airssys::daemoneye {

namespace {

// Splits `line` at ':' into exactly N fields; false when it has another count.
template <std::size_t N>
bool split_fields(std::string_view line, std::array<std::string_view, N>& out) {
  std::size_t i = 0;
  for (;;) {
    const auto colon = line.find(':');
    if (i == N - 1) {
      if (colon != std::string_view::npos) return false;  // more fields than N
      out[i] = line;
      return true;
    }
    if (colon == std::string_view::npos) return false;  // fewer
    out[i++] = line.substr(0, colon);
    line.remove_prefix(colon + 1);
  }
}

// A uid or gid as passwd(5) and group(5) hold it: decimal digits, 0..2^32-1.
std::optional<std::int64_t> id_of(std::string_view s) {
  if (s.empty() || s.size() > 10) return std::nullopt;
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size() || v > 0xFFFF'FFFFull) return std::nullopt;
  return static_cast<std::int64_t>(v);
}

// An account name: not empty, and not NIS's "+name"/"-name" include lines
// (nss_compat's, which list no account of their own).
bool name_ok(std::string_view s) { return !s.empty() && s.front() != '+' && s.front() != '-'; }

// Calls `one(line)` for each line that is not blank or a comment, until it
// returns false; a NUL byte makes its line malformed (`one` sees it).
template <class F>
void each_line(std::string_view text, F&& one) {
  while (!text.empty()) {
    const auto nl = text.find('\n');
    const std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (line.empty() || line.front() == '#') continue;
    if (!one(line)) return;
  }
}

}  // namespace

ParsedAccounts<UserAccount> parse_passwd(std::string_view text) {
  ParsedAccounts<UserAccount> out;
  each_line(text, [&](std::string_view line) {
    std::array<std::string_view, 7> f;
    std::optional<std::int64_t> uid, gid;
    if (line.find('\0') != std::string_view::npos || !split_fields(line, f) || !name_ok(f[0]) ||
        !(uid = id_of(f[2])) || !(gid = id_of(f[3]))) {
      ++out.skipped;
      return true;
    }
    if (out.rows.size() == kMaxAccountEntries) {
      out.capped = true;
      return false;
    }
    out.rows.push_back(UserAccount{.uid = *uid, .gid = *gid, .username = std::string(f[0]),
                                   .description = std::string(f[4]), .directory = std::string(f[5]),
                                   .shell = std::string(f[6])});
    return true;
  });
  return out;
}

ParsedAccounts<GroupAccount> parse_group(std::string_view text) {
  ParsedAccounts<GroupAccount> out;
  each_line(text, [&](std::string_view line) {
    std::array<std::string_view, 4> f;
    std::optional<std::int64_t> gid;
    if (line.find('\0') != std::string_view::npos || !split_fields(line, f) || !name_ok(f[0]) ||
        !(gid = id_of(f[2]))) {
      ++out.skipped;
      return true;
    }
    if (out.rows.size() == kMaxAccountEntries) {
      out.capped = true;
      return false;
    }
    out.rows.push_back(GroupAccount{.gid = *gid, .groupname = std::string(f[0])});
    return true;
  });
  return out;
}

namespace {

// No symbolic link in any component: someone able to plant one (in a
// directory mounted in for a container, say) must not choose the file read.
int open_no_symlinks(const std::string& path) {
  open_how how{};
  how.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
  how.resolve = RESOLVE_NO_SYMLINKS;
  const long fd = ::syscall(SYS_openat2, AT_FDCWD, path.c_str(), &how, sizeof how);
  if (fd >= 0 || errno != ENOSYS) return static_cast<int>(fd);
  return ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW);  // before Linux 5.6
}

ParsedAccounts<UserAccount> parse(std::string_view text, const UserAccount*) { return parse_passwd(text); }
ParsedAccounts<GroupAccount> parse(std::string_view text, const GroupAccount*) { return parse_group(text); }

}  // namespace

template <class Row>
Result<bool> AccountFile<Row>::refresh() {
  const std::string path = path_.string();
  osl::UniqueFd fd(open_no_symlinks(path));
  if (!fd) {
    const int err = errno;
    if (err == ELOOP) return fail(ErrorCategory::denied, fmt::format("refusing {}: a symbolic link on its path (not followed)", path));
    return fail_errno(err, "open " + path);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return fail_errno(errno, "stat " + path);
  if (!S_ISREG(st.st_mode)) return fail(ErrorCategory::denied, fmt::format("refusing {}: not a regular file", path));
  if (st.st_uid != 0 && st.st_uid != ::geteuid())
    return fail(ErrorCategory::denied, fmt::format("refusing {}: owned by uid {}, not by root or us ({})", path,
                                                   st.st_uid, ::geteuid()));
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
    return fail(ErrorCategory::denied,
                fmt::format("refusing {}: writable by {} (mode {:04o}); only its owner may write it", path,
                            (st.st_mode & S_IWOTH) != 0 ? "everyone" : "its group", st.st_mode & 07777));
  if (static_cast<std::uint64_t>(st.st_size) > kMaxAccountFileBytes)
    return fail(ErrorCategory::resource_exhausted,
                fmt::format("refusing {}: {} bytes, more than {} MiB", path, st.st_size, kMaxAccountFileBytes >> 20));
  const std::int64_t mtime_ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  if (rows_ && st.st_dev == dev_ && st.st_ino == ino_ && st.st_size == size_ && mtime_ns == mtime_ns_) return false;
  // One byte more than the size, to see a file that grew meanwhile (read
  // whole at the next refresh: its size or mtime will differ).
  std::string text(static_cast<std::size_t>(st.st_size) + 1, '\0');
  std::size_t got = 0;
  while (got < text.size()) {
    const ssize_t n = ::read(fd.get(), text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno(errno, "read " + path);
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  text.resize(std::min(got, static_cast<std::size_t>(st.st_size)));
  auto parsed = parse(text, static_cast<const Row*>(nullptr));
  ++reads_;
  dev_ = st.st_dev;
  ino_ = st.st_ino;
  size_ = st.st_size;
  mtime_ns_ = mtime_ns;
  const bool changed = !rows_ || *rows_ != parsed;
  rows_ = std::move(parsed);
  return changed;
}

template class AccountFile<UserAccount>;
template class AccountFile<GroupAccount>;

}  // namespace airssys::daemoneye
