#include "store_accounts.hpp"

#include <algorithm>
#include <cstdint>
#include <string_view>

#include "sqlite_util.hpp"

namespace airssys::daemoneye::store_accounts {

const char* ddl() noexcept {
  // osquery's columns. uid and gid as the files hold them (0..2^32-1),
  // *_signed their 32-bit two's complement reading (4294967294 → -2), uuid
  // '' and comment '' (osquery fills them on macOS and Windows only). No
  // `type` column: osquery has it on Windows only.
  return "CREATE TABLE IF NOT EXISTS users ("
         "uid INTEGER, gid INTEGER, uid_signed INTEGER, gid_signed INTEGER, username TEXT, description TEXT, "
         "directory TEXT, shell TEXT, uuid TEXT);"
         "CREATE TABLE IF NOT EXISTS groups (gid INTEGER, gid_signed INTEGER, groupname TEXT, comment TEXT);";
}

namespace {

std::int64_t signed_of(std::int64_t id) { return static_cast<std::int32_t>(static_cast<std::uint32_t>(id)); }

constexpr std::string_view table_of(const UserAccount*) { return "users"; }
constexpr std::string_view table_of(const GroupAccount*) { return "groups"; }
constexpr const char* insert_of(const UserAccount*) {
  return "INSERT INTO users (uid, gid, uid_signed, gid_signed, username, description, directory, shell, uuid) "
         "VALUES (?, ?, ?, ?, ?, ?, ?, ?, '')";
}
constexpr const char* insert_of(const GroupAccount*) {
  return "INSERT INTO groups (gid, gid_signed, groupname, comment) VALUES (?, ?, ?, '')";
}

void bind_row(sqlite3_stmt* st, const UserAccount& u) {
  int i = 1;
  sqlite::bind(st, i++, u.uid);
  sqlite::bind(st, i++, u.gid);
  sqlite::bind(st, i++, signed_of(u.uid));
  sqlite::bind(st, i++, signed_of(u.gid));
  sqlite::bind(st, i++, std::string_view(u.username));
  sqlite::bind(st, i++, std::string_view(u.description));
  sqlite::bind(st, i++, std::string_view(u.directory));
  sqlite::bind(st, i++, std::string_view(u.shell));
}

void bind_row(sqlite3_stmt* st, const GroupAccount& g) {
  int i = 1;
  sqlite::bind(st, i++, g.gid);
  sqlite::bind(st, i++, signed_of(g.gid));
  sqlite::bind(st, i++, std::string_view(g.groupname));
}

}  // namespace

template <class Row>
Result<void> Table<Row>::replace(sqlite3* db, std::span<const Row> rows) {
  if (written_ && std::ranges::equal(rows, last_)) return {};
  const std::string table(table_of(static_cast<const Row*>(nullptr)));
  sqlite::Transaction txn(db);
  if (auto r = txn.begin(); !r) return std::unexpected(r.error());
  if (auto r = sqlite::exec(db, ("DELETE FROM " + table).c_str()); !r)
    return std::unexpected(r.error().prefixed("replace " + table));
  auto insert = sqlite::prepare(db, insert_of(static_cast<const Row*>(nullptr)));
  if (!insert) return std::unexpected(insert.error().prefixed("replace " + table));
  for (const Row& row : rows) {
    bind_row(insert->get(), row);
    if (auto r = sqlite::run(db, insert->get()); !r) return std::unexpected(r.error().prefixed("write " + table));
  }
  insert->reset();  // finalized before the commit
  if (auto r = txn.commit(); !r) return std::unexpected(r.error());
  last_.assign(rows.begin(), rows.end());
  written_ = true;
  return {};
}

template class Table<UserAccount>;
template class Table<GroupAccount>;

}  // namespace airssys::daemoneye::store_accounts
