// airssys-bus — command-line front end of airssys::bus: run a broker, publish,
// subscribe, request, reply, read stats, benchmark. Exit codes in cli.hpp.

#include "cli.hpp"

#include <airssys/bus/broker.hpp>
#include <airssys/bus/client.hpp>
#include <airssys/bus/subject.hpp>
#include <airssys/osl/detail/cli_parse_error.hpp>
#include <airssys/osl/detail/empty_option_value.hpp>
#include <airssys/osl/detail/standard_fds.hpp>
#include <airssys/osl/detail/stderr_message.hpp>

#include <atomic>
#include <charconv>
#include <chrono>
#include <climits>
#include <expected>
#include <optional>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace bus = airssys::bus;
namespace cli = airssys::bus::cli;

namespace {

struct Common {
  std::string socket = cli::default_socket();
};

std::expected<std::unique_ptr<bus::Client>, bus::Error> connect(const Common& c) {
  bus::ClientOptions o;
  o.socket_path = c.socket;
  o.on_error = cli::on_async_error;
  return bus::Client::connect(std::move(o));
}

// A numeric option checked by cli::parse_whole when it is parsed, so a bad
// value gets the same message (and exit code 2) whatever the option.
template <class T>
CLI::Option* add_number(CLI::App* app, const std::string& name, T& out, std::uint64_t min, std::uint64_t max,
                        const std::string& help) {
  return app->add_option_function<std::string>(
      name,
      [&out, name, min, max](const std::string& text) {
        auto v = cli::parse_whole(name, text, min, max);
        if (!v) throw CLI::ValidationError(v.error());
        out = static_cast<T>(*v);
      },
      help);
}

// Repeatable uid/gid options.
template <class T>
CLI::Option* add_ids(CLI::App* app, const std::string& name, std::vector<T>& out, const std::string& help) {
  return app->add_option_function<std::vector<std::string>>(
      name,
      [&out, name](const std::vector<std::string>& texts) {
        for (const std::string& text : texts) {
          auto v = cli::parse_whole(name, text, 0, 0xfffffffeu);  // (uid_t)-1 means "no change" to the kernel
          if (!v) throw CLI::ValidationError(v.error());
          out.push_back(static_cast<T>(*v));
        }
      },
      help);
}

// "UID:PATTERN"
std::expected<std::pair<uid_t, std::string>, std::string> parse_grant(const std::string& s) {
  const auto colon = s.find(':');
  if (colon == std::string::npos) return std::unexpected("expected UID:PATTERN, got '" + s + "'");
  auto uid = cli::parse_whole("the UID of '" + s + "'", std::string_view(s).substr(0, colon), 0, 0xfffffffeu);
  if (!uid) return std::unexpected(uid.error());
  std::string pat = s.substr(colon + 1);
  if (auto v = bus::validate_subscribe_subject(pat); !v) return std::unexpected(v.error().message);
  return std::pair{static_cast<uid_t>(*uid), std::move(pat)};
}

int cmd_serve(const Common& c, const std::vector<uid_t>& uids, const std::vector<gid_t>& gids,
              const std::vector<std::string>& pub_allow, const std::vector<std::string>& sub_allow,
              std::size_t max_frame, std::size_t max_conns, std::optional<std::chrono::microseconds> busy_poll) {
  bus::BrokerOptions o;
  o.busy_poll = busy_poll;
  o.socket_path = c.socket;
  o.allowed_uids = uids;
  o.allowed_gids = gids;
  if (max_frame != 0) o.max_frame_bytes = max_frame;
  if (max_conns != 0) o.max_connections = max_conns;
  auto perm_for = [&](uid_t uid) -> bus::Permission& {
    for (auto& p : o.permissions)
      if (p.uid == uid) return p;
    o.permissions.push_back({uid, {}, {}});
    return o.permissions.back();
  };
  for (const auto* list : {&pub_allow, &sub_allow}) {
    for (const std::string& g : *list) {
      auto p = parse_grant(g);
      if (!p) {
        airssys::osl::detail::write_stderr_ignoring_failure("airssys-bus: " + p.error() + "\n");
        return cli::kUsage;
      }
      auto& perm = perm_for(p->first);
      (list == &pub_allow ? perm.publish : perm.subscribe).push_back(p->second);
    }
  }
  cli::block_stop_signals();
  auto b = bus::Broker::start(std::move(o));
  if (!b) return cli::report(b.error());
  airssys::osl::detail::write_stderr_ignoring_failure("airssys-bus: serving on " + (*b)->socket_path().native() + "\n");
  cli::wait_for_stop();
  (*b)->stop();
  return cli::kOk;
}

// --header "NAME: VALUE" (or NAME:VALUE), repeatable, in order.
std::expected<std::vector<bus::Header>, std::string> parse_headers(const std::vector<std::string>& args) {
  std::vector<bus::Header> out;
  for (const std::string& a : args) {
    const auto colon = a.find(':');
    if (colon == std::string::npos) return std::unexpected("--header: expected NAME:VALUE, got '" + a + "'");
    std::string_view value = std::string_view(a).substr(colon + 1);
    if (value.starts_with(' ')) value.remove_prefix(1);
    const bus::Header h{std::string_view(a).substr(0, colon), value};
    if (auto v = bus::validate_header(h); !v) return std::unexpected("--header: " + v.error().message);
    out.push_back(h);
  }
  return out;
}

int cmd_pub(const Common& c, const std::string& subject, const std::string& data, const std::string& reply_to,
            const std::string& cid, const std::string& ctype, const std::vector<bus::Header>& headers) {
  if (auto v = bus::validate_publish_subject(subject); !v) return cli::report(v.error());
  auto client = connect(c);
  if (!client) return cli::report(client.error());
  bus::PublishOptions po{reply_to, cid, ctype, headers};
  if (auto r = (*client)->publish(subject, data, po); !r) return cli::report(r.error());
  if (auto f = (*client)->flush(); !f) return cli::report(f.error());
  return cli::kOk;
}

// Prints "SUBJECT DATA" per message, flushed at once (also into a pipe).
// With `reply_data`, answers each message that has a reply inbox.
int cmd_sub(const Common& c, const std::string& subject, const std::string& queue, long count,
            const std::string& policy, std::uint32_t max_msgs, std::uint64_t max_bytes,
            const std::optional<std::string>& reply_data, bool print_headers) {
  if (auto v = bus::validate_subscribe_subject(subject); !v) return cli::report(v.error());
  bus::SubscribeOptions so;
  so.queue = queue;
  const auto pol = bus::parse_policy(policy);
  if (!pol) {
    airssys::osl::detail::write_stderr_ignoring_failure("airssys-bus: unknown policy '" + policy + "' (drop-newest, drop-oldest, disconnect)\n");
    return cli::kUsage;
  }
  so.policy = *pol;
  so.max_msgs = max_msgs;
  so.max_bytes = max_bytes;
  cli::block_stop_signals();
  auto client = connect(c);
  if (!client) return cli::report(client.error());
  bus::Client* cl = client->get();
  std::atomic<long> seen{0};
  std::atomic<bool> out_failed{false};
  auto s = cl->subscribe(
      subject,
      [&](const bus::MessageView& m) {
        if (count > 0 && seen.load() >= count) return;
        if (reply_data && !m.reply_to.empty()) {
          bus::PublishOptions po;
          po.correlation_id = m.correlation_id;
          if (auto r = cl->publish(m.reply_to, *reply_data, po); !r)
            cli::on_async_error(bus::Error::make(r.error().category, "reply to '" + std::string(m.reply_to) +
                                                                     "' not sent: " + r.error().message));
        }
        std::string line;
        line.reserve(m.subject.size() + m.payload.size() + 2);
        line.append(m.subject).append(" ").append(m.payload).append("\n");
        if (print_headers)  // one indented line per header, after its message's line
          for (const bus::Header& h : m.headers) line.append("\t").append(h.name).append(": ").append(h.value).append("\n");
        if (std::fwrite(line.data(), 1, line.size(), stdout) != line.size() || std::fflush(stdout) != 0) {
          out_failed = true;
          cli::notify_done();
          return;
        }
        if (++seen == count) cli::notify_done();
      },
      so);
  if (!s) return cli::report(s.error());
  if (auto f = cl->flush(); !f) return cli::report(f.error());
  cli::wait_for_stop();
  s->unsubscribe();
  if (reply_data)  // the last reply leaves before we exit
    if (auto f = cl->flush(); !f) cli::on_async_error(f.error());
  if (auto e = cli::fatal_async_error()) return cli::report(*e);
  return out_failed ? cli::kFailure : cli::kOk;
}

int cmd_request(const Common& c, const std::string& subject, const std::string& data, const std::string& timeout,
                const std::vector<bus::Header>& headers) {
  const auto t = cli::parse_timeout("--timeout", timeout);
  if (!t) {
    airssys::osl::detail::write_stderr_ignoring_failure("airssys-bus: " + t.error() + "\n");
    return cli::kUsage;
  }
  if (auto v = bus::validate_publish_subject(subject); !v) return cli::report(v.error());
  auto client = connect(c);
  if (!client) return cli::report(client.error());
  bus::PublishOptions po;
  po.headers = headers;
  auto r = (*client)->request(subject, data, *t, po);
  if (!r) {
    // A refused publish arrives as an error frame; report it rather than a timeout.
    if (auto f = (*client)->flush(std::chrono::seconds(1)); !f && f.error().category == bus::ErrorCategory::permission_denied)
      return cli::report(f.error());
    return cli::report(r.error());
  }
  r->payload += '\n';
  std::fwrite(r->payload.data(), 1, r->payload.size(), stdout);
  return std::fflush(stdout) == 0 ? cli::kOk : cli::kFailure;
}

int cmd_stats(const Common& c) {
  auto client = connect(c);
  if (!client) return cli::report(client.error());
  auto s = (*client)->stats();
  if (!s) return cli::report(s.error());
  *s += '\n';
  std::fwrite(s->data(), 1, s->size(), stdout);
  return std::fflush(stdout) == 0 ? cli::kOk : cli::kFailure;
}

}  // namespace

