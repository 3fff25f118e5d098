#pragma once
// A read-only view of the agent's process_events, as the real-time benchmark
// reads it while the agent writes: its own SQLite connection
// (SQLITE_OPEN_READONLY, WAL readers never block the writer), statements
// prepared once, so polling every millisecond costs one indexed range scan.
//
// Not thread-safe: one thread per StoreReader.

#include <sqlite3.h>

#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <string>

namespace airssys::daemoneye::bench {

struct EventRow {
  std::int64_t id = 0;
  std::string event;    // start | exec | stop
  std::string source;   // poll | proc_connector | ebpf
  std::string cmdline;
  std::int64_t time_ns = 0;  // kernel time of the event (Unix ns); 0 when NULL
};

class StoreReader {
 public:
  [[nodiscard]] static std::expected<StoreReader, std::string> open(const std::string& db);

  // Calls `row` for each process_events row with id > `after`, in id order;
  // returns the largest id seen (`after` when none).
  [[nodiscard]] std::expected<std::int64_t, std::string> rows_after(std::int64_t after,
                                                                    const std::function<void(const EventRow&)>& row);
  // Rows of kind `event` ("" = any kind) whose cmdline contains `needle`.
  [[nodiscard]] std::expected<void, std::string> rows_containing(const std::string& needle, const std::string& event,
                                                                 const std::function<void(const EventRow&)>& row);

 private:
  struct Close {
    void operator()(sqlite3* d) const noexcept { sqlite3_close_v2(d); }
    void operator()(sqlite3_stmt* s) const noexcept { sqlite3_finalize(s); }
  };
  std::unique_ptr<sqlite3, Close> db_;
  std::unique_ptr<sqlite3_stmt, Close> after_;
  std::unique_ptr<sqlite3_stmt, Close> containing_;
};

}  // namespace airssys::daemoneye::bench
