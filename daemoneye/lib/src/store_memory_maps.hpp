#pragma once
// The store's process_memory_map table (docs/daemoneye.md
// "process_memory_map"): osquery's columns and names, the executable
// regions of the latest collection's processes. Private to the daemoneye
// library.
//
// A collection carries every live process's rows, but most processes' rows
// do not change between collections, so the table is written per process:
// a pid whose rows differ from those last written has its rows deleted and
// inserted again, a pid no longer carried has its rows deleted (a process
// gone takes its rows with it), all in one transaction; an idle host writes
// nothing. The first replace after open rewrites the whole table, so rows a
// previous run left never outlive it.
//
// Thread safety: used by the Store's one thread.

#include <sqlite3.h>

#include <airssys/daemoneye/error.hpp>
#include <airssys/daemoneye/memory_map.hpp>

#include <cstdint>
#include <map>
#include <span>
#include <vector>

namespace airssys::daemoneye::store_memory_maps {

// CREATE TABLE IF NOT EXISTS process_memory_map (...) and its pid index.
[[nodiscard]] const char* ddl() noexcept;

class Table {
 public:
  // Makes the table hold exactly `rows` (grouped by pid, as a collection
  // gives them). On failure nothing changed.
  [[nodiscard]] Result<void> replace(sqlite3* db, std::span<const MemoryMapRow> rows);

 private:
  bool written_ = false;
  std::map<std::int32_t, std::vector<MemoryMapRow>> last_;  // by pid
};

}  // namespace airssys::daemoneye::store_memory_maps
