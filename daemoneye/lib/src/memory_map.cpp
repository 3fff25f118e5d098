#include <airssys/daemoneye/memory_map.hpp>

#include <airssys/osl/unique_fd.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <charconv>
#include <memory>

namespace airssys::daemoneye {

namespace {

// The next space-separated field of `l`, removed from it with the spaces after.
std::string_view next_field(std::string_view& l) {
  const auto sp = l.find(' ');
  const std::string_view f = l.substr(0, sp);
  l.remove_prefix(sp == std::string_view::npos ? l.size() : sp);
  const auto at = l.find_first_not_of(' ');
  l.remove_prefix(at == std::string_view::npos ? l.size() : at);
  return f;
}

bool is_hex(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

}  // namespace

std::optional<MemoryMapRow> parse_maps_line(std::string_view l, std::int32_t pid) {
  // start-end perms offset major:minor inode   path
  const std::string_view range = next_field(l);
  const std::string_view perms = next_field(l);
  const std::string_view offset = next_field(l);
  const std::string_view device = next_field(l);
  const std::string_view inode = next_field(l);
  const auto dash = range.find('-');
  if (dash == std::string_view::npos || !is_hex(range.substr(0, dash)) || !is_hex(range.substr(dash + 1)) ||
      perms.size() != 4 || !is_hex(offset) || device.find(':') == std::string_view::npos || inode.empty()) {
    return std::nullopt;
  }
  MemoryMapRow r;
  r.pid = pid;
  std::uint64_t off = 0, ino = 0;
  if (std::from_chars(offset.data(), offset.data() + offset.size(), off, 16).ec != std::errc{}) return std::nullopt;
  const auto [end, ec] = std::from_chars(inode.data(), inode.data() + inode.size(), ino);
  if (ec != std::errc{} || end != inode.data() + inode.size()) return std::nullopt;
  r.start = "0x" + std::string(range.substr(0, dash));
  r.end = "0x" + std::string(range.substr(dash + 1));
  r.permissions = std::string(perms);
  r.offset = static_cast<std::int64_t>(off);  // an offset past 2^63 reads negative, as osquery's BIGINT
  r.device = std::string(device);
  r.inode = static_cast<std::int64_t>(ino);
  r.path = std::string(l);  // the rest of the line: a file name may hold spaces
  r.pseudo = (ino == 0 && !r.path.empty()) ? 1 : 0;
  return r;
}

bool kept_past_a_bound(const MemoryMapRow& r) {
  if (r.inode == 0) return false;  // anonymous, [vdso]: no file to name
  for (std::string_view dir : {"/usr/", "/bin/", "/sbin/", "/lib/", "/lib32/", "/lib64/", "/libx32/", "/opt/",
                               "/snap/", "/nix/store/"})
    if (r.path.starts_with(dir)) return false;
  return true;
}

MapsRead read_executable_maps(int proc_dir, std::int32_t pid, std::size_t read_max, std::size_t rows_max) {
  MapsRead out;
  const osl::UniqueFd fd(::openat(proc_dir, "maps", O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) return out;
  constexpr std::size_t kChunk = 64 * 1024;
  const auto chunk = std::make_unique<char[]>(kChunk);
  // Past either bound the rest is still scanned, up to this, for rows
  // kept_past_a_bound(): regions padded in below a payload do not hide it.
  const std::size_t scan_max = read_max * kMapsScanFactor;
  std::size_t extra = 0;
  std::string buf;
  std::size_t total = 0;
  for (;;) {
    if (total >= read_max) out.cut_bytes = true;
    if (total >= scan_max || extra > kMapsExtraMax) break;
    const ssize_t n = ::read(fd.get(), chunk.get(), std::min(kChunk, scan_max - total));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return out;  // the process went, or is not ours to read
    if (n == 0) break;
    total += static_cast<std::size_t>(n);
    buf.append(chunk.get(), static_cast<std::size_t>(n));
    std::size_t from = 0;
    for (std::size_t nl; (nl = buf.find('\n', from)) != std::string::npos; from = nl + 1) {
      const std::string_view line(buf.data() + from, nl - from);
      // perms is the second field: "start-end rwxp"; a cheap test before parsing.
      const auto sp = line.find(' ');
      if (sp == std::string_view::npos || sp + 3 >= line.size() || line[sp + 3] != 'x') continue;
      auto row = parse_maps_line(line, pid);
      if (!row) continue;
      if (!out.cut_bytes && out.rows.size() < rows_max) {
        out.rows.push_back(std::move(*row));
        continue;
      }
      if (!out.cut_bytes) out.cut_rows = true;
      if (kept_past_a_bound(*row) && ++extra <= kMapsExtraMax) out.rows.push_back(std::move(*row));
    }
    buf.erase(0, from);
  }
  if (out.cut_bytes || out.cut_rows) {
    // The mark a rule can see (library-from-tmp raises on it).
    MemoryMapRow mark;
    mark.pid = pid;
    mark.start = mark.end = "0x0";
    mark.permissions = "----";
    mark.device = "00:00";
    mark.path = std::string(kMapsCutPath);
    mark.pseudo = 1;
    out.rows.push_back(std::move(mark));
  }
  out.ok = true;
  return out;
}

std::optional<LiveThread> live_thread(int proc_dir, std::int32_t pid) {
  const int task = ::openat(proc_dir, "task", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (task < 0) return std::nullopt;
  const std::unique_ptr<DIR, int (*)(DIR*)> d(::fdopendir(task), ::closedir);
  if (!d) {
    ::close(task);
    return std::nullopt;
  }
  while (const dirent* e = ::readdir(d.get())) {
    std::int32_t tid = 0;
    const std::string_view name(e->d_name);
    const auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), tid);
    if (ec != std::errc{} || end != name.data() + name.size() || tid == pid) continue;
    osl::UniqueFd dir(::openat(task, e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW));
    if (!dir) continue;
    const osl::UniqueFd st(::openat(dir.get(), "stat", O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!st) continue;
    char buf[1024];
    const ssize_t n = ::read(st.get(), buf, sizeof buf);
    if (n <= 0) continue;
    // "tid (comm) state ppid ...": comm may hold spaces and ')', so the
    // fields are counted from the last ')'; vsize is field 23, state 3.
    std::string_view l(buf, static_cast<std::size_t>(n));
    const auto paren = l.rfind(')');
    if (paren == std::string_view::npos) continue;
    l.remove_prefix(std::min(l.size(), paren + 2));
    std::string_view state, vsize;
    for (int field = 3; field <= 23 && !l.empty(); ++field) {
      const std::string_view f = next_field(l);
      if (field == 3) state = f;
      if (field == 23) vsize = f;
    }
    std::int64_t vs = 0;
    if (state == "Z" || state == "X" || vsize.empty() ||
        std::from_chars(vsize.data(), vsize.data() + vsize.size(), vs).ec != std::errc{} || vs <= 0)
      continue;
    return LiveThread{std::move(dir), vs};
  }
  return std::nullopt;
}

}  // namespace airssys::daemoneye
