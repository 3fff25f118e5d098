#pragma once
// Cgroup files on Linux: the primitives behind the cgroup.* operations
// (cgroup.hpp). Nothing here asks the policy; cgroup/cgroup_ops.cpp does.
// Control files are opened O_NOFOLLOW | O_CLOEXEC and never created.

#include <sys/types.h>

#include <airssys/osl/cgroup.hpp>
#include <airssys/osl/error.hpp>

#include <expected>
#include <filesystem>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace airssys::osl::detail {

// Writes `text` to an existing control file in one write().
[[nodiscard]] std::expected<void, Error> cgroup_write(const std::filesystem::path& file, std::string_view text);
// The pids in dir/cgroup.procs, as cgroup::pids, but a file that cannot be
// read (EACCES, not a cgroup, not a regular file) is an error; a directory
// that is gone holds nothing.
[[nodiscard]] std::expected<std::vector<pid_t>, Error> cgroup_pids(const std::filesystem::path& dir);
// The whitespace-separated words of a control file (empty if unreadable).
[[nodiscard]] std::set<std::string> cgroup_words(const std::filesystem::path& file);
// mkdir 0755; an existing directory is fine when `reuse_empty` (and it holds
// no process). Returns true when this call made it.
[[nodiscard]] std::expected<bool, Error> cgroup_mkdir(const std::filesystem::path& dir, bool reuse_empty);
// rmdir; a missing directory is fine.
[[nodiscard]] std::expected<void, Error> cgroup_rmdir(const std::filesystem::path& dir);
// SIGKILL to everything in `dir`, as cgroup::Kill describes.
[[nodiscard]] std::expected<cgroup::KillResult, Error> cgroup_kill_all(const std::filesystem::path& dir);
// Another signal, once to each process listed in any of `dirs` (method
// "signals"), as cgroup::Kill describes. An error means nobody was signalled.
[[nodiscard]] std::expected<cgroup::KillResult, Error> cgroup_signal_all(const std::vector<std::filesystem::path>& dirs, int signo);

}  // namespace airssys::osl::detail
