#pragma once
// osquery's process_memory_map rows, executable regions only
// (docs/daemoneye.md "process_memory_map").
//
// A process has hundreds of regions (every library maps three or four, and
// heaps, stacks and thread arenas add more); what detection needs is the
// code it runs: libraries loaded from where no library belongs, memfd- or
// deleted-file-backed code, executable pseudo regions. So only lines whose
// permissions hold 'x' are kept, about one per library.
//
// Reading /proc/PID/maps takes the target's mmap lock for each chunk the
// kernel fills, so the collector reads a process's maps at first sight and
// again only when its vsize changed (collector.cpp), and the read here is
// bounded: at most kMapsReadMax bytes (a process with 65,530 regions writes
// about 6 MiB) and kMapsRowsMax executable rows per process. Past either
// bound the file is still scanned (up to kMapsScanFactor times
// kMapsReadMax) for executable regions of a file outside the package
// directories, of which kMapsExtraMax more are kept: a payload mapped
// above thousands of padding regions is not pushed out. A cut process
// gets one more row, path kMapsCutPath, that library-from-tmp raises on.
//
// Thread safety: pure functions.

#include <airssys/osl/unique_fd.hpp>

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace airssys::daemoneye {

struct MemoryMapRow {
  std::int32_t pid = 0;
  std::string start;        // "0x" and the address as maps writes it ("0x7f3a1c000000")
  std::string end;
  std::string permissions;  // "r-xp"
  std::int64_t offset = 0;  // into the mapped file
  std::string device;       // "MAJ:MIN" in hex, as maps writes it ("fd:01")
  std::int64_t inode = 0;   // 0: no file (anonymous, [vdso])
  std::string path;         // the kernel's text: "/memfd:x (deleted)", "[vdso]", "" for anonymous
  std::int32_t pseudo = 0;  // 1 when the region has a name but no file (osquery: inode 0, path not empty)
  bool operator==(const MemoryMapRow&) const = default;
};

inline constexpr std::size_t kMapsReadMax = 8 * 1024 * 1024;
inline constexpr std::size_t kMapsRowsMax = 4096;
inline constexpr std::size_t kMapsScanFactor = 4;
inline constexpr std::size_t kMapsExtraMax = 64;
// The path of the row that marks a cut process (start, end "0x0", inode 0,
// pseudo 1): no kernel name, which all start '[', is this one.
inline constexpr std::string_view kMapsCutPath = "[cut]";

// One line of /proc/PID/maps (without its newline) as a row of `pid`;
// nothing when it is malformed. The path keeps the kernel's escapes ("\012"
// for a newline in a file name) and its " (deleted)" suffix.
[[nodiscard]] std::optional<MemoryMapRow> parse_maps_line(std::string_view line, std::int32_t pid);

struct MapsRead {
  bool ok = false;            // the file was opened and read to its end or a bound
  bool cut_bytes = false;     // more than kMapsReadMax bytes: the rest only scanned
  bool cut_rows = false;      // more than kMapsRowsMax executable regions: the rest only scanned
  std::vector<MemoryMapRow> rows;  // executable regions, in address order; the kMapsCutPath row last when cut
};

// Reads "maps" under the /proc/PID directory fd `proc_dir` in 64 KiB
// chunks, keeping executable regions only (bounds above).
// A row kept past a bound: a file (inode not 0) outside the package
// directories (/usr, /bin, /sbin, /lib*, /opt, /snap, /nix/store).
[[nodiscard]] bool kept_past_a_bound(const MemoryMapRow& row);

[[nodiscard]] MapsRead read_executable_maps(int proc_dir, std::int32_t pid, std::size_t read_max = kMapsReadMax,
                                            std::size_t rows_max = kMapsRowsMax);

// A process whose main thread left with exit(2) while other threads live
// on has a zombie leader: /proc/PID/stat says Z with vsize 0 and
// /proc/PID/maps is empty, while /proc/PID/task/TID/maps of a live thread
// still lists the whole (shared) address space — a way to hide a library
// loaded afterwards. The directory of one live thread other than the
// leader, with the vsize its stat gives; nothing when there is none.
struct LiveThread {
  osl::UniqueFd dir;  // /proc/PID/task/TID
  std::int64_t vsize = 0;
};
[[nodiscard]] std::optional<LiveThread> live_thread(int proc_dir, std::int32_t pid);

}  // namespace airssys::daemoneye
