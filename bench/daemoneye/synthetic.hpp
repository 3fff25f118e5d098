#pragma once
// A made-up process row for the benchmarks that need many rows without
// starting processes (exceptions, accounts): pid 100 + i, a path among 53
// and a name among 97, uid 1000..1006, started an hour before `now`.

#include <airssys/daemoneye/process_record.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

namespace airssys::daemoneye::bench {

[[nodiscard]] inline ProcessRecord synthetic_process(std::size_t i, std::int64_t now) {
  ProcessRecord r;
  r.pid = static_cast<std::int64_t>(100 + i);
  r.parent = 1;
  r.name = "worker-" + std::to_string(i % 97);
  r.path = "/usr/lib/bench/app-" + std::to_string(i % 53) + "/bin/worker";
  r.cmdline = r.path + " --config /etc/bench/worker-" + std::to_string(i) + ".conf --threads 4";
  r.cwd = "/var/lib/bench";
  r.root = "/";
  r.uid = r.euid = r.suid = static_cast<std::int64_t>(1000 + i % 7);
  r.gid = r.egid = r.sgid = r.uid;
  r.state = "S";
  r.threads = 4;
  r.start_time = now - 3600;
  r.start_ticks = 1000 + i;
  r.on_disk = 1;
  return r;
}

}  // namespace airssys::daemoneye::bench
