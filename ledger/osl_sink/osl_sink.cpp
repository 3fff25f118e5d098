#include <airssys/ledger/ledger.hpp>
#include <airssys/ledger/osl_sink.hpp>

#include <string>
#include <vector>

namespace airssys::ledger {

namespace {

osl::Error to_osl(const Error& e) {
  osl::ErrorCategory c = osl::ErrorCategory::io;
  switch (e.category) {
    case ErrorCategory::not_found: c = osl::ErrorCategory::not_found; break;
    case ErrorCategory::invalid_argument: c = osl::ErrorCategory::invalid_argument; break;
    case ErrorCategory::already_exists: c = osl::ErrorCategory::already_exists; break;
    case ErrorCategory::busy: c = osl::ErrorCategory::resource_exhausted; break;
    case ErrorCategory::internal: c = osl::ErrorCategory::internal; break;
    default: break;
  }
  osl::Error out = osl::Error::make(c, "audit ledger: " + e.message);
  out.errno_value = e.errno_value;
  return out;
}

Result<std::unique_ptr<Ledger>> open_or_create(const OslSinkOptions& o) {
  auto l = Ledger::open(o.dir);
  if (!l && l.error().category == ErrorCategory::not_found && o.create_if_missing) return Ledger::create(o.dir);
  return l;
}

class LedgerSink final : public osl::ActivitySink {
 public:
  LedgerSink(OslSinkOptions options, std::unique_ptr<Ledger> ledger)
      : options_(std::move(options)), ledger_(std::move(ledger)) {}

  std::expected<void, osl::Error> write(std::span<const osl::ActivityRecord> batch) override {
    if (batch.empty()) return {};
    if (!ledger_) {  // the last write failed: reopen (recovery truncates any torn tail)
      auto l = open_or_create(options_);
      if (!l) return std::unexpected(to_osl(l.error()));
      ledger_ = std::move(*l);
    }
    lines_.clear();
    lines_.reserve(batch.size());
    for (const auto& r : batch) lines_.push_back(osl::to_json_line(r));
    views_.assign(lines_.size(), ByteView{});
    for (std::size_t i = 0; i < lines_.size(); ++i)
      views_[i] = ByteView(reinterpret_cast<const std::uint8_t*>(lines_[i].data()), lines_[i].size());
    auto first = ledger_->append_batch(views_);
    if (!first) {
      ledger_.reset();
      return std::unexpected(to_osl(first.error()));
    }
    return {};
  }

  std::string name() const override { return "ledger:" + options_.dir.string(); }

 private:
  OslSinkOptions options_;
  std::unique_ptr<Ledger> ledger_;
  std::vector<std::string> lines_;  // reused between batches (single writer thread)
  std::vector<ByteView> views_;
};

}  // namespace

std::expected<std::unique_ptr<osl::ActivitySink>, osl::Error> make_osl_sink(OslSinkOptions options) {
  auto l = open_or_create(options);
  if (!l) return std::unexpected(to_osl(l.error()));
  return std::make_unique<LedgerSink>(std::move(options), std::move(*l));
}

}  // namespace airssys::ledger
