// The syslog sink: each alert as one RFC 5424 message (syslog_message.hpp)
// through osl's syslog transport (airssys/osl/audit_syslog.hpp: a unix
// datagram socket such as /dev/log, UDP, or TCP with RFC 6587 octet
// counting; reconnects and what "sent" means are described there).
//
// One batch gets at most kBatchBudget to send, waiting when a socket is
// full, so a stuck syslog daemon delays a scan by that much at most. What is
// not sent by then is counted as failed.
#include <unistd.h>

#include <airssys/osl/audit_syslog.hpp>

#include <chrono>

#include <fmt/format.h>

#include "alert_sink.hpp"

#include <airssys/daemoneye/component_errors.hpp>
#include "syslog_message.hpp"

namespace airssys::daemoneye::detail {

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::chrono::milliseconds kBatchBudget{500};

class SyslogSink final : public Sink {
 public:
  SyslogSink(const SinkConfig& config, osl::syslog::Sender sender, int facility, std::shared_ptr<SinkCounters> counters,
             SinkLog log)
      : sender_(std::move(sender)),
        facility_(facility),
        format_(config.format),
        report_(fmt::format("syslog sink {}", config.address), std::move(counters), std::move(log)) {}

  void deliver(std::span<const Delivery> batch) override {
    const auto deadline = Clock::now() + kBatchBudget;
    const long pid = ::getpid();
    std::uint64_t failed = 0;
    std::string first_error;
    for (const Delivery& d : batch) {
      const std::string msg = format_rfc5424(*d.alert, facility_, pid, render(d, format_));
      if (auto sent = sender_.send(msg, deadline); !sent) {
        ++failed;
        if (first_error.empty()) first_error = sent.error().message;
      }
    }
    if (failed > 0) report_.failed(first_error, failed);
    else report_.succeeded();
  }

 private:
  osl::syslog::Sender sender_;
  int facility_;
  SinkFormat format_;
  FailureReporter report_;
};

}  // namespace

Result<std::unique_ptr<Sink>> make_syslog_sink(const SinkConfig& config, std::shared_ptr<SinkCounters> counters,
                                              SinkLog log) {
  auto address = parse_syslog_address(config.address);
  if (!address) return std::unexpected(address.error().prefixed("syslog sink"));
  const auto facility = osl::syslog::parse_facility(config.facility);
  if (!facility) return fail(ErrorCategory::invalid_input, "syslog sink: " + facility.error().message);
  auto sender = osl::syslog::Sender::open(std::move(*address));
  // A host name that does not resolve (osl: not_found) is the
  // configuration naming something unusable: invalid_input, so the agent
  // exits 2 (agent.hpp). Other failures keep osl's category and errno.
  if (!sender) {
    const ErrorCategory c = category_of(sender.error());
    return std::unexpected(Error{c == ErrorCategory::not_found ? ErrorCategory::invalid_input : c,
                                 sender.error().errno_value,
                                 fmt::format("syslog sink {}: {}", config.address, sender.error().message)});
  }
  return std::make_unique<SyslogSink>(config, std::move(*sender), *facility, std::move(counters), std::move(log));
}

}  // namespace airssys::daemoneye::detail
