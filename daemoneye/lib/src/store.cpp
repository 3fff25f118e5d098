#include <fmt/format.h>

#include <airssys/daemoneye/store.hpp>
#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <unordered_map>
#include <utility>

#include "sqlite_util.hpp"
#include "sqlite_vfs.hpp"
#include "store_excepted.hpp"
#include "store_ledger_mark.hpp"
#include "store_marks.hpp"
#include "store_path.hpp"
#include "store_retention.hpp"
#include "store_schema.hpp"
#include "store_accounts.hpp"
#include "store_memory_maps.hpp"
#include "store_sockets.hpp"

namespace airssys::daemoneye {

namespace {

// (pid, start) identifies one process: a stop for an older process that
// used the same pid must not delete the newer one's row.
bool same_process(const ProcessRecord& a, const ProcessRecord& b) noexcept {
  if (a.start_ticks != 0 && b.start_ticks != 0) return a.start_ticks == b.start_ticks;
  if (a.start_time >= 0 && b.start_time >= 0) return a.start_time == b.start_time;
  return true;
}

// A poll start or exec of a process `processes` holds already with the same
// image tells nothing new: procmond publishes the events of a collection the
// bus took only in part again with the next one (procmond/main.cpp), and a
// real-time source may have told the same exec first. Storing it again gave
// the event a second id, and a Sigma rule, whose dedup key holds the event
// id, a second alert for one exec. A real exec changes the image (that is
// how polling sees it: differ.hpp image_changed); the real-time sources'
// events are each one kernel event and are always stored.
bool restates(const ProcessEvent& e, const ProcessRecord& known) noexcept {
  if (e.source != EventSource::poll || e.kind == EventKind::stop) return false;
  const ProcessRecord& p = e.process;
  if (!same_process(known, p) || known.path != p.path || known.cmdline != p.cmdline) return false;
  if (known.exe_ino != 0 && p.exe_ino != 0 && (known.exe_dev != p.exe_dev || known.exe_ino != p.exe_ino)) return false;
  return known.sha256.empty() || p.sha256.empty() || known.sha256 == p.sha256;
}

}  // namespace

struct Store::Impl {
  StoreOptions options;
  sqlite::Db db;
  sqlite::Stmt upsert_process, delete_process, insert_event, insert_scan, insert_alert;
  store_sockets::Table sockets;
  store_memory_maps::Table memory_maps;
  store_accounts::Table<UserAccount> users;
  store_accounts::Table<GroupAccount> groups;

  struct Entry {
    ProcessRecord record;
    std::uint64_t seen = 0;  // the apply_snapshot generation that last saw this pid
  };
  // Mirror of `processes`, equal to it whenever no call is in progress.
  std::unordered_map<std::int64_t, Entry> mirror;
  std::uint64_t generation = 0;
  // What held_alerts holds (after a load or a committed save; nullopt:
  // unknown), so a scan writes only what the rate limit's state changed.
  std::optional<HeldTexts> held_stored;

  // Undo log for the mirror during one write: every mirror change is
  // recorded first, and replayed backwards if the transaction fails, so the
  // mirror never holds rows the database rolled back.
  class MirrorChange {
   public:
    explicit MirrorChange(std::unordered_map<std::int64_t, Entry>& m) : mirror_(m) {}
    ~MirrorChange() {
      for (auto it = undo_.rbegin(); it != undo_.rend(); ++it) {
        if (it->second)
          mirror_.insert_or_assign(it->first, std::move(*it->second));
        else
          mirror_.erase(it->first);
      }
    }
    MirrorChange(const MirrorChange&) = delete;
    MirrorChange& operator=(const MirrorChange&) = delete;

    void set(std::int64_t pid, const ProcessRecord& r, std::uint64_t seen) {
      auto it = mirror_.find(pid);
      if (it == mirror_.end()) {
        undo_.emplace_back(pid, std::nullopt);
        mirror_.emplace(pid, Entry{r, seen});
      } else {
        undo_.emplace_back(pid, std::move(it->second));
        it->second = Entry{r, seen};
      }
    }
    void erase(std::unordered_map<std::int64_t, Entry>::iterator it) {
      undo_.emplace_back(it->first, std::move(it->second));
      mirror_.erase(it);
    }
    void keep() noexcept { undo_.clear(); }