int main(int argc, char** argv) {
  // `>&-`: no file opened later may take fd 0, 1 or 2 (osl/detail/standard_fds.hpp).
  if (!airssys::osl::detail::open_closed_standard_fds()) return 1;
  CLI::App app{"airssys-bus: local pub/sub over Unix sockets with an embeddable broker"};
  app.footer(cli::kExitCodes);
  // AIRSSYS_VERSION: the CMake project version (cmake/AirssysInstall.cmake).
  app.set_version_flag("--version", "airssys-bus " AIRSSYS_VERSION);
  app.require_subcommand(1);
  Common common;
  const std::string socket_help = "broker socket (default: $AIRSSYS_BUS_SOCKET, else " + cli::default_socket() + ")";

  auto* serve = app.add_subcommand("serve", "run a broker until SIGINT/SIGTERM");
  std::vector<uid_t> uids;
  std::vector<gid_t> gids;
  std::vector<std::string> pub_allow, sub_allow;
  std::size_t max_frame = 0, max_conns = 0;
  add_ids(serve, "--allow-uid", uids, "admit this uid (repeatable; default: own uid and root)");
  add_ids(serve, "--allow-gid", gids, "admit this gid (repeatable)");
  serve->add_option("--pub-allow", pub_allow, "UID:PATTERN: restrict UID to publishing to PATTERN (repeatable)");
  serve->add_option("--sub-allow", sub_allow, "UID:PATTERN: restrict UID to subscribing within PATTERN (repeatable)");
  add_number(serve, "--max-frame", max_frame, 64, 1u << 30, "maximum frame size in bytes, 64 to 1073741824 (default 1 MiB)");
  add_number(serve, "--max-connections", max_conns, 1, 1'000'000, "maximum concurrent connections (default 4096)");
  std::optional<std::chrono::microseconds> busy_poll;  // unset: auto (BrokerOptions::busy_poll)
  serve->add_option_function<std::string>(
      "--busy-poll-us",
      [&busy_poll](const std::string& text) {
        if (text == "auto") {
          busy_poll.reset();
          return;
        }
        auto v = cli::parse_whole("--busy-poll-us", text, 0, 1'000'000);
        if (!v) throw CLI::ValidationError(v.error() + "; or 'auto', the default");
        busy_poll = std::chrono::microseconds(*v);
      },
      "auto (default): poll " + std::to_string(bus::kRequestReplyPoll.count()) +
          " microseconds after a turn that forwarded a request or delivered a reply; 0: never poll; "
          "1 to 1000000: poll this many microseconds after every turn that served a connection");

  std::string subject, data, queue, reply_to, cid, ctype, timeout = "5s", policy = "drop-newest";
  long count = 0;
  std::uint32_t max_msgs = 0;
  std::uint64_t max_bytes = 0;

  auto* pub = app.add_subcommand("pub", "publish DATA to SUBJECT");
  pub->add_option("SUBJECT", subject, "literal subject")->required();
  pub->add_option("DATA", data, "payload")->required();
  pub->add_option("--reply-to", reply_to, "reply subject");
  pub->add_option("--correlation-id", cid, "correlation id header");
  pub->add_option("--content-type", ctype, "content type header");
  std::vector<std::string> header_args;
  bool print_headers = false;
  pub->add_option("--header", header_args, "NAME:VALUE user header (repeatable, kept in order)");

  auto add_sub_opts = [&](CLI::App* a) {
    a->add_option("--queue", queue, "join queue group GROUP (each message to one member)");
    add_number(a, "--count", count, 1, LONG_MAX, "exit after N messages");
    a->add_option("--policy", policy, "when the broker-side queue is full: drop-newest, drop-oldest, disconnect");
    add_number(a, "--max-msgs", max_msgs, 0, UINT32_MAX, "broker-side queue bound in messages (0 or default: 65536)");
    add_number(a, "--max-bytes", max_bytes, 0, UINT64_MAX, "broker-side queue bound in bytes (0 or default: 8 MiB)");
    a->add_flag("--headers", print_headers, "after each message's line, print its headers as TAB NAME: VALUE lines");
  };
  auto* sub = app.add_subcommand("sub", "print 'SUBJECT DATA' per message on SUBJECT (wildcards allowed)");
  sub->add_option("SUBJECT", subject, "subject or pattern")->required();
  add_sub_opts(sub);

  auto* request = app.add_subcommand("request", "send DATA to SUBJECT and print the first reply");
  request->add_option("SUBJECT", subject, "literal subject")->required();
  request->add_option("DATA", data, "payload")->required();
  request->add_option("--timeout", timeout, "how long to wait (e.g. 500ms, 2s; default 5s)");
  request->add_option("--header", header_args, "NAME:VALUE user header (repeatable, kept in order)");

  auto* reply = app.add_subcommand("reply", "answer each request on SUBJECT with DATA (prints requests like sub)");
  reply->add_option("SUBJECT", subject, "subject or pattern")->required();
  reply->add_option("DATA", data, "reply payload")->required();
  add_sub_opts(reply);

  auto* stats = app.add_subcommand("stats", "print the broker's per-connection and per-subscription counters (JSON)");

  auto* bench = app.add_subcommand("bench", "benchmarks with 16-byte payloads; one JSON line per scenario");
  std::string scenario = "all";
  long msgs = 5'000'000, rr_msgs = 20'000;
  bool use_socket = false;
  bench->add_option("--scenario", scenario, "all, pub, 1to1, 1to5, rr")
      ->check(CLI::IsMember({"all", "pub", "1to1", "1to5", "rr"}));
  add_number(bench, "--msgs", msgs, 1, 1'000'000'000, "messages per throughput scenario (default 5000000, as natsbench)");
  add_number(bench, "--rr-msgs", rr_msgs, 1, 1'000'000'000, "timed requests (default 20000, after 1000 warm-up)");

  for (auto* a : {serve, pub, sub, request, reply, stats}) a->add_option("--socket", common.socket, socket_help);
  bench->add_option("--socket", common.socket, "use the broker on this socket (default: an embedded broker)")
      ->each([&](const std::string&) { use_socket = true; });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = airssys::osl::detail::exit_for_parse_error(app, e);  // prints help or the error
    return rc == 0 ? cli::kOk : cli::kUsage;
  }
  // `pub --reply-to "$INBOX"` or `sub --queue "$GROUP"` with the variable
  // unset: '' read as the option left out (no reply inbox, no queue group,
  // `bench --socket ''` an embedded broker). No option takes '' on purpose.
  if (const auto empty = airssys::osl::detail::first_empty_option_value(app)) {
    airssys::osl::detail::write_stderr_ignoring_failure("airssys-bus: " + airssys::osl::detail::empty_option_message(*empty) + "\n");
    return cli::kUsage;
  }

  if (*serve) return cmd_serve(common, uids, gids, pub_allow, sub_allow, max_frame, max_conns, busy_poll);
  const auto headers = parse_headers(header_args);
  if (!headers) {
    airssys::osl::detail::write_stderr_ignoring_failure("airssys-bus: " + headers.error() + "\n");
    return cli::kUsage;
  }
  if (*pub) return cmd_pub(common, subject, data, reply_to, cid, ctype, *headers);
  if (*sub) return cmd_sub(common, subject, queue, count, policy, max_msgs, max_bytes, std::nullopt, print_headers);
  if (*reply) return cmd_sub(common, subject, queue, count, policy, max_msgs, max_bytes, data, print_headers);
  if (*request) return cmd_request(common, subject, data, timeout, *headers);
  if (*stats) return cmd_stats(common);
  if (*bench) return cli::run_bench(use_socket ? common.socket : std::string(), scenario, msgs, rr_msgs);
  return cli::kUsage;
}
