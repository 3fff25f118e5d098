#pragma once
// Where the store's database file may live, and creating it safely.

#include <airssys/daemoneye/error.hpp>
#include <filesystem>

namespace airssys::daemoneye {

// Makes `db` ready for SQLite to open, or says why it must not be used:
//  - its directory is created 0700 (each missing level) if absent; an
//    existing one must be a directory owned by us or root and not
//    world-writable (there others could plant symlinks for the -wal and
//    -shm files SQLite creates beside the database);
//  - `db` itself (and an existing -wal / -shm) must not be a symbolic link
//    (checked with lstat, never followed) and must be a regular file;
//  - a missing database file is created 0600 (O_EXCL|O_NOFOLLOW); an
//    existing one with group/other permission bits is narrowed to 0600.
//    SQLite gives -wal and -shm the database file's mode.
// Refusals are `denied` (a symlink, a world-writable or foreign directory),
// `invalid_input` (an empty path, a directory, not a regular file); failed
// system calls carry their errno.
[[nodiscard]] Result<void> prepare_database_path(const std::filesystem::path& db);
// Only the directory's part of the above: created and checked, the
// database file itself not touched.
[[nodiscard]] Result<void> prepare_database_dir(const std::filesystem::path& db);

}  // namespace airssys::daemoneye
