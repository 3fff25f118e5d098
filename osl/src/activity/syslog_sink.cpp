// The RFC 5424 syslog audit sink (make_syslog_sink in activity.hpp).
//
// One message per record:
//   <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [airssys@32473 ...] JSON
// MSGID is the operation kind ("fs.read"); the structured data element holds
// what a SIEM filters on (op_id, event, principal, decision, rule, outcome,
// and the trace when there is one); MSG is the record's JSON line, exactly
// as the file sink writes it, so nothing is lost to the SD's limits.
#include <airssys/osl/activity.hpp>
#include <airssys/osl/audit_syslog.hpp>

#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <climits>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "activity/record_json.hpp"

namespace airssys::osl {

namespace {

using Clock = std::chrono::steady_clock;

// The SD-ID's enterprise number is 32473, the one RFC 5612 reserves for
// documentation and examples; airssys has no number of its own.
constexpr std::string_view kSdId = "airssys@32473";

constexpr std::size_t kCutSd = 256;
constexpr std::size_t kCutMsg = 8192;

// The longest prefix of `s` of at most `max` bytes that does not split a UTF-8 sequence.
std::string_view utf8_prefix(std::string_view s, std::size_t max) {
  if (s.size() <= max) return s;
  std::size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

int severity_of(const ActivityRecord& r) {
  if (r.event == ActivityEvent::denied || r.decision == DecisionKind::audit_deny) return syslog::kWarning;
  if (r.event == ActivityEvent::end && r.outcome == "error") return syslog::kNotice;
  return syslog::kInfo;
}

class SyslogSink final : public ActivitySink {
 public:
  SyslogSink(SyslogSinkOptions options, syslog::Sender sender, int facility)
      : options_(std::move(options)), sender_(std::move(sender)), facility_(facility) {}

  std::expected<void, Error> write(std::span<const ActivityRecord> batch) override {
    // A retried batch starts with the records that already went out: skip
    // them rather than send them twice (the log retries the same batch).
    std::size_t first = 0;
    if (resume_ && !batch.empty() && batch.front().op_id == resume_->op_id && batch.front().event == resume_->event &&
        batch.front().ts == resume_->ts && resume_->sent < batch.size()) {
      first = resume_->sent;
    }
    resume_.reset();
    const auto deadline = Clock::now() + options_.send_timeout;
    const std::string procid = std::to_string(::getpid());
    for (std::size_t i = first; i < batch.size(); ++i) {
      auto sent = sender_.send(format(batch[i], procid, false), deadline);
      // Larger than one datagram can carry (a long argv, a long principal):
      // a retry could never succeed and would hold up every later record.
      if (!sent && sent.error().errno_value == EMSGSIZE) sent = sender_.send(format(batch[i], procid, true), deadline);
      if (!sent) {
        resume_ = Resume{batch.front().op_id, batch.front().event, batch.front().ts, i};
        return std::unexpected(sent.error());  // the log names the sink (name()) in its messages
      }
    }
    return {};
  }

  std::string name() const override { return "syslog " + options_.address; }

 private:
  // `cut`: the principal and rule cut to kCutSd bytes, the JSON to kCutMsg
  // (at a UTF-8 boundary), so the message fits in any datagram. The message
  // is built in buffers kept from record to record (the sink is called from
  // one thread): no allocation per record once they have grown.
  std::string_view format(const ActivityRecord& r, const std::string& procid, bool cut) {
    char op_id[24];
    const auto [op_id_end, ec] = std::to_chars(op_id, op_id + sizeof op_id, r.op_id);
    const auto c = [cut](std::string_view v, std::size_t max) { return cut ? utf8_prefix(v, max) : v; };
    std::array<syslog::SdParam, 9> params;
    std::size_t n = 0;
    params[n++] = {"op_id", std::string_view(op_id, static_cast<std::size_t>(op_id_end - op_id))};
    params[n++] = {"event", to_string(r.event)};
    params[n++] = {"principal", c(r.principal, kCutSd)};
    params[n++] = {"decision", to_string(r.decision)};
    if (r.rule) params[n++] = {"rule", c(*r.rule, kCutSd)};
    params[n++] = {"outcome", r.outcome};
    if (r.trace) {
      params[n++] = {"trace_id", r.trace->trace_id()};
      params[n++] = {"parent_id", r.trace->parent_id()};
      params[n++] = {"trace_flags", r.trace->flags()};
    }
    const syslog::SdElement sd{kSdId, std::span(params.data(), n)};
    const syslog::Header header{.facility = facility_,
                                .severity = severity_of(r),
                                .time = std::chrono::time_point_cast<std::chrono::microseconds>(r.ts),
                                .microseconds = true,
                                .hostname = options_.hostname,
                                .app_name = options_.app_name,
                                .procid = procid,
                                .msgid = to_string(r.op)};
    json_.clear();
    append_json_line(json_, r);
    message_.clear();
    syslog::append_rfc5424(message_, header, std::span(&sd, 1), c(json_, kCutMsg));
    return message_;
  }

  struct Resume {
    std::uint64_t op_id;
    ActivityEvent event;
    std::chrono::system_clock::time_point ts;
    std::size_t sent;
  };

  SyslogSinkOptions options_;
  syslog::Sender sender_;
  int facility_;
  std::optional<Resume> resume_;
  std::string json_;     // format()'s buffers
  std::string message_;
};

}  // namespace

std::expected<std::unique_ptr<ActivitySink>, Error> make_syslog_sink(SyslogSinkOptions options) {
  auto address = syslog::parse_address(options.address);
  if (!address) return std::unexpected(address.error());
  const auto facility = syslog::parse_facility(options.facility);
  if (!facility) return std::unexpected(facility.error());
  if (options.hostname.empty()) {
    char host[HOST_NAME_MAX + 1] = {};
    if (::gethostname(host, sizeof host - 1) == 0) options.hostname = host;
  }
  auto sender = syslog::Sender::open(std::move(*address));
  if (!sender) {
    Error e = sender.error();
    e.message = fmt::format("syslog {}: {}", options.address, e.message);
    return std::unexpected(std::move(e));
  }
  return std::make_unique<SyslogSink>(std::move(options), std::move(*sender), *facility);
}

}  // namespace airssys::osl
