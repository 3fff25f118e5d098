#pragma once
// Why a child could not start, in words that name the real cause. The errno
// of a failed chdir/execve alone points the wrong way: ENOENT from execve
// means a missing '#!' interpreter or dynamic loader when the program itself
// exists, EACCES is also what a directory gives, ENOEXEC is what a script
// without a '#!' line gives, and ENOENT from chdir names the program instead
// of the working directory.

#include <airssys/osl/error.hpp>

#include <string>
#include <string_view>

namespace airssys::osl::detail {

enum class FailedStep { chdir, exec, other };

// `program_fd`: the pinned (O_PATH) fd of the program, read only to explain;
// `stage_text`: what the child was doing, for the general message.
[[nodiscard]] Error explain_spawn_failure(int err, FailedStep step, std::string_view stage_text, int program_fd,
                                          const std::string& program, const std::string& cwd);

}  // namespace airssys::osl::detail