   private:
    std::unordered_map<std::int64_t, Entry>& mirror_;
    std::vector<std::pair<std::int64_t, std::optional<Entry>>> undo_;
  };

  Result<void> upsert(const ProcessRecord& r) {
    schema::bind_process(upsert_process.get(), r);
    if (auto w = sqlite::run(db.get(), upsert_process.get()); !w) {
      return std::unexpected(w.error().prefixed(fmt::format("write process {}", r.pid)));
    }
    return {};
  }
  Result<void> remove(std::int64_t pid) {
    sqlite::bind(delete_process.get(), 1, pid);
    if (auto w = sqlite::run(db.get(), delete_process.get()); !w) {
      return std::unexpected(w.error().prefixed(fmt::format("delete process {}", pid)));
    }
    return {};
  }
  template <class T>
  static void bind_or_null(sqlite3_stmt* s, int i, T v, bool known) {
    if (known) {
      sqlite::bind(s, i, v);
    } else {
      ::sqlite3_bind_null(s, i);
    }
  }
  Result<void> event_row(const ProcessEvent& e) {
    const ProcessRecord& p = e.process;
    std::string_view parent_path, parent_cmdline;
    if (auto it = mirror.find(p.parent); it != mirror.end() && p.parent != p.pid) {
      parent_path = it->second.record.path;
      parent_cmdline = it->second.record.cmdline;
    }
    sqlite3_stmt* s = insert_event.get();
    int i = 1;
    sqlite::bind(s, i++, e.time);
    sqlite::bind(s, i++, to_string(e.kind));
    sqlite::bind(s, i++, to_string(e.source));
    sqlite::bind(s, i++, p.pid);
    sqlite::bind(s, i++, p.parent);
    sqlite::bind(s, i++, std::string_view(p.name));
    sqlite::bind(s, i++, std::string_view(p.path));
    sqlite::bind(s, i++, std::string_view(p.cmdline));
    sqlite::bind(s, i++, std::string_view(p.cwd));
    sqlite::bind(s, i++, p.uid);
    sqlite::bind(s, i++, p.euid);
    sqlite::bind(s, i++, p.gid);
    sqlite::bind(s, i++, p.egid);
    sqlite::bind(s, i++, std::string_view(p.username));
    sqlite::bind(s, i++, p.auid);
    sqlite::bind(s, i++, std::string_view(p.sha256));
    sqlite::bind(s, i++, p.start_time);
    sqlite::bind(s, i++, parent_path);
    sqlite::bind(s, i++, parent_cmdline);
    bind_or_null(s, i++, e.time_ns, e.time_ns != 0);
    bind_or_null(s, i++, e.cmdline_size, e.cmdline_size >= 0);
    sqlite::bind(s, i++, std::string_view(e.cmdline_truncated ? "cmdline" : ""));
    bind_or_null(s, i++, e.exit_code, e.exit_code >= 0);
    bind_or_null(s, i++, e.exit_signal, e.exit_signal >= 0);
    // SQLite integers are signed 64-bit; a cgroup id (an inode number) fits.
    bind_or_null(s, i++, static_cast<std::int64_t>(e.cgroup_id), e.cgroup_id != 0);
    bind_or_null(s, i++, std::string_view(e.path_given), !e.path_given.empty());
    sqlite::bind(s, i++, p.root_is_host);
    bind_or_null(s, i++, to_string(e.path_from), e.path_from != PathFrom::none);
    // dev_t and inode numbers as SQLite's signed 64-bit integers (an inode
    // number of 2^63 or more, overlayfs's xino, reads negative).
    bind_or_null(s, i++, static_cast<std::int64_t>(e.image_dev), e.image_ino != 0);
    bind_or_null(s, i++, static_cast<std::int64_t>(e.image_ino), e.image_ino != 0);
    bind_or_null(s, i++, std::string_view(e.host_path), !e.host_path.empty());
    if (auto w = sqlite::run(db.get(), s); !w) {
      return std::unexpected(w.error().prefixed(fmt::format("write {} event of pid {}", to_string(e.kind), p.pid)));
    }
    return {};
  }
};

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Store::~Store() = default;

Result<void> Store::prepare_directory(const std::filesystem::path& database) { return prepare_database_dir(database); }

Result<std::unique_ptr<Store>> Store::open(StoreOptions options) {
  if (auto r = prepare_database_path(options.path); !r) return std::unexpected(r.error());
  const std::string path = options.path.string();
  // Every write, sync and truncate of the database and its WAL goes through
  // osl's fault seam (sqlite_vfs.hpp), so tests can break the disk under it.
  if (auto r = sqlite::register_vfs(); !r) return std::unexpected(r.error().prefixed(path));
  auto db = sqlite::open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, sqlite::kFaultSeamVfs);
  if (!db) return std::unexpected(db.error());
  sqlite3* h = db->get();
  auto failed = [&](std::string_view what, const Error& why) {
    return std::unexpected(why.prefixed(fmt::format("{}: {}", path, what)));
  };

