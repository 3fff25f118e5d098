#pragma once
// Why a child could not start, in words that name the real cause. The errno
// of a failed chdir/execve alone points the wrong way: ENOENT from execve
// means a missing '#!' interpreter or dynamic loader when the program itself
// exists, EACCES is also what a directory gives, ENOEXEC is what a script
// without a '#!' line gives, and ENOENT from chdir names the program instead
// of the working directory.

#include <airssys/osl/error.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace airssys::osl::detail {

// A path or name the caller gave (program, argv[0], a '#!' interpreter, the
// working directory, a tool) as process errors show it: detail::shown_text
// (control bytes as \xNN; past 256 bytes, the first 256 and "… (N bytes)"),
// so a hostile name cannot drive the terminal or fill a log.
inline constexpr std::size_t kShownPathMax = 256;
[[nodiscard]] std::string shown_path(std::string_view path);

// `e` with the part of `path` its message begins with (the path resolver's
// and open_beneath's do: "/p: No such file or directory", or a directory on
// the way) shown as shown_path shows it; any other message is unchanged.
[[nodiscard]] Error with_shown_path(Error e, std::string_view path);

enum class FailedStep { chdir, exec, other };

// `program_fd`: the pinned (O_PATH) fd of the program, read only to explain;
// `stage_text`: what the child was doing, for the general message.
[[nodiscard]] Error explain_spawn_failure(int err, FailedStep step, std::string_view stage_text, int program_fd,
                                          const std::string& program_path, const std::string& cwd);

}  // namespace airssys::osl::detail
