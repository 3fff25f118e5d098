#pragma once
// Helpers for the store, query engine and rule tests: a temporary directory,
// process records built in one line, and a second (test-owned) SQLite
// connection to look at what the Store really wrote.

#include <gtest/gtest.h>
#include <stdlib.h>

#include <airssys/daemoneye/process_record.hpp>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

#include "sqlite_util.hpp"
#include "test_temp_dir.hpp"

namespace airssys::daemoneye::test {

// One temp-dir helper for the library's tests (test_temp_dir.hpp).
using testing::TempDir;
using testing::write_file;

// A plausible user process; tests change the fields they care about.
inline ProcessRecord proc(std::int64_t pid, std::string name, std::string path = "/usr/bin/true",
                          std::string cmdline = "", std::int64_t parent = 1) {
  ProcessRecord r;
  r.pid = pid;
  r.parent = parent;
  r.pgroup = pid;
  r.sid = pid;
  r.name = std::move(name);
  r.path = std::move(path);
  r.cmdline = cmdline.empty() ? r.path : std::move(cmdline);
  r.cwd = "/";
  r.root = "/";
  r.uid = r.gid = r.euid = r.egid = r.suid = r.sgid = 1000;
  r.username = "alice";
  r.auid = 1000;
  r.on_disk = 1;
  r.root_is_host = 1;  // the host's root, and its path names the image there too
  r.host_on_disk = 1;
  r.state = "S";
  r.threads = 1;
  r.start_time = 1764000000 + pid;
  r.user_time = 10;
  r.system_time = 5;
  r.resident_size = 4096 * 100;
  r.total_size = 4096 * 1000;
  r.disk_bytes_read = 0;
  r.disk_bytes_written = 0;
  r.cgroup_path = "/user.slice";
  r.sha256 = std::string(64, 'a');
  r.start_ticks = 1000 + static_cast<std::uint64_t>(pid);
  return r;
}

// A separate read-write connection owned by the test (never the Store's).
class Peek {
 public:
  explicit Peek(const std::filesystem::path& db) {
    auto c = sqlite::open(db.string(), SQLITE_OPEN_READWRITE);
    if (!c) throw std::runtime_error(c.error().message);
    db_ = std::move(*c);
  }
  [[nodiscard]] std::int64_t integer(const std::string& sql) {
    auto v = sqlite::query_int(db_.get(), sql.c_str());
    if (!v) throw std::runtime_error(v.error().message);
    return *v;
  }
  [[nodiscard]] std::string text(const std::string& sql) {
    auto s = sqlite::prepare(db_.get(), sql);
    if (!s) throw std::runtime_error(s.error().message);
    if (::sqlite3_step(s->get()) != SQLITE_ROW) throw std::runtime_error("no row: " + sql);
    const auto* p = reinterpret_cast<const char*>(::sqlite3_column_text(s->get(), 0));
    return p != nullptr ? p : "";
  }
  void exec(const std::string& sql) {
    if (auto r = sqlite::exec(db_.get(), sql.c_str()); !r) throw std::runtime_error(r.error().message);
  }
  [[nodiscard]] sqlite3* get() const { return db_.get(); }

 private:
  sqlite::Db db_;
};

}  // namespace airssys::daemoneye::test
