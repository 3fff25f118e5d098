#include "input.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include <fmt/format.h>

namespace airssys::ledger::cli {

namespace {

// "1073741824 bytes (1 GiB)" style, for messages.
std::string bytes_text(std::uint64_t n) {
  if (n >= (1u << 30) && n % (1u << 30) == 0) return fmt::format("{} bytes ({} GiB)", n, n >> 30);
  if (n >= (1u << 20) && n % (1u << 20) == 0) return fmt::format("{} bytes ({} MiB)", n, n >> 20);
  if (n >= (1u << 10) && n % (1u << 10) == 0) return fmt::format("{} bytes ({} KiB)", n, n >> 10);
  return fmt::format("{} bytes", n);
}

std::unexpected<Error> too_large(const std::string& name, std::uint64_t limit, const std::string& what) {
  return fail(ErrorCategory::invalid_argument, fmt::format("{} is larger than {}, {}", name, what, bytes_text(limit)));
}

std::string_view type_name(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  return "not a regular file";
}

// Reads fd to EOF; the buffer grows geometrically, so the cost is linear.
Result<std::vector<std::uint8_t>> read_fd(int fd, const std::string& name, std::uint64_t limit, const std::string& what) {
  std::vector<std::uint8_t> data;
  std::size_t used = 0;
  for (;;) {
    if (used == data.size()) {
      // Room for one byte past the limit tells "exactly at" from "beyond".
      const std::uint64_t cap = limit + 1;
      const std::size_t next = static_cast<std::size_t>(std::min<std::uint64_t>(cap, std::max<std::size_t>(64 * 1024, data.size() * 2)));
      if (next <= used) return too_large(name, limit, what);
      data.resize(next);
    }
    const ssize_t r = ::read(fd, data.data() + used, data.size() - used);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {  // a non-blocking source (an inherited stdin): wait for it
        const int flags = ::fcntl(fd, F_GETFL);
        if (flags >= 0 && ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == 0) continue;
      }
      return std::unexpected(Error::from_errno(errno, "read " + name));
    }
    if (r == 0) break;
    used += static_cast<std::size_t>(r);
    if (used > limit) return too_large(name, limit, what);
  }
  data.resize(used);
  return data;
}

}  // namespace

Result<std::vector<std::uint8_t>> read_bounded(const std::string& path, std::uint64_t limit, const std::string& what) {
  // O_NONBLOCK: opening a FIFO nobody writes to must not hang here.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) return std::unexpected(Error::from_errno(errno, "open " + path));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) return std::unexpected(Error::from_errno(errno, "fstat " + path));
  // Devices are refused: /dev/zero and /dev/urandom never end, a terminal
  // belongs on standard input. A pipe (`<(cmd)`, a FIFO) is read to the limit.
  if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode))
    return fail(ErrorCategory::invalid_argument,
                fmt::format("{} is {}; give a regular file or a pipe", path, type_name(st.st_mode)));
  if (S_ISREG(st.st_mode) && static_cast<std::uint64_t>(st.st_size) > limit) return too_large(path, limit, what);
  // From here on reads may wait (a FIFO's writer, a terminal): that is what
  // was asked for. A FIFO no writer has opened yet reads as end of file, so
  // first wait for its writer: Linux reports POLLHUP on a FIFO only once a
  // writer has come (and gone), POLLIN once it wrote. SIGINT still ends us.
  if (S_ISFIFO(st.st_mode)) {
    pollfd p{fd, POLLIN, 0};
    while (::poll(&p, 1, -1) < 0) {
      if (errno != EINTR) return std::unexpected(Error::from_errno(errno, "poll " + path));
    }
  }
  if (const int flags = ::fcntl(fd, F_GETFL); flags >= 0) (void)::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  return read_fd(fd, path, limit, what);
}

Result<std::vector<std::uint8_t>> read_stdin_bounded(std::uint64_t limit, const std::string& what) {
  return read_fd(STDIN_FILENO, "standard input", limit, what);
}

Result<void> read_stdin_lines(std::uint64_t max_line, const LinesHandler& on_lines) {
  std::vector<std::uint8_t> pending;  // the unfinished line, then what one read added
  std::vector<std::uint8_t> buf(1 << 20);
  std::uint64_t line_no = 0;
  for (;;) {
    const ssize_t r = ::read(STDIN_FILENO, buf.data(), buf.size());
    if (r < 0) {
      if (errno == EINTR) continue;
      return std::unexpected(Error::from_errno(errno, "read standard input"));
    }
    if (r == 0) break;
    // Only the new bytes are searched for '\n': `pending` holds none.
    std::vector<std::vector<std::uint8_t>> lines;
    const auto* begin = buf.data();
    const auto* end = buf.data() + r;
    for (const auto* p = begin; p != end;) {
      const auto* nl = std::find(p, end, std::uint8_t{'\n'});
      if (pending.size() + static_cast<std::size_t>(nl - p) > max_line)
        return fail(ErrorCategory::invalid_argument,
                    fmt::format("standard input: line {} is longer than the maximum entry size, {}", line_no + 1,
                                bytes_text(max_line)));
      pending.insert(pending.end(), p, nl);
      if (nl == end) break;
      lines.push_back(std::move(pending));
      pending.clear();
      ++line_no;
      p = nl + 1;
    }
    if (!lines.empty()) {
      if (auto rc = on_lines(lines); !rc) return rc;
    }
  }
  if (!pending.empty()) return on_lines({pending});
  return {};
}

}  // namespace airssys::ledger::cli
