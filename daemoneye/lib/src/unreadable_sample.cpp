// What of a partial process record could not be read (unreadable_sample.hpp).

#include <airssys/daemoneye/unreadable_sample.hpp>

#include <fmt/format.h>

namespace airssys::daemoneye {

std::vector<std::string> unread_parts(const ProcessRecord& r) {
  std::vector<std::string> out;
  if (!r.partial) return out;
  const auto proc = [&](std::string_view file) { out.push_back(fmt::format("/proc/{}/{}", r.pid, file)); };
  if (r.uid < 0) proc("status");
  if (r.path.empty()) proc("exe");
  if (r.cwd.empty()) proc("cwd");
  if (r.root.empty()) proc("root");
  if (r.disk_bytes_read < 0) proc("io");
  if (!out.empty()) return out;
  // Read only once a process is first seen (then kept): left unknown when
  // that read failed. Not looked at above: a kernel without the file leaves
  // them unknown in a whole record too.
  if (r.cgroup_path.empty()) proc("cgroup");
  if (r.auid < 0) proc("loginuid");
  if (!out.empty()) return out;
  // A failed read of the command line, or of the image (its file system
  // did not answer), leaves no field the record can be told by: both named
  // as possible, neither blamed. A hash stored means the image was read.
  out.push_back(r.sha256.empty()
                    ? fmt::format("unknown: /proc/{}/cmdline, or the executable {} (its image or hash)", r.pid, r.path)
                    : fmt::format("unknown: /proc/{}/cmdline", r.pid));
  return out;
}

std::vector<UnreadableProcess> unreadable_sample(std::span<const ProcessRecord> all) {
  std::vector<UnreadableProcess> out;
  for (const ProcessRecord& r : all) {
    if (out.size() == kUnreadableSampleMax) break;
    if (r.partial) out.push_back({.pid = r.pid, .name = r.name, .missing = unread_parts(r)});
  }
  return out;
}

}  // namespace airssys::daemoneye
