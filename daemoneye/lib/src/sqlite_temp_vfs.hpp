#pragma once
// A SQLite VFS over "unix" that bounds the temporary files of the one
// connection opened with it: what a sort spills, ephemeral tables,
// materialised subqueries. SQLite has no limit of its own on them, and the
// query engine lets sorts spill to files (temp_store=FILE) so that an
// ORDER BY or GROUP BY over a full store does not need the store's size in
// heap; the cap keeps a hostile query (an ORDER BY over an endless
// recursive CTE) from filling the disk until its time limit.
//
// The bytes counted are the sum of the sizes the connection's open temporary
// files have been written to (a file's highest written offset, less what a
// truncate gives back); a write that would take the sum past the cap fails
// with SQLITE_FULL and exceeded() is set, so the caller can tell the cap
// from a full disk. SQLite deletes its temporary files as it opens them
// (unix: unlinked at once, created 0600 with O_EXCL), so they vanish with
// the process. Where: in temp_dir when one is given (a unique name made
// here, sqlite_temp_vfs.cpp x_open), else where "unix" chooses (the first
// writable of SQLITE_TMPDIR, TMPDIR, /var/tmp, /usr/tmp, /tmp, ".").
//
// Everything else (the database, its WAL and shared memory, locks) goes to
// "unix" unchanged.
//
// Thread safety: one per connection; used by that connection's thread (as
// the connection is).

#include <airssys/daemoneye/error.hpp>

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>

namespace airssys::daemoneye::sqlite {

class TempBytesVfs {
 public:
  // Registers a VFS of its own (not the default) under a unique name.
  // `temp_dir` empty: SQLite's default directories.
  [[nodiscard]] static Result<std::unique_ptr<TempBytesVfs>> make(std::int64_t max_bytes, std::string temp_dir = {});
  // Unregisters it: the connection opened with it must be closed first.
  ~TempBytesVfs();
  TempBytesVfs(const TempBytesVfs&) = delete;
  TempBytesVfs& operator=(const TempBytesVfs&) = delete;

  // The name to pass to sqlite3_open_v2.
  [[nodiscard]] const char* name() const noexcept { return name_.c_str(); }
  [[nodiscard]] std::int64_t max_bytes() const noexcept { return max_bytes_; }
  [[nodiscard]] const std::string& temp_dir() const noexcept { return temp_dir_; }
  // Bytes the open temporary files hold now (0 between statements).
  [[nodiscard]] std::int64_t used() const noexcept { return used_; }
  // True once a write was refused for the cap; clear() before each statement.
  [[nodiscard]] bool exceeded() const noexcept { return exceeded_; }
  void clear() noexcept { exceeded_ = false; }

  // For the file methods (sqlite_temp_vfs.cpp): false when `grow` more
  // bytes would pass the cap (and exceeded() is then set).
  bool take(std::int64_t grow) noexcept;
  void give_back(std::int64_t bytes) noexcept { used_ -= bytes; }
  // The "unix" VFS everything is passed to.
  [[nodiscard]] sqlite3_vfs* base() const noexcept { return unix_; }

 private:
  TempBytesVfs(std::int64_t max_bytes, std::string temp_dir);
  sqlite3_vfs vfs_{};
  sqlite3_vfs* unix_ = nullptr;
  std::string name_;
  std::string temp_dir_;
  std::int64_t max_bytes_;
  std::int64_t used_ = 0;
  bool exceeded_ = false;
};

}  // namespace airssys::daemoneye::sqlite
