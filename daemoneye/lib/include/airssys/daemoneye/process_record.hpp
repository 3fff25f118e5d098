#pragma once
// ProcessRecord — one process as DaemonEye sees it: the row of the
// `processes` table and the body of every events.process.* message.
//
// Column names and units follow osquery's `processes` table so that queries
// written for osquery run unchanged (docs/daemoneye.md "Tables"):
//   times in milliseconds (user_time, system_time), sizes in bytes,
//   start_time in Unix seconds, ids as the kernel reports them (an unset
//   loginuid is 4294967295, as in osquery).
// Fields that could not be read (permission, process gone) keep their
// defaults: -1 for numbers, "" for text; `partial` says some were missing.

#include <cstdint>
#include <string>

namespace airssys::daemoneye {

struct ProcessRecord {
  std::int64_t pid = -1;
  std::int64_t parent = -1;
  std::int64_t pgroup = -1;
  std::int64_t sid = -1;
  std::string name;     // comm (at most 15 bytes, as the kernel keeps it)
  std::string path;     // readlink /proc/PID/exe, without a " (deleted)" suffix
  std::string cmdline;  // argv joined with spaces; secrets redacted (redact.hpp)
  std::string cwd;
  std::string root;
  std::int64_t uid = -1, gid = -1, euid = -1, egid = -1, suid = -1, sgid = -1;
  std::string username;  // of uid; "" when unknown
  std::int64_t auid = -1;  // loginuid; 4294967295 = never set
  int on_disk = -1;        // 1 the executable exists, 0 deleted or replaced, -1 unknown
  std::string state;       // one letter: R S D Z T t X I …
  std::int64_t threads = -1;
  std::int64_t nice = 0;
  std::int64_t start_time = -1;  // Unix seconds
  std::int64_t user_time = -1;   // ms
  std::int64_t system_time = -1; // ms
  std::int64_t resident_size = -1;  // bytes
  std::int64_t total_size = -1;     // bytes (virtual)
  std::int64_t disk_bytes_read = -1;
  std::int64_t disk_bytes_written = -1;
  std::string cgroup_path;  // the v2 (0::) path, else the first v1 path
  std::string tty;          // "pts/3", "tty1", or "" without a controlling terminal
  std::string sha256;       // of the executable; "" when not hashed (unreadable, too big, gone)
  double cpu_percent = 0.0; // of one core, over the interval since the previous scan
  std::string container_id; // docker/podman/containerd id found in cgroup_path, else ""
  // Not osquery's (schema 5): is the running image the file the host sees at
  // `path`? on_disk also looks through the process's own root and mounts, so
  // a file mounted over `path` in a private mount namespace reads as on disk
  // there; these two say what the host's mount namespace (procmond's) sees.
  int root_is_host = -1;  // 1 /proc/PID/root is the host's "/" (same dev+inode), 0 another root
                          // (container, chroot, sandbox), -1 unknown
  int host_on_disk = -1;  // 1 `path` looked up in the host's mount namespace is the running image,
                          // 0 another file or nothing is there (or the image is deleted), -1 unknown

  // Not columns: identity and bookkeeping.
  std::uint64_t start_ticks = 0;  // clock ticks since boot (stat field 22): (pid, start_ticks) is unique
  std::uint64_t exe_dev = 0, exe_ino = 0;  // of the executable, 0 when unknown
  bool partial = false;  // some fields could not be read (permission or a race)

  friend bool operator==(const ProcessRecord&, const ProcessRecord&) = default;
};

}  // namespace airssys::daemoneye
