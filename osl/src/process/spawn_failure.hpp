#pragma once
// Why a child could not start, in words that name the real cause. The errno
// of a failed chdir/execve alone points the wrong way: ENOENT from execve
// means a missing '#!' interpreter or dynamic loader when the program itself
// exists, EACCES is also what a directory gives, ENOEXEC is what a script
// without a '#!' line gives, and ENOENT from chdir names the program instead
// of the working directory.

#include <airssys/osl/detail/shown_text.hpp>
#include <airssys/osl/error.hpp>

#include <string>
#include <string_view>

namespace airssys::osl::detail {

// Paths and names the caller gave (program, argv[0], a '#!' interpreter,
// the working directory, a tool) are shown with detail::shown_path, as the
// fs layer's own messages (the resolver's, open_beneath's) show theirs.

enum class FailedStep { chdir, exec, other };

// `program_fd`: the pinned (O_PATH) fd of the program, read only to explain;
// `stage_text`: what the child was doing, for the general message.
[[nodiscard]] Error explain_spawn_failure(int err, FailedStep step, std::string_view stage_text, int program_fd,
                                          const std::string& program_path, const std::string& cwd);

}  // namespace airssys::osl::detail
