#pragma once
// The store's users and groups tables (docs/daemoneye.md "users",
// "groups"): osquery's columns, the host's local accounts as procmond last
// read them. Private to the daemoneye library.
//
// As process_open_sockets (store_sockets.hpp): each collection that carries
// the accounts replaces the whole table in one transaction, and only when
// its rows differ from what was last written (the files rarely change: an
// idle host writes nothing). The first replace after open always writes.
//
// Thread safety: used by the Store's one thread.

#include <sqlite3.h>

#include <airssys/daemoneye/accounts.hpp>
#include <airssys/daemoneye/error.hpp>

#include <span>
#include <vector>

namespace airssys::daemoneye::store_accounts {

// CREATE TABLE IF NOT EXISTS users (...), groups (...) (schema 8).
[[nodiscard]] const char* ddl() noexcept;

template <class Row>
class Table {
 public:
  // Makes the table hold exactly `rows`; nothing is written when they equal
  // the last rows written through this Table. On failure nothing changed.
  [[nodiscard]] Result<void> replace(sqlite3* db, std::span<const Row> rows);

 private:
  bool written_ = false;
  std::vector<Row> last_;
};

extern template class Table<UserAccount>;
extern template class Table<GroupAccount>;

}  // namespace airssys::daemoneye::store_accounts
