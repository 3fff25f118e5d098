#pragma once
// What the DaemonEye benchmarks read about the host and about the processes
// they measure (all from /proc; osl::proc where it has the field).

#include <sys/types.h>

#include <cstdint>
#include <expected>
#include <filesystem>
#include <optional>
#include <string>
#include <system_error>
#include <utility>

namespace airssys::daemoneye::bench {

// The whole of a (small) file, opened O_CLOEXEC | O_NOFOLLOW.
[[nodiscard]] std::expected<std::string, std::string> read_text(const std::string& path);
// Writes `text` to a new file (O_EXCL, 0600).
[[nodiscard]] std::expected<void, std::string> write_new_file(const std::string& path, const std::string& text);

// Thread-group leaders in /proc right now.
[[nodiscard]] std::size_t count_processes();
// MemAvailable of /proc/meminfo, KiB (0 when unreadable).
[[nodiscard]] std::uint64_t mem_available_kib();
// The first three fields of /proc/loadavg ("1.23 0.98 0.50").
[[nodiscard]] std::string load_average();
// VmRSS of /proc/PID/status, KiB; nullopt when the process is gone.
[[nodiscard]] std::optional<std::uint64_t> vm_rss_kib(pid_t pid);
// utime + stime of /proc/PID/stat, clock ticks; nullopt when gone.
[[nodiscard]] std::optional<std::uint64_t> cpu_ticks(pid_t pid);
[[nodiscard]] long ticks_per_second();
// The first child of `parent` whose comm is `comm`; nullopt if none.
[[nodiscard]] std::optional<pid_t> find_child(pid_t parent, const std::string& comm);
// A fresh 0700 directory under $TMPDIR or /tmp.
[[nodiscard]] std::expected<std::string, std::string> make_temp_dir(const std::string& prefix);
// Removes `path` (such a directory) and everything in it on every return
// path; an empty path is left alone.
struct WorkDir {
  std::string path;
  explicit WorkDir(std::string p) : path(std::move(p)) {}
  WorkDir(const WorkDir&) = delete;
  WorkDir& operator=(const WorkDir&) = delete;
  ~WorkDir() {
    if (path.empty()) return;
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};
// gethostname().
[[nodiscard]] std::string host_name();

}  // namespace airssys::daemoneye::bench
