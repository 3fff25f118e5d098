#pragma once
// The host's local accounts, as osquery's `users` and `groups` tables show
// them (docs/daemoneye.md "users" and "groups"): parsed from the passwd and
// group files themselves, never through NSS.
//
// Why the files and not getpwent(3): NSS loads the modules nsswitch.conf
// names (LDAP, SSSD, systemd's …) into the calling process, which here is
// procmond, running as root. The cost: accounts only a directory service
// knows are not listed (a backdoor uid 0 must be in the local file to log in
// without that service, which is what uid0-account looks for).
//
// Parsing is forgiving and bounded: a line that is not an account (too few
// fields, a uid or gid that is not a number in 0..4294967295, an empty name,
// NIS's "+"/"-" lines) is skipped and counted, never fatal; at most
// kMaxAccountFileBytes of a file and kMaxAccountEntries entries are taken.
//
// Thread safety: the functions are pure; an AccountFile is used by one thread.

#include <airssys/daemoneye/error.hpp>

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace airssys::daemoneye {

inline constexpr std::size_t kMaxAccountFileBytes = 4 * 1024 * 1024;  // a larger file is refused
inline constexpr std::size_t kMaxAccountEntries = 65'536;             // entries past these are not taken

// One line of passwd(5).
struct UserAccount {
  std::int64_t uid = 0;  // 0 .. 4294967295 (osquery's uid; uid_signed is its int32 reading)
  std::int64_t gid = 0;
  std::string username, description, directory, shell;
  bool operator==(const UserAccount&) const = default;
};

// One line of group(5) (the member list is not kept: osquery's `groups` has none).
struct GroupAccount {
  std::int64_t gid = 0;
  std::string groupname;
  bool operator==(const GroupAccount&) const = default;
};

template <class Row>
struct ParsedAccounts {
  std::vector<Row> rows;
  std::uint64_t skipped = 0;  // lines that are not an account (blank lines and comments are not counted)
  bool capped = false;        // more than kMaxAccountEntries entries: the rest not taken
  bool operator==(const ParsedAccounts&) const = default;
};

[[nodiscard]] ParsedAccounts<UserAccount> parse_passwd(std::string_view text);
[[nodiscard]] ParsedAccounts<GroupAccount> parse_group(std::string_view text);

// One account file, read again only when it changed. The file is opened
// without following a symbolic link in any component (openat2
// RESOLVE_NO_SYMLINKS; O_NOFOLLOW on kernels before 5.6), must be a regular
// file owned by root or by us and writable by no one else (a file anyone may
// write could plant a uid-0 line, or hide one), at most kMaxAccountFileBytes.
// "Changed" is its device, inode, size or mtime (nanoseconds): an edit in
// place and a rename over it (vipw, useradd) both change one.
template <class Row>
class AccountFile {
 public:
  explicit AccountFile(std::filesystem::path path) : path_(std::move(path)) {}

  // Stats the file; reads and parses it when it changed since the last
  // successful read. Returns whether the rows changed (true after the first
  // read). On an error the rows last read are kept (rows() still has them).
  [[nodiscard]] Result<bool> refresh();
  // The last rows read; nullopt until a read succeeded.
  [[nodiscard]] const std::optional<ParsedAccounts<Row>>& rows() const noexcept { return rows_; }
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }
  // Reads and parses done so far (a test's way to see that an unchanged file is not read).
  [[nodiscard]] std::uint64_t reads() const noexcept { return reads_; }

 private:
  std::filesystem::path path_;
  std::optional<ParsedAccounts<Row>> rows_;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  off_t size_ = -1;
  std::int64_t mtime_ns_ = -1;
  std::uint64_t reads_ = 0;
};

extern template class AccountFile<UserAccount>;
extern template class AccountFile<GroupAccount>;

}  // namespace airssys::daemoneye
