#pragma once
// Unix stream sockets for the broker and the client: an owning fd, the 0700
// socket directory check, listen and connect. Every fd is CLOEXEC.

#include <airssys/bus/error.hpp>
#include <airssys/osl/unique_fd.hpp>

#include <sys/types.h>

#include <expected>
#include <optional>
#include <filesystem>
#include <utility>

namespace airssys::bus::detail {

// The fd owner osl already provides (header-only): one RAII type for fds
// across the project.
using UniqueFd = airssys::osl::UniqueFd;

// Creates the socket's parent directory if missing; if present it must be a
// directory owned by the effective uid with no permissions for others.
// Without `group`: mode 0700 (and no group bits allowed). With `group`: the
// directory is given that group and mode 0770, so members can reach the socket.
[[nodiscard]] std::expected<void, Error> ensure_private_dir(const std::filesystem::path& dir,
                                                            std::optional<gid_t> group = std::nullopt);
// The same owner and mode rules and errors as ensure_private_dir, creating
// and changing nothing: a missing directory passes when its parent is a
// directory the effective uid may write (ensure_private_dir would create it
// 0700; its mkdir is not recursive), else it fails as that mkdir would
// ("mkdir <dir>: ..."); with `group`, group bits pass (it would set 0770).
[[nodiscard]] std::expected<void, Error> check_private_dir(const std::filesystem::path& dir,
                                                           std::optional<gid_t> group = std::nullopt);
// Binds and listens (non-blocking) on `path`: mode 0600, or 0660 owned by
// `group` when given. A stale socket file (nobody accepting) is replaced; a
// live one is an error.
[[nodiscard]] std::expected<UniqueFd, Error> listen_unix(const std::filesystem::path& path, int backlog,
                                                         std::optional<gid_t> group = std::nullopt);
// Connects (blocking fd) to `path`.
[[nodiscard]] std::expected<UniqueFd, Error> connect_unix(const std::filesystem::path& path);

}  // namespace airssys::bus::detail
