#pragma once
// An exec's path as given to execve, made as honest as text alone allows
// (event_assembler.cpp; docs/daemoneye.md "process_events").

#include <string>
#include <string_view>

namespace airssys::daemoneye::exec_path {

// An absolute path with "//" and "/./" collapsed and a trailing "/."
// dropped: the same file, always. ".." is kept: through a symlink it is not
// the lexical parent, so "cleaning" it could name another file. A relative
// path is returned as it is.
[[nodiscard]] std::string collapse(std::string_view path);

// True when the text does not say which file ran: relative (depends on the
// cwd), with a ".." component, or through a /proc or /dev/fd magic link
// (/proc/self/cwd/x, /proc/self/fd/3, /dev/fd/3 of fexecve). Such a path is
// replaced by the kernel's own (/proc/PID/exe) when the process still lives.
[[nodiscard]] bool needs_kernel_path(std::string_view collapsed);

}  // namespace airssys::daemoneye::exec_path