  ::sqlite3_busy_timeout(h, 5000);
  // Extensions are never needed by the writer; the store is ours alone.
  ::sqlite3_db_config(h, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, nullptr);
  ::sqlite3_db_config(h, SQLITE_DBCONFIG_DEFENSIVE, 1, nullptr);
  ::sqlite3_db_config(h, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, nullptr);

  auto version = sqlite::query_int(h, "PRAGMA user_version");
  if (!version) return failed("read schema version", version.error());
  if (*version > schema::kVersion) {
    return fail(ErrorCategory::invalid_input, fmt::format("{}: database schema version {} is newer than this program's ({})",
                                                          path, *version, schema::kVersion));
  }
  auto mode = sqlite::prepare(h, "PRAGMA journal_mode=WAL");
  if (!mode) return failed("set WAL mode", mode.error());
  if (const int rc = ::sqlite3_step(mode->get()); rc != SQLITE_ROW) return failed("set WAL mode", sqlite::error(h, "", rc));
  const auto* got = reinterpret_cast<const char*>(::sqlite3_column_text(mode->get(), 0));
  if (got == nullptr || std::string_view(got) != "wal") {
    return failed("set WAL mode", Error::make(ErrorCategory::unavailable,
                                              fmt::format("journal mode is '{}'", got != nullptr ? got : "?")));
  }
  mode->reset();  // finalized before the next statement
  // synchronous=FULL: WAL is synced on every commit, so a committed alert
  // survives power loss, not only a crash of the agent (docs: "Tables").
  if (auto r = sqlite::exec(h,
                            "PRAGMA synchronous=FULL; PRAGMA foreign_keys=OFF; "
                            "PRAGMA journal_size_limit=67108864; PRAGMA cache_size=-8192");
      !r) {
    return failed("set pragmas", r.error());
  }
  {
    sqlite::Transaction txn(h);
    if (auto r = txn.begin(); !r) return failed("create schema", r.error());
    // A new file has version 0 and gets the whole DDL; an older store gains what it lacks.
    const bool copies_events = *version >= 1 && *version < 3;  // version 3 copies process_events
    const auto upgrade_start = std::chrono::steady_clock::now();
    if (copies_events && options.log) {
      auto rows = sqlite::query_int(h, "SELECT count(*) FROM process_events");
      options.log(fmt::format("upgrading the store {} to schema version 3 (copies process_events: {} rows; needs "
                              "about twice that table's size in free disk)",
                              path, rows ? fmt::format("{}", *rows) : std::string("?")));
    }
    if (*version >= 1 && *version < schema::kVersion) {
      if (auto r = sqlite::exec(h, schema::migrate_sql(static_cast<int>(*version)).c_str()); !r) {
        // Not run on the old schema instead: on version 2 event ids can go
        // back after retention, and the Sigma rules would silently miss events.
        return failed(fmt::format("upgrade schema from version {} (nothing changed; the agent needs version {}; "
                                  "a version 3 upgrade needs about twice process_events' size in free disk)",
                                  *version, schema::kVersion),
                      r.error());
      }
    }
    if (auto r = sqlite::exec(h, schema::ddl().c_str()); !r) return failed("create schema", r.error());
    if (auto r = schema::add_process_columns(h); !r) return failed("create schema", r.error());
    if (auto r = ledger_mark::add_columns(h); !r) return failed("create schema", r.error());
    if (auto r = sqlite::exec(h, store_sockets::ddl()); !r) return failed("create schema", r.error());
    if (auto r = sqlite::exec(h, store_memory_maps::ddl()); !r) return failed("create schema", r.error());
    if (auto r = sqlite::exec(h, store_accounts::ddl()); !r) return failed("create schema", r.error());
    // No version of its own: created when missing (an older agent ignores it).
    if (auto r = sqlite::exec(h, store_excepted::ddl()); !r) return failed("create schema", r.error());
    if (auto r = sqlite::exec(h, fmt::format("PRAGMA user_version={}", schema::kVersion).c_str()); !r) {
      return failed("create schema", r.error());
    }
    if (auto r = txn.commit(); !r) return failed("create schema", r.error());
    if (copies_events && options.log) {
      const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                            upgrade_start);
      options.log(fmt::format("store upgraded to schema version {} in {} ms (the file keeps its size until VACUUM)", schema::kVersion,
                              ms.count()));
    }
  }

  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  auto prep = [&](sqlite::Stmt& out, const std::string& sql) -> Result<void> {
    auto s = sqlite::prepare(h, sql, /*persistent=*/true);
    if (!s) return std::unexpected(s.error());
    out = std::move(*s);
    return {};
  };
  for (auto r :
       {prep(impl->upsert_process, schema::upsert_process_sql()),
        prep(impl->delete_process, "DELETE FROM processes WHERE pid = ?"),
        prep(impl->insert_event,
             "INSERT INTO process_events (time, event, source, pid, parent, name, path, cmdline, cwd, uid, "
             "euid, gid, egid, username, auid, sha256, start_time, parent_path, parent_cmdline, time_ns, "
             "cmdline_size, overflows, exit_code, exit_signal, cgroup_id, path_given, root_is_host, path_from, "
             "image_dev, image_ino, host_path) "
             "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
        prep(impl->insert_scan,
             "INSERT INTO scans (scan_id, time, processes, unreadable, collect_us, store_us, rules_us, "
             "alerts, rule_errors, inserted, updated, deleted) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
        prep(impl->insert_alert,
             "INSERT INTO alerts (time, rule_id, rule_name, severity, tags, \"row\", host, dedup_key) "
             "VALUES (?, ?, ?, ?, ?, ?, ?, ?)")}) {
    if (!r) return failed("prepare statements", r.error());
  }

  // The mirror starts as the table left by the previous run, so the first
  // snapshot after a restart writes only what changed meanwhile.
  auto select = sqlite::prepare(h, schema::select_processes_sql());
  if (!select) return failed("load processes", select.error());
  int rc = SQLITE_ROW;
  while ((rc = ::sqlite3_step(select->get())) == SQLITE_ROW) {
    ProcessRecord r = schema::read_process(select->get());
    const std::int64_t pid = r.pid;
    impl->mirror.emplace(pid, Impl::Entry{std::move(r), 0});
  }
  if (rc != SQLITE_DONE) return failed("load processes", sqlite::error(h, "", rc));
  select->reset();

  impl->db = std::move(*db);
  return std::unique_ptr<Store>(new Store(std::move(impl)));
}

Result<ApplyStats> Store::apply_snapshot(std::span<const ProcessRecord> all) {
  Impl& s = *impl_;
  const std::uint64_t gen = ++s.generation;
  ApplyStats stats;
  Impl::MirrorChange change(s.mirror);
  sqlite::Transaction txn(s.db.get());
  bool began = false;
  // The transaction starts at the first write: an idle scan touches nothing.
  auto write = [&]() -> Result<void> {
    if (began) return {};
    began = true;
    return txn.begin();
  };

  for (const ProcessRecord& r : all) {
    if (r.pid < 0) return fail(ErrorCategory::invalid_input, fmt::format("snapshot: record with invalid pid {}", r.pid));
    auto it = s.mirror.find(r.pid);
    if (it != s.mirror.end() && it->second.seen == gen) {
      return fail(ErrorCategory::invalid_input, fmt::format("snapshot: pid {} appears twice", r.pid));
    }
    if (it != s.mirror.end() && schema::same_columns(it->second.record, r)) {
      // Bookkeeping fields (start_ticks, exe identity) are not stored; keep
      // the newest so stop events can be matched to the right process.
      ProcessRecord& kept = it->second.record;
      kept.start_ticks = r.start_ticks;
      kept.exe_dev = r.exe_dev;
      kept.exe_ino = r.exe_ino;
      kept.partial = r.partial;
      it->second.seen = gen;
      ++stats.unchanged;
      continue;
    }
    if (auto w = write(); !w) return std::unexpected(w.error());
    if (auto w = s.upsert(r); !w) return std::unexpected(w.error());
    ++(it == s.mirror.end() ? stats.inserted : stats.updated);
    change.set(r.pid, r, gen);
  }
  for (auto it = s.mirror.begin(); it != s.mirror.end();) {
    if (it->second.seen == gen) {
      ++it;
      continue;
    }
    if (auto w = write(); !w) return std::unexpected(w.error());
    if (auto w = s.remove(it->first); !w) return std::unexpected(w.error());
    ++stats.deleted;
    auto next = std::next(it);
    change.erase(it);
    it = next;
  }
  if (began) {
    if (auto c = txn.commit(); !c) return std::unexpected(c.error());
  }
  change.keep();
  return stats;
}

Result<void> Store::append_events(std::span<const ProcessEvent> events) {
  if (events.empty()) return {};
  Impl& s = *impl_;
  Impl::MirrorChange change(s.mirror);
  sqlite::Transaction txn(s.db.get());
  if (auto r = txn.begin(); !r) return std::unexpected(r.error());
  for (const ProcessEvent& e : events) {
    if (e.process.pid < 0) return fail(ErrorCategory::invalid_input, fmt::format("event with invalid pid {}", e.process.pid));
    if (const auto known = s.mirror.find(e.process.pid); known != s.mirror.end() && restates(e, known->second.record))
      continue;
    // The event row reads the parent from the mirror as it is at this
    // event, so a child started right after its parent in one batch sees it.
    if (auto r = s.event_row(e); !r) return std::unexpected(r.error());
    if (e.kind == EventKind::stop) {
      auto it = s.mirror.find(e.process.pid);
      if (it == s.mirror.end() || !same_process(it->second.record, e.process)) continue;
      if (auto r = s.remove(e.process.pid); !r) return std::unexpected(r.error());
      change.erase(it);
    } else {
      if (auto r = s.upsert(e.process); !r) return std::unexpected(r.error());
      auto it = s.mirror.find(e.process.pid);
      change.set(e.process.pid, e.process, it != s.mirror.end() ? it->second.seen : 0);
    }
  }
  if (auto r = txn.commit(); !r) return std::unexpected(r.error());
  change.keep();
  return {};
}

Result<void> Store::replace_sockets(std::span<const osl::proc::OpenSocket> rows) {
  return impl_->sockets.replace(impl_->db.get(), rows);
}

Result<void> Store::replace_memory_maps(std::span<const MemoryMapRow> rows) {
  return impl_->memory_maps.replace(impl_->db.get(), rows);
}

Result<void> Store::replace_users(std::span<const UserAccount> rows) { return impl_->users.replace(impl_->db.get(), rows); }

Result<void> Store::replace_groups(std::span<const GroupAccount> rows) {
  return impl_->groups.replace(impl_->db.get(), rows);
}

Result<void> Store::insert_excepted(std::span<const ExceptedAlert> rows) {
  return store_excepted::insert(impl_->db.get(), rows);
}

Result<void> Store::record_scan(const ScanRecord& scan) {
  Impl& s = *impl_;
  sqlite3_stmt* st = s.insert_scan.get();
  int i = 1;
  sqlite::bind(st, i++, static_cast<std::int64_t>(scan.scan_id));
  sqlite::bind(st, i++, scan.time);
  sqlite::bind(st, i++, static_cast<std::int64_t>(scan.processes));
  sqlite::bind(st, i++, static_cast<std::int64_t>(scan.unreadable));
  sqlite::bind(st, i++, static_cast<std::int64_t>(scan.collect_us));
  sqlite::bind(st, i++, static_cast<std::int64_t>(scan.store_us));
  sqlite::bind(st, i++, static_cast<std::int64_t>(scan.rules_us));
  sqlite::bind(st, i++, static_cast<std::int64_t>(scan.alerts));
  sqlite::bind(st, i++, static_cast<std::int64_t>(scan.rule_errors));
  sqlite::bind(st, i++, static_cast<std::int64_t>(scan.applied.inserted));
  sqlite::bind(st, i++, static_cast<std::int64_t>(scan.applied.updated));
  sqlite::bind(st, i++, static_cast<std::int64_t>(scan.applied.deleted));
  // A single statement outside BEGIN is its own transaction (autocommit).
  if (auto w = sqlite::run(s.db.get(), st); !w) return std::unexpected(w.error().prefixed("record scan"));
  return {};
}

namespace {

// insert_alerts: the alerts, and with `marks` the saved marks and with
// `ledger` the ledger mark, in one transaction.
Result<void> write_alerts(Store::Impl& s, std::span<const Alert> alerts, const EventMarks* marks,
                          const AlertLedgerMark* ledger = nullptr) {
  sqlite::Transaction txn(s.db.get());
  if (auto r = txn.begin(); !r) return std::unexpected(r.error());
  if (marks != nullptr)
    if (auto r = marks::save(s.db.get(), *marks, s.held_stored ? &*s.held_stored : nullptr); !r) return r;
  sqlite3_stmt* st = s.insert_alert.get();
  for (const Alert& a : alerts) {
    const std::string tags =
        nlohmann::json(a.tags).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    int i = 1;
    sqlite::bind(st, i++, a.time);
    sqlite::bind(st, i++, std::string_view(a.rule_id));
    sqlite::bind(st, i++, std::string_view(a.rule_name));
    sqlite::bind(st, i++, to_string(a.severity));
    sqlite::bind(st, i++, std::string_view(tags));
    sqlite::bind(st, i++, std::string_view(a.row_json));
    sqlite::bind(st, i++, std::string_view(a.host));
    sqlite::bind(st, i++, std::string_view(a.dedup_key));
    if (auto r = sqlite::run(s.db.get(), st); !r) {
      return std::unexpected(r.error().prefixed(fmt::format("write alert of rule {}", a.rule_id)));
    }
  }
  // After the alerts: a mark without alerts_id saves the largest id with them.
  if (ledger != nullptr)
    if (auto r = ledger_mark::save(s.db.get(), *ledger); !r) return r;
  std::optional<HeldTexts> held_before = std::move(s.held_stored);
  s.held_stored.reset();  // unknown unless the commit succeeds
  if (auto r = txn.commit(); !r) return r;
  s.held_stored = marks != nullptr ? std::optional(marks->held) : std::move(held_before);
  return {};
}

}  // namespace

Result<void> Store::insert_alerts(std::span<const Alert> alerts) {
  if (alerts.empty()) return {};
  return write_alerts(*impl_, alerts, nullptr);
}

Result<void> Store::insert_alerts(std::span<const Alert> alerts, const EventMarks& marks) {
  return write_alerts(*impl_, alerts, &marks);
}

Result<void> Store::insert_alerts(std::span<const Alert> alerts, const AlertLedgerMark& ledger_mark) {
  return write_alerts(*impl_, alerts, nullptr, &ledger_mark);
}

Result<void> Store::insert_alerts(std::span<const Alert> alerts, const EventMarks& marks,
                                  const AlertLedgerMark& ledger_mark) {
  return write_alerts(*impl_, alerts, &marks, &ledger_mark);
}

Result<std::optional<AlertLedgerMark>> Store::alert_ledger_mark() { return ledger_mark::load(impl_->db.get()); }

Result<std::optional<std::int64_t>> Store::alert_raised_at(std::string_view rule_id, std::string_view dedup_key) {
  sqlite3* h = impl_->db.get();
  auto st = sqlite::prepare(h, "SELECT time FROM alerts WHERE rule_id = ? AND dedup_key = ? ORDER BY time DESC LIMIT 1");
  if (!st) return std::unexpected(st.error().prefixed("look an alert up"));
  sqlite::bind(st->get(), 1, rule_id);
  sqlite::bind(st->get(), 2, dedup_key);
  const int rc = ::sqlite3_step(st->get());
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return std::unexpected(sqlite::error(h, "look an alert up", rc));
  if (rc == SQLITE_DONE) return std::nullopt;
  return std::optional<std::int64_t>(::sqlite3_column_int64(st->get(), 0));
}

Result<std::uint64_t> Store::count_alerts(std::int64_t time, std::string_view rule_id, std::string_view dedup_key,
                                         std::int64_t after_id) {
  sqlite3* h = impl_->db.get();
  auto st = sqlite::prepare(h, "SELECT count(*) FROM alerts WHERE time = ? AND rule_id = ? AND dedup_key = ? AND id > ?");
  if (!st) return std::unexpected(st.error().prefixed("count alerts"));
  sqlite::bind(st->get(), 1, time);
  sqlite::bind(st->get(), 2, rule_id);
  sqlite::bind(st->get(), 3, dedup_key);
  sqlite::bind(st->get(), 4, after_id);
  if (const int rc = ::sqlite3_step(st->get()); rc != SQLITE_ROW) return std::unexpected(sqlite::error(h, "count alerts", rc));
  return static_cast<std::uint64_t>(::sqlite3_column_int64(st->get(), 0));
}

Result<std::optional<std::int64_t>> Store::alert_ledger_cut() { return ledger_mark::load_cut(impl_->db.get()); }

Result<void> Store::raise_alert_ledger_cut(std::int64_t time) {
  sqlite::Transaction txn(impl_->db.get());
  if (auto r = txn.begin(); !r) return std::unexpected(r.error());
  if (auto r = ledger_mark::raise_cut(impl_->db.get(), time); !r) return r;
  return txn.commit();
}

Result<void> Store::note_alerts_not_raised_from(std::uint64_t ledger_size) {
  sqlite::Transaction txn(impl_->db.get());
  if (auto r = txn.begin(); !r) return std::unexpected(r.error());
  if (auto r = ledger_mark::save_unraised(impl_->db.get(), ledger_size); !r) return r;
  return txn.commit();
}

Result<std::optional<std::uint64_t>> Store::alerts_not_raised_from() {
  return ledger_mark::load_unraised(impl_->db.get());
}

Result<std::string> Store::pending_ledger_discontinuities() { return ledger_mark::load_pending(impl_->db.get()); }

Result<void> Store::save_pending_ledger_discontinuities(std::string_view text) {
  return ledger_mark::save_pending(impl_->db.get(), text);
}

Result<std::optional<std::int64_t>> Store::oldest_scan_time() {
  sqlite3* h = impl_->db.get();
  auto n = sqlite::query_int(h, "SELECT count(*) FROM (SELECT 1 FROM scans LIMIT 1)");
  if (!n) return std::unexpected(n.error().prefixed("read the oldest scan"));
  if (*n == 0) return std::nullopt;
  auto t = sqlite::query_int(h, "SELECT min(time) FROM scans");
  if (!t) return std::unexpected(t.error().prefixed("read the oldest scan"));
  return *t;
}

Result<EventMarks> Store::event_marks() {
  auto m = marks::load(impl_->db.get(), impl_->options.log);
  if (m) impl_->held_stored = m->held;
  return m;
}

Result<RetentionStats> Store::enforce_retention(std::int64_t now) {
  return retention::enforce(impl_->db.get(), impl_->options.retention, now);
}

const ProcessRecord* Store::process(std::int64_t pid) const {
  auto it = impl_->mirror.find(pid);
  return it == impl_->mirror.end() ? nullptr : &it->second.record;
}

std::size_t Store::process_count() const noexcept { return impl_->mirror.size(); }

const std::filesystem::path& Store::path() const noexcept { return impl_->options.path; }

std::uint64_t Store::total_changes() const noexcept {
  return static_cast<std::uint64_t>(::sqlite3_total_changes64(impl_->db.get()));
}

}  // namespace airssys::daemoneye
