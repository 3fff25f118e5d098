#include <airssys/testing/child.hpp>
#include <airssys/testing/run.hpp>

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <stdexcept>

namespace airssys::testing {

namespace {

// An anonymous memory file, closed when this goes.
struct MemFile {
  int fd;
  explicit MemFile(const char* name) : fd(::memfd_create(name, MFD_CLOEXEC)) {
    if (fd < 0) throw std::runtime_error(std::string("run: memfd_create failed: ") + std::strerror(errno));
  }
  ~MemFile() { ::close(fd); }
  MemFile(const MemFile&) = delete;
  MemFile& operator=(const MemFile&) = delete;

  [[nodiscard]] std::string read_all() const {
    std::string out;
    char buf[65536];
    off_t at = 0;
    while (true) {
      const ssize_t n = ::pread(fd, buf, sizeof buf, at);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      out.append(buf, static_cast<std::size_t>(n));
      at += n;
    }
    return out;
  }
  void write_all(std::string_view data) const {
    while (!data.empty()) {
      const ssize_t n = ::write(fd, data.data(), data.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) throw std::runtime_error("run: writing stdin to a memfd failed");
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    ::lseek(fd, 0, SEEK_SET);
  }
};

}  // namespace

RunResult run(const std::vector<std::string>& argv, const RunOptions& options) {
  MemFile out("run-stdout"), err("run-stderr");
  std::optional<MemFile> in;
  SpawnOptions so;
  so.env = options.env;
  so.cwd = options.cwd;
  so.stdout_fd = out.fd;
  so.stderr_fd = err.fd;
  if (!options.input.empty()) {
    in.emplace("run-stdin");
    in->write_all(options.input);
    so.stdin_fd = in->fd;
  }
  RunResult r;
  {
    Child child(argv, so);
    r.status = child.wait(options.timeout).value_or(-1);
    // An overrun child is killed and reaped here, before its output is read.
  }
  r.out = out.read_all();
  r.err = err.read_all();
  return r;
}

}  // namespace airssys::testing
