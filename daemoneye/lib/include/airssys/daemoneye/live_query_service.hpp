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

#include <array>
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

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

// Why a request was refused, by the step of the checks
// (docs/daemoneye.md "Live queries", What an agent accepts).
enum class LiveQueryRefusal : std::uint8_t {
  malformed,        // not a request at all (decode_request)
  unauthenticated,  // steps 1-3: not signed, untrusted key, bad signature, reply subject
  not_addressed,    // step 4
  clock,            // step 5: expired, issued in the future, valid too long, times out of range
  before_start,     // step 6: issued before the service started
  replayed,         // step 7: nonce accepted before
  busy,             // step 7: the replay cache is full
};
inline constexpr std::size_t kLiveQueryRefusals = 7;
[[nodiscard]] std::string_view to_string(LiveQueryRefusal r) noexcept;

// Counters since the service started (the agent's status file "live_query").
struct LiveQueryStats {
  std::uint64_t accepted = 0;  // passed every check and recorded in the ledger
  std::uint64_t refused = 0;   // the sum of refused_by
  std::array<std::uint64_t, kLiveQueryRefusals> refused_by{};  // by LiveQueryRefusal
  // Not answered with rows: failed_ledger (never accepted: the ledger could
  // not record it, so it did not run) plus the accepted queries that failed.
  // Past the checks, accepted + failed_ledger counts each request once.
  std::uint64_t failed = 0;
  std::uint64_t failed_ledger = 0;
  std::uint64_t answered = 0;  // replies published: rows, failures and refusals
  std::uint64_t rows = 0;      // rows in the replies published
  // Refusals of signed requests left unanswered because the request had
  // expired, its nonce was answered before (captured and replayed), or the
  // cache of answered nonces is full (100,000 unexpired ones).
  std::uint64_t dropped = 0;
  std::uint64_t audit_suppressed = 0;  // refusals left out of the ledger by its rate limit
};

struct TrustedKeysReload {
  std::size_t trusted = 0;     // keys trusted now
  std::vector<Error> dropped;  // one per file not loaded, naming it and why
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

  // Never waits for a request being handled (the agent's only thread calls it).
  [[nodiscard]] LiveQueryStats stats() const;

  // Reads `files` (live_query.trusted_keys) again, checked as at start, and
  // from the next request on trusts exactly the keys whose files load now
  // (SIGHUP): a file that is missing, unsafe (itself or a directory above
  // it: check_trusted_path) or not an Ed25519 public key is dropped and
  // `dropped` says why (revoking a key by deleting its file works even when
  // another file is bad). An empty list trusts no key.
  // Does not wait for a query being run.
  [[nodiscard]] TrustedKeysReload reload_trusted_keys(const std::vector<std::filesystem::path>& files);

  struct Impl;

 private:
  explicit LiveQueryService(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace airssys::daemoneye
