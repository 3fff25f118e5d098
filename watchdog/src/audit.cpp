#include <airssys/watchdog/audit.hpp>

#include <airssys/ledger/osl_sink.hpp>

#include <fmt/format.h>

#include <chrono>
#include <thread>

namespace airssys::watchdog {

namespace {

std::filesystem::path& ledger_dir() {
  static std::filesystem::path dir;
  return dir;
}

// An airssys-ledger shared with other task-watchdog processes: opened for
// each batch (the ledger admits one writer at a time), so no process keeps
// the others out while it merely runs.
class SharedLedgerSink final : public osl::ActivitySink {
 public:
  explicit SharedLedgerSink(std::filesystem::path dir) : dir_(std::move(dir)) {}

  std::expected<void, osl::Error> write(std::span<const osl::ActivityRecord> batch) override {
    // Another writer holds the lock for one batch, milliseconds: wait for it
    // a while; past that the activity log retries the batch (never drops it).
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    for (;;) {
      auto sink = ledger::make_osl_sink({.dir = dir_});
      if (sink) return (*sink)->write(batch);
      const bool busy = sink.error().category == osl::ErrorCategory::resource_exhausted ||
                        sink.error().category == osl::ErrorCategory::already_exists;  // created by another at once
      if (!busy || std::chrono::steady_clock::now() >= until) return std::unexpected(sink.error());
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  std::string name() const override { return "ledger:" + dir_.string(); }

 private:
  std::filesystem::path dir_;
};

}  // namespace

void set_audit_ledger(std::filesystem::path dir) { ledger_dir() = std::move(dir); }

std::expected<osl::AuditOptions, Error> audit_options(const std::filesystem::path& state_dir) {
  osl::AuditOptions audit;
  auto file = osl::make_file_sink({.path = state_dir / "audit.jsonl", .max_bytes = 0});
  if (!file) return std::unexpected(Error{ErrorCategory::failure, "cannot open the audit log: " + file.error().to_string(), file.error().errno_value});
  audit.sinks.push_back(std::move(*file));
  if (!ledger_dir().empty()) audit.sinks.push_back(std::make_shared<SharedLedgerSink>(ledger_dir()));
  return audit;
}

}  // namespace airssys::watchdog
