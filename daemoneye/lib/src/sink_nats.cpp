// The nats sink: every alert is published to NATS JetStream and counts as
// delivered only when the stream acks it (docs/daemoneye.md "Forwarding to
// NATS JetStream"). The spool, the sender thread, retries and drops are
// NatsForwarder's (nats_forwarder.hpp); this file makes an alert into a
// spool entry: its JSON and its Nats-Msg-Id.
//
// Logs name the servers without user:password and never a token, password
// or credentials.
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <openssl/evp.h>

#include "alert_sink.hpp"
#include "nats_forwarder.hpp"
#include "nats_names.hpp"

namespace airssys::daemoneye::detail {

namespace {

// "<dedup key>|<host>|<time>": the same for every retry of one alert, so
// JetStream drops a re-sent copy; a later raise of the same condition
// (after the dedup window) has another time and is a new message. Without
// a dedup key: the alert JSON's SHA-256.
std::string message_id(const Alert& a, const std::string& json) {
  if (!a.dedup_key.empty()) return fmt::format("{}|{}|{}", a.dedup_key, a.host, a.time);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(json.data(), json.size(), digest, &len, EVP_sha256(), nullptr);
  std::string hex;
  for (unsigned int i = 0; i < len; ++i) hex += fmt::format("{:02x}", digest[i]);
  return fmt::format("sha256:{}|{}|{}", hex, a.host, a.time);
}

// The alert's host from its JSON (the spool keeps only the JSON and the id).
std::string host_of(const std::string& json) {
  const auto j = nlohmann::json::parse(json, nullptr, false);
  if (j.is_object()) {
    const auto it = j.find("host");
    if (it != j.end() && it->is_string()) return it->get<std::string>();
  }
  return {};
}

class NatsSink final : public Sink {
 public:
  explicit NatsSink(std::unique_ptr<NatsForwarder> forwarder) : forwarder_(std::move(forwarder)) {}

  void deliver(std::span<const Delivery> batch) override {
    std::vector<NatsSpool::Entry> entries;
    entries.reserve(batch.size());
    for (const Delivery& d : batch) entries.push_back({message_id(*d.alert, *d.json), *d.json});
    forwarder_->submit(std::move(entries));
  }

 private:
  std::unique_ptr<NatsForwarder> forwarder_;
};

}  // namespace

Result<std::unique_ptr<Sink>> make_nats_sink(const SinkConfig& config, std::shared_ptr<SinkCounters> counters,
                                             SinkLog log) {
  NatsForwarderOptions options;
  options.what = "alerts";
  options.spool_name = "alerts";
  options.subject_of = [subject = config.subject](const NatsSpool::Message& m) {
    return expand_nats_subject(subject, host_of(m.json));
  };
  auto forwarder = NatsForwarder::open(config, std::move(options), "nats sink", std::move(counters), std::move(log));
  if (!forwarder) return std::unexpected(forwarder.error());
  return std::make_unique<NatsSink>(std::move(*forwarder));
}

}  // namespace airssys::daemoneye::detail
