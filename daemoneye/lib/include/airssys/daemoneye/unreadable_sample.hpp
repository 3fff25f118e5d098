#pragma once
// Which processes a collection could read only in part, and what of each
// (status.json scans.last.unreadable_sample, `daemoneye-cli status`).
//
// A ProcessRecord says only that it is partial; the fields it could not
// read keep their defaults (process_record.hpp: -1, ""), so what was not
// read is told from them: uid -1 → /proc/PID/status, path "" →
// /proc/PID/exe, cwd "" → /proc/PID/cwd, root "" → /proc/PID/root,
// disk_bytes_read -1 → /proc/PID/io; failing those, cgroup_path "" →
// /proc/PID/cgroup, auid -1 → /proc/PID/loginuid. A partial record with
// none of those left unknown failed a read that leaves no trace in it (its
// command line, or its image or hash: the file system did not answer): it
// says "unknown: " and names what it may have been, blaming neither.
// Without root, the kernel hides exe, cwd, root and io of other users'
// processes.

#include <airssys/daemoneye/agent_status.hpp>
#include <airssys/daemoneye/process_record.hpp>

#include <span>
#include <string>
#include <vector>

namespace airssys::daemoneye {

// What of `r` could not be read, as above (empty for a record not partial).
[[nodiscard]] std::vector<std::string> unread_parts(const ProcessRecord& r);

// The first kUnreadableSampleMax partial records of `all`, in their order.
[[nodiscard]] std::vector<UnreadableProcess> unreadable_sample(std::span<const ProcessRecord> all);

}  // namespace airssys::daemoneye
