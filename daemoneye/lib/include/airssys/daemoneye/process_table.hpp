#pragma once
// Processes as an aligned text table, for people at a terminal
// (`procmond --once --format table`, later daemoneye-cli):
//
//     PID  PARENT USER     S  CPU%    RSS NAME            CMDLINE
//       1       0 root     S   0.0  11.2M systemd         /sbin/init splash
//
// Columns: pid, parent, user (username, else the uid), state, cpu%
// (cpu_percent, one decimal), rss (resident_size in K/M/G, 1024-based),
// name, cmdline (the name in brackets when empty, as ps does for kernel
// threads). Each line is cut to `width` bytes (0: no limit), never inside a
// UTF-8 character. Control bytes in names and command lines are shown as '?'
// so a hostile process name cannot drive the operator's terminal.
//
// Thread safety: pure function.

#include <airssys/daemoneye/process_record.hpp>

#include <cstddef>
#include <span>
#include <string>

namespace airssys::daemoneye {

[[nodiscard]] std::string format_process_table(std::span<const ProcessRecord> processes, std::size_t width = 0);

// 0 → "0", 1536 → "1.5K", 12_000_000 → "11.4M"; negative (unknown) → "-".
[[nodiscard]] std::string human_bytes(std::int64_t bytes);

}  // namespace airssys::daemoneye
