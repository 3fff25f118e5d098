#pragma once
// An airssys-osl activity sink that appends every activity record to an
// airssys-ledger, making the OS layer's audit trail tamper-evident.
//
// Each record becomes one ledger entry: its JSON line (osl::to_json_line,
// no trailing newline). Each batch the activity log hands over is one
// append_batch, i.e. one group commit: when write() returns ok, the records
// are durable. On failure the writer retries the batch (osl's contract); the
// sink reopens the ledger first, so a transient I/O error does not wedge it.
// A retried batch that was partly committed appears twice (duplicates are
// allowed by ActivitySink, loss is not).
//
// Usage:
//   auto sink = airssys::ledger::make_osl_sink({.dir = "/var/lib/airssys/audit"});
//   options.audit.sinks.push_back(std::move(*sink));
//
// Lives in the separate target airssys::ledger_osl, so airssys::ledger
// itself does not depend on osl.

#include <airssys/osl/activity.hpp>
#include <airssys/osl/error.hpp>

#include <expected>
#include <filesystem>
#include <memory>

namespace airssys::ledger {

struct OslSinkOptions {
  std::filesystem::path dir{};    // the ledger directory
  bool create_if_missing = true;  // init an empty ledger there if none exists
};

// Opens (or creates) the ledger for writing; it stays open, holding the
// writer lock, for the sink's lifetime.
[[nodiscard]] std::expected<std::unique_ptr<osl::ActivitySink>, osl::Error> make_osl_sink(OslSinkOptions options);

}  // namespace airssys::ledger
