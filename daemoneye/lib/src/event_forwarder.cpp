#include <airssys/daemoneye/event_forwarder.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <openssl/evp.h>

#include "alert_sink.hpp"
#include "nats_forwarder.hpp"
#include "nats_names.hpp"

namespace airssys::daemoneye {

struct EventForwarder::Impl {
  std::shared_ptr<detail::SinkCounters> counters = std::make_shared<detail::SinkCounters>();
  std::string host;
  std::unique_ptr<detail::NatsForwarder> forwarder;  // last: its thread stops first
};

std::string event_message_json(const ProcessEvent& e, std::string_view host) {
  const std::string body = encode(e);  // a JSON object: "{...}"
  return fmt::format("{{\"host\":{},{}", nlohmann::json(std::string(host)).dump(-1, ' ', false,
                                                                                   nlohmann::json::error_handler_t::replace),
                     std::string_view(body).substr(1));
}

std::string event_message_id(const ProcessEvent& e, std::string_view host, std::string_view json) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(json.data(), json.size(), digest, &len, EVP_sha256(), nullptr);
  std::string hex;
  for (unsigned int i = 0; i < len && i < 16; ++i) hex += fmt::format("{:02x}", digest[i]);
  return fmt::format("{}|{}|{}|{}", host, to_string(e.kind), e.process.pid, hex);
}

Result<std::unique_ptr<EventForwarder>> EventForwarder::open(const SinkConfig& config, std::string host,
                                                            std::function<void(std::string_view)> log) {
  auto impl = std::make_unique<Impl>();
  impl->host = std::move(host);
  detail::NatsForwarderOptions options;
  options.what = "events";
  options.spool_name = "events";
  options.subject_of = [subject = detail::expand_nats_subject(config.subject, impl->host)](const detail::NatsSpool::Message&) {
    return subject;
  };
  auto forwarder = detail::NatsForwarder::open(config, std::move(options), "events.nats", impl->counters,
                                               [log = std::move(log)](std::string_view m) {
                                                 if (log) log(m);
                                               });
  if (!forwarder) return std::unexpected(forwarder.error());
  impl->forwarder = std::move(*forwarder);
  return std::unique_ptr<EventForwarder>(new EventForwarder(std::move(impl)));
}

EventForwarder::EventForwarder(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
EventForwarder::~EventForwarder() = default;

void EventForwarder::forward(std::span<const ProcessEvent> events) {
  if (events.empty()) return;
  std::vector<detail::NatsSpool::Entry> entries;
  entries.reserve(events.size());
  for (const ProcessEvent& e : events) {
    std::string json = event_message_json(e, impl_->host);
    std::string id = event_message_id(e, impl_->host, json);
    entries.push_back({std::move(id), std::move(json)});
  }
  impl_->forwarder->submit(std::move(entries));
}

std::size_t EventForwarder::drain(std::chrono::milliseconds max) {
  return impl_->forwarder->drain(max, std::chrono::seconds(1));
}

EventForwarder::Stats EventForwarder::stats() const {
  const auto& c = *impl_->counters;
  return {.published = c.nats_published.load(std::memory_order_relaxed),
          .acked = c.nats_acked.load(std::memory_order_acquire),  // before spooled (NatsForwarder::run)
          .spooled = c.nats_spooled.load(std::memory_order_relaxed),
          .dropped = c.nats_dropped.load(std::memory_order_relaxed),
          .reconnects = c.nats_reconnects.load(std::memory_order_relaxed),
          .errors = c.errors.load(std::memory_order_relaxed)};
}

}  // namespace airssys::daemoneye
