#pragma once
// The registry file's text, for a reader that needs less than RegistryData
// (`list` builds its rows straight from it, cmd_list in tools/).

#include <airssys/watchdog/error.hpp>

#include <expected>
#include <filesystem>
#include <functional>
#include <string_view>

namespace airssys::watchdog::detail {

// Opens `path` with Registry::load's checks (no symbolic link, a regular
// file, at most kMaxRegistryBytes; no lock) and calls `use` once with its
// whole text, valid only during the call. A missing file is an empty
// registry: `use` is not called and the result is success. Errors are
// load()'s, or what `use` returns.
using RegistryTextUse = std::function<std::expected<void, Error>(std::string_view text)>;
[[nodiscard]] std::expected<void, Error> read_registry_text(const std::filesystem::path& path, const RegistryTextUse& use);

}  // namespace airssys::watchdog::detail
