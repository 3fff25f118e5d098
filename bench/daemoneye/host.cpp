#include "host.hpp"

#include <airssys/osl/proc.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <vector>

namespace airssys::daemoneye::bench {
namespace proc = airssys::osl::proc;

std::expected<std::string, std::string> read_text(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return std::unexpected(path + ": " + std::strerror(errno));
  std::string out;
  char buf[16384];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int e = errno;
      ::close(fd);
      return std::unexpected(path + ": " + std::strerror(e));
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

std::expected<void, std::string> write_new_file(const std::string& path, const std::string& text) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return std::unexpected(path + ": " + std::strerror(errno));
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int e = errno;
      ::close(fd);
      return std::unexpected(path + ": " + std::strerror(e));
    }
    done += static_cast<std::size_t>(n);
  }
  if (::close(fd) != 0) return std::unexpected(path + ": close: " + std::strerror(errno));
  return {};
}

std::size_t count_processes() {
  auto r = proc::Reader::open();
  if (!r) return 0;
  std::vector<pid_t> pids;
  if (!r->list_pids(pids)) return 0;
  return pids.size();
}

namespace {
// The number after `key` in a "Key:   123 kB" style text.
std::optional<std::uint64_t> field_after(std::string_view text, std::string_view key) {
  const auto at = text.find(key);
  if (at == std::string_view::npos) return std::nullopt;
  auto p = text.data() + at + key.size();
  const auto end = text.data() + text.size();
  while (p < end && (*p == ' ' || *p == '\t')) ++p;
  std::uint64_t v = 0;
  if (std::from_chars(p, end, v).ec != std::errc{}) return std::nullopt;
  return v;
}
}  // namespace

std::uint64_t mem_available_kib() {
  auto t = read_text("/proc/meminfo");
  if (!t) return 0;
  return field_after(*t, "MemAvailable:").value_or(0);
}

std::string load_average() {
  auto t = read_text("/proc/loadavg");
  if (!t) return "?";
  std::string_view v = *t;
  std::size_t spaces = 0, i = 0;
  for (; i < v.size(); ++i) {
    if (v[i] == ' ' && ++spaces == 3) break;
  }
  return std::string(v.substr(0, i));
}

std::optional<std::uint64_t> vm_rss_kib(pid_t pid) {
  auto t = read_text("/proc/" + std::to_string(pid) + "/status");
  if (!t) return std::nullopt;
  return field_after(*t, "\nVmRSS:");
}

std::optional<std::uint64_t> cpu_ticks(pid_t pid) {
  auto s = proc::read_stat(pid);
  if (!s) return std::nullopt;
  return s->utime + s->stime;
}

long ticks_per_second() { return proc::clock_ticks_per_second(); }

std::optional<pid_t> find_child(pid_t parent, const std::string& comm) {
  auto r = proc::Reader::open();
  if (!r) return std::nullopt;
  std::vector<pid_t> pids;
  if (!r->list_pids(pids)) return std::nullopt;
  for (pid_t p : pids) {
    auto h = r->open_process(p);
    if (!h) continue;
    auto st = r->stat(*h);
    if (st && st->ppid == parent && st->comm == comm) return p;
  }
  return std::nullopt;
}

std::expected<std::string, std::string> make_temp_dir(const std::string& prefix) {
  const char* base = std::getenv("TMPDIR");
  std::string templ = std::string(base && *base ? base : "/tmp") + "/" + prefix + ".XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) return std::unexpected(templ + ": mkdtemp: " + std::strerror(errno));
  return templ;  // mkdtemp creates it 0700
}

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "?";
  return buf;
}

}  // namespace airssys::daemoneye::bench
