#include "store_sockets.hpp"

#include <algorithm>
#include <string_view>

#include "sqlite_util.hpp"

namespace airssys::daemoneye::store_sockets {

const char* ddl() noexcept {
  // osquery's types: fd and socket BIGINT (INTEGER here), net_namespace TEXT.
  return "CREATE TABLE IF NOT EXISTS process_open_sockets ("
         "pid INTEGER, fd INTEGER, socket INTEGER, family INTEGER, protocol INTEGER, "
         "local_address TEXT, remote_address TEXT, local_port INTEGER, remote_port INTEGER, "
         "path TEXT, state TEXT, net_namespace TEXT);"
         "CREATE INDEX IF NOT EXISTS process_open_sockets_pid ON process_open_sockets(pid);";
}

Result<void> Table::replace(sqlite3* db, std::span<const osl::proc::OpenSocket> rows) {
  if (written_ && std::ranges::equal(rows, last_)) return {};
  sqlite::Transaction txn(db);
  if (auto r = txn.begin(); !r) return std::unexpected(r.error());
  if (auto r = sqlite::exec(db, "DELETE FROM process_open_sockets"); !r) {
    return std::unexpected(r.error().prefixed("replace process_open_sockets"));
  }
  auto insert = sqlite::prepare(db,
                                "INSERT INTO process_open_sockets (pid, fd, socket, family, protocol, local_address, "
                                "remote_address, local_port, remote_port, path, state, net_namespace) "
                                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  if (!insert) return std::unexpected(insert.error().prefixed("replace process_open_sockets"));
  sqlite3_stmt* st = insert->get();
  for (const auto& s : rows) {
    const std::string ns = std::to_string(s.net_namespace);
    int i = 1;
    sqlite::bind(st, i++, static_cast<std::int64_t>(s.pid));
    sqlite::bind(st, i++, static_cast<std::int64_t>(s.fd));
    // An inode fits a signed 64-bit integer (SQLite's only kind).
    sqlite::bind(st, i++, static_cast<std::int64_t>(s.entry.inode));
    sqlite::bind(st, i++, s.entry.family);
    sqlite::bind(st, i++, s.entry.protocol);
    sqlite::bind(st, i++, std::string_view(s.entry.local_address));
    sqlite::bind(st, i++, std::string_view(s.entry.remote_address));
    sqlite::bind(st, i++, s.entry.local_port);
    sqlite::bind(st, i++, s.entry.remote_port);
    sqlite::bind(st, i++, std::string_view(s.entry.path));
    sqlite::bind(st, i++, std::string_view(s.entry.state));
    sqlite::bind(st, i++, std::string_view(ns));
    if (auto r = sqlite::run(db, st); !r) return std::unexpected(r.error().prefixed("write process_open_sockets"));
  }
  insert->reset();  // finalized before the commit
  if (auto r = txn.commit(); !r) return std::unexpected(r.error());
  last_.assign(rows.begin(), rows.end());
  written_ = true;
  return {};
}

}  // namespace airssys::daemoneye::store_sockets
