#include "store_memory_maps.hpp"

#include <string_view>

#include "sqlite_util.hpp"

namespace airssys::daemoneye::store_memory_maps {

const char* ddl() noexcept {
  // osquery's types: start, end, device TEXT; offset BIGINT (INTEGER here).
  return "CREATE TABLE IF NOT EXISTS process_memory_map ("
         "pid INTEGER, start TEXT, \"end\" TEXT, permissions TEXT, offset INTEGER, device TEXT, inode INTEGER, "
         "path TEXT, pseudo INTEGER);"
         "CREATE INDEX IF NOT EXISTS process_memory_map_pid ON process_memory_map(pid);";
}

Result<void> Table::replace(sqlite3* db, std::span<const MemoryMapRow> rows) {
  std::map<std::int32_t, std::vector<MemoryMapRow>> now;
  for (const auto& r : rows) now[r.pid].push_back(r);
  if (written_ && now == last_) return {};
  sqlite::Transaction txn(db);
  if (auto r = txn.begin(); !r) return std::unexpected(r.error());
  if (!written_) {
    if (auto r = sqlite::exec(db, "DELETE FROM process_memory_map"); !r)
      return std::unexpected(r.error().prefixed("replace process_memory_map"));
  }
  auto del = sqlite::prepare(db, "DELETE FROM process_memory_map WHERE pid = ?");
  if (!del) return std::unexpected(del.error().prefixed("replace process_memory_map"));
  auto insert = sqlite::prepare(db,
                                "INSERT INTO process_memory_map (pid, start, \"end\", permissions, offset, device, "
                                "inode, path, pseudo) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
  if (!insert) return std::unexpected(insert.error().prefixed("replace process_memory_map"));
  const auto remove = [&](std::int32_t pid) -> Result<void> {
    sqlite::bind(del->get(), 1, static_cast<std::int64_t>(pid));
    if (auto r = sqlite::run(db, del->get()); !r) return std::unexpected(r.error().prefixed("write process_memory_map"));
    return {};
  };
  if (written_) {
    for (const auto& [pid, _] : last_)
      if (!now.contains(pid))
        if (auto r = remove(pid); !r) return r;
  }
  for (const auto& [pid, maps] : now) {
    if (written_) {
      const auto it = last_.find(pid);
      if (it != last_.end() && it->second == maps) continue;
      if (auto r = remove(pid); !r) return r;
    }
    sqlite3_stmt* st = insert->get();
    for (const auto& m : maps) {
      int i = 1;
      sqlite::bind(st, i++, static_cast<std::int64_t>(m.pid));
      sqlite::bind(st, i++, std::string_view(m.start));
      sqlite::bind(st, i++, std::string_view(m.end));
      sqlite::bind(st, i++, std::string_view(m.permissions));
      sqlite::bind(st, i++, m.offset);
      sqlite::bind(st, i++, std::string_view(m.device));
      sqlite::bind(st, i++, m.inode);
      sqlite::bind(st, i++, std::string_view(m.path));
      sqlite::bind(st, i++, static_cast<std::int64_t>(m.pseudo));
      if (auto r = sqlite::run(db, st); !r) return std::unexpected(r.error().prefixed("write process_memory_map"));
    }
  }
  insert->reset();  // finalized before the commit
  del->reset();
  if (auto r = txn.commit(); !r) return std::unexpected(r.error());
  last_ = std::move(now);
  written_ = true;
  return {};
}

}  // namespace airssys::daemoneye::store_memory_maps
