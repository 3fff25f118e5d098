// The nats sink's configuration keys: accepted values land in SinkConfig,
// and every bad one is an error with its exact FILE:LINE and message.
#include <airssys/daemoneye/config.hpp>

#include <gtest/gtest.h>

#include <string>

#include "nats_names.hpp"

namespace airssys::daemoneye {
namespace {

using namespace std::chrono_literals;

TEST(NatsConfig, EveryKeyIsRead) {
  Config c;
  const auto r = apply_yaml(c, R"(alerts:
  sinks:
    - type: nats
      url: nats://a.example:4222, tls://b.example:4222
      subject: fleet.alerts.{host}
      stream: FLEET
      timeout: 2s
      credentials: /etc/daemoneye/nats.creds
      tls_ca: /etc/ssl/nats-ca.pem
      tls_cert: /etc/daemoneye/client.pem
      tls_key: /etc/daemoneye/client.key
      min_severity: high
      spool: { dir: /var/lib/daemoneye/nats-spool, max_size: 8MiB }
)",
                            "c.yaml");
  ASSERT_TRUE(r) << r.error();
  ASSERT_EQ(c.alerts.sinks.size(), 1u);
  const SinkConfig& s = c.alerts.sinks[0];
  EXPECT_EQ(s.type, SinkType::nats);
  EXPECT_EQ(s.url, "nats://a.example:4222, tls://b.example:4222");
  EXPECT_EQ(s.subject, "fleet.alerts.{host}");
  EXPECT_EQ(s.stream, "FLEET");
  EXPECT_EQ(s.timeout, 2s);
  EXPECT_EQ(s.credentials, "/etc/daemoneye/nats.creds");
  EXPECT_EQ(s.tls_ca, "/etc/ssl/nats-ca.pem");
  EXPECT_EQ(s.tls_cert, "/etc/daemoneye/client.pem");
  EXPECT_EQ(s.tls_key, "/etc/daemoneye/client.key");
  EXPECT_EQ(s.min_severity, Severity::high);
  EXPECT_EQ(s.spool_dir, "/var/lib/daemoneye/nats-spool");
  EXPECT_EQ(s.spool_max_size, 8u * 1024 * 1024);
}

TEST(NatsConfig, DefaultsAndUserPassword) {
  Config c;
  const auto r = apply_yaml(c,
                            "alerts:\n  sinks:\n    - { type: nats, url: 'nats://127.0.0.1:4222', stream: DAEMONEYE, "
                            "user: agent, password: 'p w', spool: { dir: ./spool } }\n",
                            "c.yaml");
  ASSERT_TRUE(r) << r.error();
  const SinkConfig& s = c.alerts.sinks[0];
  EXPECT_EQ(s.subject, "daemoneye.alerts.{host}");
  EXPECT_EQ(s.spool_max_size, 64u * 1024 * 1024);
  EXPECT_EQ(s.timeout, 5s);
  EXPECT_EQ(s.user, "agent");
  EXPECT_EQ(s.password, "p w");
}

struct Case {
  const char* name;
  const char* sink;  // the flow mapping after "- "
  const char* error;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class NatsConfigErrors : public ::testing::TestWithParam<Case> {};

TEST_P(NatsConfigErrors, NamesFileLineAndProblem) {
  Config c;
  const auto r = apply_yaml(c, std::string("alerts:\n  sinks:\n    - ") + GetParam().sink + "\n", "c.yaml");
  ASSERT_FALSE(r) << "accepted: " << GetParam().sink;
  EXPECT_EQ(r.error().message, GetParam().error);
  EXPECT_EQ(r.error().category, ErrorCategory::invalid_input);
}

#define OK_SPOOL "spool: { dir: ./s }"
INSTANTIATE_TEST_SUITE_P(
    All, NatsConfigErrors,
    ::testing::Values(
        Case{"no_url", "{ type: nats, stream: S, " OK_SPOOL " }",
             "c.yaml:3: alerts.sinks #1 (nats): missing 'url' (the NATS servers, e.g. nats://127.0.0.1:4222)"},
        Case{"no_stream", "{ type: nats, url: 'nats://h:4222', " OK_SPOOL " }",
             "c.yaml:3: alerts.sinks #1 (nats): missing 'stream' (the JetStream stream that stores the alerts)"},
        Case{"no_spool", "{ type: nats, url: 'nats://h:4222', stream: S }",
             "c.yaml:3: alerts.sinks #1 (nats): missing 'spool' (e.g. spool: { dir: /var/lib/daemoneye/nats-spool })"},
        Case{"spool_no_dir", "{ type: nats, url: 'nats://h:4222', stream: S, spool: { max_size: 1MiB } }",
             "c.yaml:3: alerts.sinks #1 (nats): spool: missing 'dir' (where alerts wait for JetStream's ack)"},
        Case{"spool_scalar", "{ type: nats, url: 'nats://h:4222', stream: S, spool: /x }",
             "c.yaml:3: alerts.sinks #1 (nats): spool must be a mapping (dir, max_size), got a string '/x'"},
        Case{"spool_unknown", "{ type: nats, url: 'nats://h:4222', stream: S, spool: { dir: x, size: 1 } }",
             "c.yaml:3: unknown key 'size' in alerts.sinks #1 (nats): spool (known: dir, max_size)"},
        Case{"spool_small", "{ type: nats, url: 'nats://h:4222', stream: S, spool: { dir: x, max_size: 10 } }",
             "c.yaml:3: alerts.sinks #1 (nats): spool.max_size: must be at least 1MiB, got '10'"},
        Case{"http_url", "{ type: nats, url: 'http://h:4222', stream: S, " OK_SPOOL " }",
             "c.yaml:3: alerts.sinks #1 (nats): url: 'http://h:4222': the scheme must be nats:// or tls://"},
        Case{"url_secret_not_echoed", "{ type: nats, url: 'http://u:hunter2@h:4222', stream: S, " OK_SPOOL " }",
             "c.yaml:3: alerts.sinks #1 (nats): url: 'http://h:4222': the scheme must be nats:// or tls://"},
        Case{"url_empty_entry", "{ type: nats, url: 'nats://a:1,,nats://b:2', stream: S, " OK_SPOOL " }",
             "c.yaml:3: alerts.sinks #1 (nats): url: 'nats://a:1,,nats://b:2' has an empty entry"},
        Case{"subject_wildcard", "{ type: nats, url: 'nats://h', stream: S, subject: 'a.>', " OK_SPOOL " }",
             "c.yaml:3: alerts.sinks #1 (nats): subject: 'a.>' contains a wildcard; alerts are published to one subject"},
        Case{"subject_empty_token", "{ type: nats, url: 'nats://h', stream: S, subject: 'a..b', " OK_SPOOL " }",
             "c.yaml:3: alerts.sinks #1 (nats): subject: 'a..b' has an empty token (two dots, or a dot at an end)"},
        Case{"stream_dot", "{ type: nats, url: 'nats://h', stream: a.b, " OK_SPOOL " }",
             "c.yaml:3: alerts.sinks #1 (nats): stream: 'a.b' may not contain spaces, '.', '*', '>', '/', '\\' or "
             "control characters"},
        Case{"two_auths", "{ type: nats, url: 'nats://h', stream: S, token: t, credentials: /c, " OK_SPOOL " }",
             "c.yaml:3: alerts.sinks #1 (nats): give one of credentials, token or user + password"},
        Case{"user_alone", "{ type: nats, url: 'nats://h', stream: S, user: u, " OK_SPOOL " }",
             "c.yaml:3: alerts.sinks #1 (nats): user and password go together"},
        Case{"cert_alone", "{ type: nats, url: 'nats://h', stream: S, tls_cert: /c, " OK_SPOOL " }",
             "c.yaml:3: alerts.sinks #1 (nats): tls_cert and tls_key go together"},
        Case{"webhook_key", "{ type: nats, url: 'nats://h', stream: S, retries: 3, " OK_SPOOL " }",
             "c.yaml:3: unknown key 'retries' in alerts.sinks #1 (nats) (known: type, url, subject, stream, spool, "
             "timeout, credentials, token, user, password, tls_ca, tls_cert, tls_key, min_severity)"},
        Case{"spool_on_webhook", "{ type: webhook, url: 'http://h/', spool: { dir: x } }",
             "c.yaml:3: unknown key 'spool' in alerts.sinks #1 (webhook) (known: type, url, timeout, retries, queue, "
             "min_severity)"}),
    [](const ::testing::TestParamInfo<Case>& i) { return std::string(i.param.name); });

TEST(NatsConfig, EventForwardingIsOffUntilEventsNatsIsGiven) {
  Config c;
  EXPECT_FALSE(c.events.nats);
  const auto r = apply_yaml(c, R"(events:
  nats:
    url: nats://a.example:4222
    stream: DAEMONEYE_EVENTS
    token: t0k
    timeout: 3s
    spool: { dir: /var/lib/daemoneye/events-spool, max_size: 16MiB }
)",
                            "c.yaml");
  ASSERT_TRUE(r) << r.error();
  ASSERT_TRUE(c.events.nats);
  const SinkConfig& s = *c.events.nats;
  EXPECT_EQ(s.type, SinkType::nats);
  EXPECT_EQ(s.url, "nats://a.example:4222");
  EXPECT_EQ(s.subject, "daemoneye.events.{host}") << "the events' own default subject";
  EXPECT_EQ(s.stream, "DAEMONEYE_EVENTS");
  EXPECT_EQ(s.token, "t0k");
  EXPECT_EQ(s.timeout, 3s);
  EXPECT_EQ(s.spool_dir, "/var/lib/daemoneye/events-spool");
  EXPECT_EQ(s.spool_max_size, 16u * 1024 * 1024);
  EXPECT_EQ(c.alerts.sinks.size(), 1u) << "the alert sinks are untouched";
}

TEST(NatsConfig, EventsNatsErrorsNameFileLineAndProblem) {
  const struct {
    const char* yaml;
    const char* error;
  } cases[] = {
      {"events:\n  nats: { url: 'nats://h', " OK_SPOOL " }\n",
       "c.yaml:2: events.nats: missing 'stream' (the JetStream stream that stores the alerts)"},
      {"events:\n  nats: { url: 'nats://h', stream: S, min_severity: high, " OK_SPOOL " }\n",
       "c.yaml:2: unknown key 'min_severity' in events.nats (known: url, subject, stream, spool, timeout, credentials, "
       "token, user, password, tls_ca, tls_cert, tls_key)"},
      {"events:\n  nats: { url: 'nats://h', stream: S, spool: { dir: x, max_size: 2GiB } }\n",
       "c.yaml:2: events.nats: spool.max_size: must be at most 1GiB, got '2GiB'"},
      {"events:\n  webhook: {}\n", "c.yaml:2: unknown key 'webhook' in events (known: nats)"},
      {"events:\n  nats: yes\n", "c.yaml:2: events.nats must be a mapping (url, stream, spool, ...), got a string 'yes'"},
      {"events: [nats]\n", "c.yaml:1: events must be a mapping (nats), got a list"},
      {"alerts:\n  sinks:\n    - { type: nats, url: 'nats://h', stream: S, spool: { dir: x, max_size: 1025MiB } }\n",
       "c.yaml:3: alerts.sinks #1 (nats): spool.max_size: must be at most 1GiB, got '1025MiB'"},
  };
  for (const auto& t : cases) {
    Config c;
    const auto r = apply_yaml(c, t.yaml, "c.yaml");
    ASSERT_FALSE(r) << "accepted: " << t.yaml;
    EXPECT_EQ(r.error().message, t.error);
  }
  Config c;
  const auto r = set_key(c, "events.nats.url", "nats://h", "DAEMONEYE_EVENTS_NATS_URL");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "DAEMONEYE_EVENTS_NATS_URL: events.nats is a mapping; set it in a config file");
}

TEST(NatsNames, HostBecomesOneSubjectToken) {
  EXPECT_EQ(detail::expand_nats_subject("daemoneye.alerts.{host}", "web1.example.com"),
            "daemoneye.alerts.web1_example_com");
  EXPECT_EQ(detail::expand_nats_subject("a.{host}.b", "h*>x y"), "a.h__x_y.b");
  EXPECT_EQ(detail::redact_nats_url("nats://u:p@a:1, tls://b:2,c:3"), "nats://a:1,tls://b:2,c:3");
}

}  // namespace
}  // namespace airssys::daemoneye
