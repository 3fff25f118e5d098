#pragma once
// Signed live queries across a fleet (docs/daemoneye.md "Live queries"):
// the wire format of a request and its reply, and the bytes a request's
// Ed25519 signature covers.
//
// An operator's daemoneye-cli publishes a LiveQueryRequest as JSON over
// core NATS to daemoneye.query.host.<host token> (one subject per target
// host) or daemoneye.query.all, with a reply subject of its own. Each agent
// that takes it checks it (LiveQueryGuard, live_query_guard.hpp), runs the
// query through its guarded QueryEngine and answers with a LiveQueryReply.
//
// What the signature covers (canonical_bytes): every field of the request
// but the signature itself — version, key id, query, hosts, nonce, issued
// and expiry times and the reply subject — each as <name>=<length>:<bytes>
// after a domain string, so no two different requests share the same
// bytes and a signature over anything else (another protocol, another
// version) never verifies. The reply subject is signed so that a request
// seen on the wire cannot be resent with a reply subject of someone else's.
//
// Replies are not signed: see docs/daemoneye.md "Live queries" (what they
// carry is data for the operator, who learns which host sent it from the
// reply's host and matches it to the request by the nonce).

#include <airssys/daemoneye/error.hpp>
#include <airssys/daemoneye/query_engine.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace airssys::daemoneye {

inline constexpr int kLiveQueryVersion = 1;
// iat and exp lie in 0 … 2^40 s (year ~36,800): decode_request refuses
// others, so the guard's sums and differences of them cannot overflow.
inline constexpr std::int64_t kLiveQueryMaxTime = std::int64_t{1} << 40;

// "daemoneye.query.all": requests for every agent.
[[nodiscard]] std::string live_query_subject_all();
// "daemoneye.query.host.<token>": requests for one host; the token is the
// host name with '.', '*', '>' and non-printable bytes as '_' (as the nats
// sink's {host}).
[[nodiscard]] std::string live_query_subject_for(std::string_view host);

struct LiveQueryRequest {
  int version = kLiveQueryVersion;
  std::string key_id;                // the signing key's fingerprint ("sha256:<hex>")
  std::string query;                 // one read-only SELECT
  bool all_hosts = false;            // true: every agent; `hosts` is then empty
  std::vector<std::string> hosts;    // the agents addressed (their configured host names)
  std::string nonce;                 // 32 lowercase hex digits (16 random bytes)
  std::int64_t issued_at = 0;        // Unix seconds
  std::int64_t expires_at = 0;       // Unix seconds; after it the request is refused
  std::string reply_to;              // the NATS subject replies go to
  std::string signature;             // 128 lowercase hex digits (Ed25519); empty: unsigned
};

// The bytes the signature covers (everything but `signature`).
[[nodiscard]] std::string canonical_bytes(const LiveQueryRequest& r);

// JSON: {"v","key","query","hosts" ("all" or [..]),"nonce","iat","exp","reply","sig"}.
[[nodiscard]] std::string encode_request(const LiveQueryRequest& r);
// invalid_input naming the field for anything malformed: not JSON, a
// missing or mistyped field, another version, a nonce or signature that is
// not hex of the right length, a query over 1,000,000 bytes.
[[nodiscard]] Result<LiveQueryRequest> decode_request(std::string_view json);

// A fresh nonce from the OpenSSL CSPRNG.
[[nodiscard]] Result<std::string> make_nonce();

enum class LiveQueryStatus : std::uint8_t {
  ok,       // the query ran: columns, rows
  refused,  // the request was not accepted (signature, key, time, replay, addressing)
  failed,   // accepted, but the query failed (refused by the SQL guard, timeout, ...)
};
[[nodiscard]] std::string_view to_string(LiveQueryStatus s) noexcept;

struct LiveQueryReply {
  std::string host;
  std::string nonce;  // the request's (empty when the request could not be read)
  LiveQueryStatus status = LiveQueryStatus::ok;
  ErrorCategory category = ErrorCategory::internal;  // refused / failed: why, as an error category
  std::string message;                               // refused / failed: the reason
  std::vector<std::string> columns;
  std::vector<std::vector<Value>> rows;
  bool truncated = false;  // the agent's row, byte or reply-size limit cut the result
  std::int64_t elapsed_us = 0;
};

// JSON: {"v","host","nonce","status","category","message","columns","rows","truncated","elapsed_us"};
// rows as arrays of values (null, integer, real, string; invalid UTF-8 as U+FFFD).
[[nodiscard]] std::string encode_reply(const LiveQueryReply& r);
[[nodiscard]] Result<LiveQueryReply> decode_reply(std::string_view json);

// About how much memory `r` holds: the struct, each value's variant, each
// vector and string buffer (capacity, not size) and a malloc header per
// heap block. A reply of many tiny values holds 8-20 times its JSON bytes
// ("[1]," is 4 bytes on the wire, that row ~80 here), so a cap on what a
// client keeps counts this, not the message's size. The same estimate as
// QueryEngine's max_bytes (lib/src/result_memory.hpp).
[[nodiscard]] std::size_t memory_estimate(const LiveQueryReply& r) noexcept;

// Runs an accepted request's query on `engine` (the agent's guarded,
// read-only engine: its authorizer, time, row and byte limits) and makes
// the reply: ok with the rows, or failed with the engine's error.
[[nodiscard]] LiveQueryReply run_live_query(QueryEngine& engine, const LiveQueryRequest& request,
                                            std::string_view host);

// Drops rows from the end until encode_reply(reply) is at most `max_bytes`
// (marking it truncated); returns the encoded reply. An empty-row reply
// that is still too large (huge column names) is returned as is.
[[nodiscard]] std::string encode_reply_within(LiveQueryReply& reply, std::size_t max_bytes);

}  // namespace airssys::daemoneye
