#include "process/spawn_failure.hpp"

#include <airssys/osl/detail/shown_text.hpp>
#include <airssys/osl/unique_fd.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace airssys::osl::detail {

namespace {

// The first bytes of the program (through its pinned fd), "" when unreadable.
std::string head_of(int program_fd) {
  const UniqueFd fd(::open(fmt::format("/proc/self/fd/{}", program_fd).c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  if (!fd) return {};
  std::string buf(256, '\0');
  const ssize_t n = ::pread(fd.get(), buf.data(), buf.size(), 0);
  buf.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
  return buf;
}

// The interpreter path on a '#!' line; "" when there is none.
std::string shebang_interpreter(const std::string& head) {
  if (!head.starts_with("#!")) return {};
  const auto line = std::string_view(head).substr(2, head.find('\n') == std::string::npos ? head.size() - 2 : head.find('\n') - 2);
  const auto b = line.find_first_not_of(" \t");
  if (b == std::string_view::npos) return {};
  const auto e = line.find_first_of(" \t\r", b);
  return std::string(line.substr(b, e == std::string_view::npos ? line.size() - b : e - b));
}

Error with_message(int err, std::string message) {
  Error e = Error::from_errno(err, "");
  e.message = std::move(message);
  return e;
}

}  // namespace

Error explain_spawn_failure(int err, FailedStep step, std::string_view stage_text, int program_fd,
                            const std::string& program_path, const std::string& cwd) {
  if (step == FailedStep::chdir) {
    const std::string shown_cwd = shown_path(cwd);
    if (err == ENOENT) return with_message(err, fmt::format("working directory {} does not exist", shown_cwd));
    if (err == ENOTDIR) return with_message(err, fmt::format("working directory {} is not a directory", shown_cwd));
    if (err == EACCES) return with_message(err, fmt::format("working directory {}: permission denied", shown_cwd));
    return Error::from_errno(err, fmt::format("working directory {}", shown_cwd));
  }
  const std::string program = shown_path(program_path);
  if (step == FailedStep::exec) {
    struct stat st {};
    const bool have_stat = ::fstat(program_fd, &st) == 0;
    if (have_stat && S_ISDIR(st.st_mode)) return with_message(err, fmt::format("{} is a directory, not a program", program));
    const std::string head = have_stat && S_ISREG(st.st_mode) ? head_of(program_fd) : std::string();
    const std::string interpreter = shown_path(shebang_interpreter(head));
    if (err == ENOEXEC && !head.starts_with("#!")) {
      return with_message(err, fmt::format("{} cannot be executed: it is not a program for this system and has no '#!' "
                                           "line naming an interpreter (a script needs one, e.g. #!/bin/sh)",
                                           program));
    }
    if (err == ENOENT && !interpreter.empty()) {
      return with_message(err, fmt::format("{}: its interpreter {} (named on its '#!' line) does not exist", program,
                                           interpreter));
    }
    if (err == ENOENT && head.starts_with("\x7f" "ELF")) {
      return with_message(err, fmt::format("{}: the dynamic loader it names (its ELF interpreter) does not exist here",
                                           program));
    }
    if ((err == EACCES || err == ENOEXEC) && !interpreter.empty()) {
      return with_message(err, fmt::format("{}: its interpreter {} (named on its '#!' line) cannot be executed: {}",
                                           program, interpreter, std::strerror(err)));
    }
    if (err == EACCES && have_stat && S_ISREG(st.st_mode) && (st.st_mode & 0111) == 0) {
      return with_message(err, fmt::format("{} is not executable (no execute permission)", program));
    }
  }
  return Error::from_errno(err, fmt::format("{}: {}", program, stage_text));
}

}  // namespace airssys::osl::detail
