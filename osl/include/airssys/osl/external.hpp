#pragma once
// An operation osl does not carry out itself — a request to a container
// engine, a call to another service — run as one audited osl operation, so
// it leaves the same records as the operations osl executes: the same
// policy check, op_id counter, trace context and sinks.
//
//   osl::External stop{.kind = osl::OpKind::process_kill,
//                      .resources = {"task-7"},
//                      .detail_json = R"({"request":"POST /containers/ab12/stop?t=2"})"};
//   auto done = system.run("alice", stop, [&]() -> std::expected<void, osl::Error> {
//     return engine.stop("ab12");  // runs only if allowed and its start record is written
//   });
//
// The pipeline, in order:
//   1. the policy decides `kind` on `resources` (deny by default, the same
//      Decision and rule as any operation); a refusal leaves one `denied`
//      record and the action does not run;
//   2. the `start` record (with `detail_json` as its `detail`) is written by
//      every sink — made durable, not merely queued, whatever the sinks'
//      write_through(); if that does not happen within
//      AuditOptions::stall_timeout the action does not run and the call
//      fails with category io ("audit log stalled, operation not executed: …");
//   3. the action runs on the calling thread;
//   4. the `end` record carries its outcome: `ok`, or `error` with the
//      Error's category, errno and message (an exception from the action is
//      caught and recorded as category internal). The end record is queued
//      like every other; System::flush_audit waits for it.
//
// `kind` is the existing kind that says what the action does (a container
// stop kills processes: process.kill), so a policy rule and a SIEM query for
// kills see it; the resources are matched as given (no canonicalisation, as
// osl cannot resolve what it does not own): for a path kind, a rule whose
// pattern is "**" matches any text, an absolute pattern only absolute text.
// Metrics count it under `kind`.

#include <airssys/osl/error.hpp>
#include <airssys/osl/operation_kind.hpp>

#include <expected>
#include <functional>
#include <string>
#include <vector>

namespace airssys::osl {

struct External {
  OpKind kind = OpKind::process_kill;
  // At least one; each non-empty and without NUL bytes (invalid_argument otherwise).
  std::vector<std::string> resources{};
  // Extra facts for the start record: a JSON object's text, or "" for none
  // (anything else is invalid_argument: a record line must stay valid JSON).
  std::string detail_json{};
};

// The caller's action. Its error is recorded in the end record and handed back.
using ExternalAction = std::function<std::expected<void, Error>()>;

}  // namespace airssys::osl
