#pragma once
// Filesystem executors. Each acts on an already resolved, policy-approved
// path; each opens only relative to the pinned parent directory.

#include <airssys/osl/error.hpp>
#include <airssys/osl/fs.hpp>

#include <sys/stat.h>

#include <expected>

#include "fs/path_resolver.hpp"
#include "fs/tree_ops.hpp"

namespace airssys::osl::detail {

[[nodiscard]] std::expected<std::string, Error> exec_read(const ResolvedPath& p, const fs::Read& op);
[[nodiscard]] std::expected<fs::Write::Result, Error> exec_write(const ResolvedPath& p, const fs::Write& op);
[[nodiscard]] std::expected<Done, Error> exec_create_dir(const ResolvedPath& p, const fs::CreateDir& op);
[[nodiscard]] std::expected<fs::List::Result, Error> exec_list(const ResolvedPath& p);
[[nodiscard]] std::expected<fs::FileInfo, Error> exec_stat(const ResolvedPath& p);

// The halves the fast road (System::run, core/system_fs.cpp) shares with
// the executors above: reading a file already opened (`path` names it in
// errors), and what fs.stat reports of a stat.
[[nodiscard]] std::expected<std::string, Error> read_open_file(int fd, const std::string& path, const fs::Read& op);
[[nodiscard]] fs::FileInfo file_info(const struct ::stat& st);
// `veto` (may be empty) is asked about every entry below a recursively
// deleted directory; what it objects to is kept and reported as `denied`.
[[nodiscard]] std::expected<Done, Error> exec_delete(const ResolvedPath& p, const fs::Delete& op, const EntryVeto& veto);
[[nodiscard]] std::expected<Done, Error> exec_set_permissions(const ResolvedPath& p, const fs::SetPermissions& op);
// `veto` (may be empty) is asked about every entry below a directory `from`
// (the path under `from`); one objection refuses the rename as `denied`.
[[nodiscard]] std::expected<Done, Error> exec_rename(const ResolvedPath& from, const ResolvedPath& to, const fs::Rename& op,
                                                     const EntryVeto& veto);

// Opens `p` (file or directory) with openat2 beneath its pinned parent.
[[nodiscard]] std::expected<UniqueFd, Error> open_beneath(const ResolvedPath& p, int flags, mode_t mode = 0);

}  // namespace airssys::osl::detail
