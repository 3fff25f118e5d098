#include <airssys/watchdog/task_log_files.hpp>

#include <airssys/watchdog/task_status.hpp>

#include <fcntl.h>
#include <sys/stat.h>

namespace airssys::watchdog {

namespace {

osl::UniqueFd open_log(const std::filesystem::path& path) {
  osl::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
  struct stat st {};
  if (!fd || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return {};
  return fd;
}

}  // namespace

std::expected<TaskLogFiles, Error> open_task_logs(const Registry& reg, const std::string& id) {
  auto t = find_task(reg, id);
  if (!t) return std::unexpected(t.error());
  TaskLogFiles f;
  f.stdout_path = reg.log_path(t->id, "stdout");
  f.stderr_path = reg.log_path(t->id, "stderr");
  f.stdout_fd = open_log(f.stdout_path);
  f.stderr_fd = open_log(f.stderr_path);
  return f;
}

}  // namespace airssys::watchdog
