#pragma once
// Differences between two consecutive collections, as process events.
//
// A process is identified by (pid, start_ticks): a recycled pid is a stop of
// the old process and a start of the new one. Events, in this order:
//   stop   in `previous`, not in `current` (carries the last record seen)
//   exec   in both, image changed (image_changed)
//   start  in `current`, not in `previous`, ordered by start_ticks, then pid
//          (a parent's start comes before its children's)
// Stops come first so that a consumer keyed by pid (the agent's `processes`
// table) deletes the old process before it inserts the new one.
//
// Thread safety: pure functions.

#include <airssys/daemoneye/events.hpp>
#include <airssys/daemoneye/process_record.hpp>

#include <cstdint>
#include <span>
#include <vector>

namespace airssys::daemoneye {

// True when `after` runs another image than `before` (the same process, so
// it exec'd): the executable's device+inode differ when both are known,
// else the paths differ when both are known. Unknown on either side (a
// permission error, a kernel thread) is not a change.
[[nodiscard]] bool image_changed(const ProcessRecord& before, const ProcessRecord& after) noexcept;

// A zombie has lost its executable, command line and directories (the
// kernel freed them at exit); the collection before it died still has them.
// Copies path, cmdline, cwd, root, exe_dev/exe_ino, sha256, on_disk,
// root_is_host and host_on_disk from
// `previous` into each zombie of `current` that lacks them (same pid and
// start_ticks), so its row and its stop event say what it was.
void carry_over_zombies(std::span<const ProcessRecord> previous, std::span<ProcessRecord> current);

// Events with source poll and `time` = now (Unix seconds).
[[nodiscard]] std::vector<ProcessEvent> diff(std::span<const ProcessRecord> previous,
                                             std::span<const ProcessRecord> current, std::int64_t now);

}  // namespace airssys::daemoneye
