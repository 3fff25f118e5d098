#pragma once
// The operator's side of signed live queries (docs/daemoneye.md "Live
// queries"): daemoneye-cli fleet query signs one request, publishes it on
// core NATS to every addressed host's subject (or daemoneye.query.all) with
// a reply subject of its own, and collects the replies until the timeout
// (or, with named hosts, until each has answered).

#include <airssys/daemoneye/config.hpp>
#include <airssys/daemoneye/error.hpp>
#include <airssys/daemoneye/live_query.hpp>
#include <airssys/daemoneye/live_query_keys.hpp>

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

namespace airssys::daemoneye {

// What one fleet query collects at most: with --all any number of agents
// (or anyone who may publish to the inbox) can answer, each with up to the
// server's max_payload.
inline constexpr std::size_t kFleetMaxReplies = 10'000;
inline constexpr std::size_t kFleetMaxReplyBytes = 256 * 1024 * 1024;

struct FleetQuery {
  std::string query;
  bool all_hosts = false;
  std::vector<std::string> hosts;           // when !all_hosts: at least one
  std::chrono::milliseconds timeout{5000};  // how long replies are collected; also the request's validity (rounded up to whole seconds)
  std::size_t max_replies = kFleetMaxReplies;        // collection stops once this many are kept
  std::size_t max_reply_bytes = kFleetMaxReplyBytes; // or once the kept replies' memory (memory_estimate) reaches this
};

struct FleetQueryResult {
  // In arrival order, one per host (a host's later copies are dropped);
  // with named hosts only theirs (a reply naming another host is dropped).
  std::vector<LiveQueryReply> replies;
  std::vector<std::string> missing;     // named hosts that did not answer in time
  std::string cut;                      // empty, or why collection stopped early (a cap was reached)
  std::string nonce;                    // the request's
};

// `connection`: url and NATS auth (the live_query section's keys). Errors:
// unavailable when no server answers, invalid_input for bad connection
// settings or a request that cannot be valid (timeout over 5 minutes).
[[nodiscard]] Result<FleetQueryResult> run_fleet_query(const LiveQueryConfig& connection, const Ed25519PrivateKey& key,
                                                       const FleetQuery& query);

}  // namespace airssys::daemoneye
