#pragma once
// The store's process_open_sockets table (docs/daemoneye.md
// "process_open_sockets"): osquery's columns and names, the sockets of the
// latest collection only. Private to the daemoneye library.
//
// Each collection replaces the whole table in one transaction (DELETE, then
// INSERT of every row), and only when its rows differ from what was last
// written: an idle host writes nothing. The first replace after open always
// writes, so rows a previous run left never outlive it.
//
// Thread safety: used by the Store's one thread.

#include <sqlite3.h>

#include <airssys/daemoneye/error.hpp>
#include <airssys/osl/proc_sockets.hpp>

#include <span>
#include <vector>

namespace airssys::daemoneye::store_sockets {

// CREATE TABLE IF NOT EXISTS process_open_sockets (...): a store of any
// schema version gains it at open (no migration needed).
[[nodiscard]] const char* ddl() noexcept;

class Table {
 public:
  // Makes the table hold exactly `rows`; nothing is written when they equal
  // the last rows written through this Table. On failure nothing changed.
  [[nodiscard]] Result<void> replace(sqlite3* db, std::span<const osl::proc::OpenSocket> rows);

 private:
  bool written_ = false;
  std::vector<osl::proc::OpenSocket> last_;
};

}  // namespace airssys::daemoneye::store_sockets
