// accounts: what procmond's reading of the host's passwd and group files
// (HostAccounts, docs/daemoneye.md "users", "groups") adds to each
// collection. For the host's /etc/passwd + /etc/group, and for synthetic
// files of `acc_entries` users and as many groups in the work dir:
//
//   refresh      HostAccounts::refresh() with both files unchanged, as each
//                collection calls it: two opens + fstat (no read), and the
//                copy of the rows it hands to the snapshot
//   stat_only    AccountFile::refresh() of both, unchanged: the opens + fstat
//   reread       the same after the file's mtime changed: read and parse
//   wire         a collection of `acc_processes` synthetic processes turned
//                into snapshot chunks, each encoded and decoded again (what
//                procmond publishes and the agent reads), with the accounts
//                and without them (the peer, same run, alternated)
//
// `runs` timed calls each (µs, wall time around the call).

#include "host.hpp"
#include "scenarios.hpp"
#include "stats.hpp"
#include "synthetic.hpp"

#include "host_accounts.hpp"

#include <airssys/daemoneye/events.hpp>
#include <airssys/daemoneye/snapshot_chunks.hpp>

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>

namespace airssys::daemoneye::bench {

namespace {

double us_since(Clock::time_point t0) { return ms_since(t0) * 1000.0; }

std::expected<void, std::string> write_accounts(const std::string& passwd, const std::string& group, std::size_t n) {
  std::ofstream p(passwd), g(group);
  for (std::size_t i = 0; i < n; ++i) {
    p << "user" << i << ":x:" << 10000 + i << ":" << 10000 + i << ":Bench User " << i << ",,,:/home/user" << i
      << ":/bin/bash\n";
    g << "group" << i << ":x:" << 10000 + i << ":user" << i << "\n";
  }
  p.close();
  g.close();
  if (!p || !g) return std::unexpected("writing " + passwd + " / " + group);
  for (const auto& f : {passwd, group}) {
    if (::chmod(f.c_str(), 0644) != 0) return std::unexpected(f + ": " + std::strerror(errno));
  }
  return {};
}

// Moves the file's mtime on by one second: the next refresh reads it again.
std::expected<void, std::string> touch_later(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::unexpected(path + ": " + std::strerror(errno));
  timespec times[2] = {st.st_atim, st.st_mtim};
  times[1].tv_sec += 1;
  if (::utimensat(AT_FDCWD, path.c_str(), times, 0) != 0) return std::unexpected(path + ": " + std::strerror(errno));
  return {};
}

// The snapshot's chunks encoded and decoded again; the decoded rows counted.
std::size_t round_trip(const std::vector<ProcessRecord>& records, const SnapshotAccounts& accounts) {
  std::size_t rows = 0;
  for (const SnapshotChunk& c : make_snapshot_chunks(records, SnapshotHeader{.scan_id = 1, .time = 1}, kSnapshotChunkBytes,
                                                     {}, accounts)) {
    auto d = decode_snapshot(encode(c));
    if (d) rows += d->processes.size() + d->users.size() + d->groups.size();
  }
  return rows;
}

std::expected<void, std::string> one_set(const Options& o, const std::string& label, const std::string& passwd,
                                         const std::string& group, const std::vector<ProcessRecord>& records) {
  std::string said;
  HostAccounts host(passwd, group, [&](const std::string& m) { said += m + "\n"; });
  SnapshotAccounts first = host.refresh();
  if (!said.empty()) return std::unexpected(label + ": " + said);
  const std::size_t users = first.users ? first.users->size() : 0, groups = first.groups ? first.groups->size() : 0;
  const auto line = [&](const char* what, const std::vector<double>& us, const std::string& more = "") {
    emit("\"bench\":\"accounts\",\"files\":" + json_string(label) + ",\"users\":" + std::to_string(users) +
         ",\"groups\":" + std::to_string(groups) + ",\"what\":\"" + what + "\"," + json_summary("us", summarize(us)) +
         more + ",\"load\":\"" + load_average() + "\"");
  };

  std::vector<double> refresh, stat_only, reread;
  for (int i = 0; i < o.runs; ++i) {
    auto t0 = Clock::now();
    SnapshotAccounts a = host.refresh();
    refresh.push_back(us_since(t0));
    if (!a.users) return std::unexpected(label + ": no users after a refresh");
  }
  AccountFile<UserAccount> pf(passwd);
  AccountFile<GroupAccount> gf(group);
  (void)pf.refresh();
  (void)gf.refresh();
  for (int i = 0; i < o.runs; ++i) {
    auto t0 = Clock::now();
    auto a = pf.refresh();
    auto b = gf.refresh();
    stat_only.push_back(us_since(t0));
    if (!a || !b || *a || *b) return std::unexpected(label + ": an unchanged file was read again or failed");
  }
  const std::uint64_t reads_before = host.counters().reads;
  for (int i = 0; i < o.runs; ++i) {
    if (auto t = touch_later(passwd); !t) return std::unexpected(t.error());
    if (auto t = touch_later(group); !t) return std::unexpected(t.error());
    auto t0 = Clock::now();
    (void)host.refresh();
    reread.push_back(us_since(t0));
  }
  if (host.counters().reads != reads_before + 2 * static_cast<std::uint64_t>(o.runs))
    return std::unexpected(label + ": a touched file was not read again");

  std::vector<double> with, without;
  std::size_t rows_with = 0, rows_without = 0;
  const SnapshotAccounts none;
  for (int i = 0; i < o.runs; ++i) {
    auto t0 = Clock::now();
    rows_without = round_trip(records, none);
    without.push_back(us_since(t0));
    t0 = Clock::now();
    rows_with = round_trip(records, first);
    with.push_back(us_since(t0));
  }
  line("refresh", refresh);
  line("stat_only", stat_only);
  line("reread", reread);
  line("wire_without", without, ",\"processes\":" + std::to_string(records.size()) + ",\"rows\":" + std::to_string(rows_without));
  line("wire_with", with, ",\"processes\":" + std::to_string(records.size()) + ",\"rows\":" + std::to_string(rows_with));
  return {};
}

}  // namespace

std::expected<void, std::string> bench_accounts(const Options& o) {
  std::vector<ProcessRecord> records;
  for (std::size_t i = 0; i < o.acc_processes; ++i) records.push_back(synthetic_process(i, 1'800'000'000));
  if (auto r = one_set(o, "/etc", "/etc/passwd", "/etc/group", records); !r) return r;
  const std::string passwd = o.work_dir + "/passwd", group = o.work_dir + "/group";
  if (auto w = write_accounts(passwd, group, o.acc_entries); !w) return w;
  return one_set(o, "synthetic", passwd, group, records);
}

}  // namespace airssys::daemoneye::bench
