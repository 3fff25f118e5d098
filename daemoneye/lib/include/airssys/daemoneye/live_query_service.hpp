#pragma once
// LiveQueryService — the agent's side of signed live queries
// (docs/daemoneye.md "Live queries"): subscribes on core NATS to
// daemoneye.query.host.<this host> and daemoneye.query.all, checks each
// request with a LiveQueryGuard, records the decision through `audit`
// (the agent appends it to its audit ledger) and, for an accepted request,
// runs the query on a guarded read-only QueryEngine of its own (the rules'
// authorizer; live_query.timeout, live_query.max_rows, rules.max_bytes)
// and publishes the reply to the request's reply subject.
//
// Every request is answered when it names a reply subject: with the rows,
// with the SQL error (`failed`) or with the reason it was refused
// (`refused`). An accepted request runs only after `audit` succeeded: a
// query the ledger could not record is answered `failed` and not run.
// Refusals are audited too, but at most 60 a minute (a flood of unsigned
// requests must not fill the ledger's disk with fsync'd entries); the
// refusals left out are counted and the next audited one says how many
// (`suppressed`). A refused request's query is recorded by its SHA-256 and
// first 256 bytes; an accepted one's in full.
//
// Requests are handled one at a time (libnats's delivery threads, under one
// lock): a live query waits for the one before it.

#include <airssys/daemoneye/config.hpp>
#include <airssys/daemoneye/error.hpp>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace airssys::daemoneye {

struct LiveQueryAuditRecord {
  std::int64_t time = 0;
  std::string host;
  bool accepted = false;
  std::string reason;        // refused: why
  ErrorCategory category = ErrorCategory::denied;  // refused: the reason's category
  std::string key;           // the key id the request names (a fingerprint, never key material)
  std::string nonce;
  std::string subject;       // where the request arrived
  std::string reply_to;
  std::string query;         // accepted: all of it; refused: the first 256 bytes
  std::string query_sha256;  // of the whole query text
  std::uint64_t suppressed = 0;  // refusals left out of the ledger since the last audited one
};

// The ledger entry: {"type":"live_query","time","host","decision":"accepted"|"refused","reason",
// "key","nonce","subject","reply_to","query","query_sha256","suppressed"}.
[[nodiscard]] std::string audit_json(const LiveQueryAuditRecord& r);

struct LiveQueryServiceOptions {
  LiveQueryConfig config;
  std::string host;                 // this agent's host name
  std::filesystem::path database;   // the store, opened read-only
  std::uint64_t max_bytes = 16ull * 1024 * 1024;  // result text/blob bytes per query (rules.max_bytes)
  // Records a decision; for an accepted request it runs before the query,
  // and a failure keeps the query from running.
  std::function<Result<void>(const LiveQueryAuditRecord&)> audit;
  std::function<void(std::string_view)> log_info, log_warn;
  std::function<std::int64_t()> now;  // Unix seconds; default the system clock
};

struct LiveQueryStats {
  std::uint64_t accepted = 0, refused = 0, failed = 0, audit_suppressed = 0;
};

class LiveQueryService {
 public:
  // Loads every trusted key (a missing, unsafe or malformed file is an
  // error naming it), opens the engine, connects (a server not reachable
  // yet is not an error: libnats keeps trying) and subscribes.
  [[nodiscard]] static Result<std::unique_ptr<LiveQueryService>> start(LiveQueryServiceOptions options);
  // Unsubscribes and waits for a request being handled to finish.
  ~LiveQueryService();
  LiveQueryService(const LiveQueryService&) = delete;
  LiveQueryService& operator=(const LiveQueryService&) = delete;

  [[nodiscard]] LiveQueryStats stats() const;

  struct Impl;

 private:
  explicit LiveQueryService(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace airssys::daemoneye
