#include "cli.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <mutex>

namespace airssys::bus::cli {

namespace {
std::mutex g_err_mu;
std::string g_last_printed;           // under g_err_mu
std::optional<Error> g_fatal;         // under g_err_mu

void print_once(const std::string& text) {
  std::lock_guard lk(g_err_mu);
  if (text == g_last_printed) return;  // the same error returned after being reported asynchronously
  g_last_printed = text;
  std::fprintf(stderr, "airssys-bus: %s\n", text.c_str());
}
}  // namespace

void on_async_error(const Error& e) {
  print_once(e.to_string());
  switch (e.code) {
    case Errc::permission_denied:
    case Errc::not_authorized:
    case Errc::invalid_subject:
    case Errc::frame_too_large: {
      {
        std::lock_guard lk(g_err_mu);
        if (g_fatal) return;
        g_fatal = e;
      }
      notify_done();
      return;
    }
    default: return;
  }
}

std::optional<Error> fatal_async_error() {
  std::lock_guard lk(g_err_mu);
  return g_fatal;
}

int report(const Error& e) {
  print_once(e.to_string());
  switch (e.code) {
    case Errc::invalid_subject:
    case Errc::invalid_argument:
    case Errc::frame_too_large: return kUsage;
    case Errc::timeout: return kTimeout;
    case Errc::not_authorized:
    case Errc::permission_denied: return kRefused;
    default: return kFailure;
  }
}

std::string default_socket() {
  if (const char* s = std::getenv("AIRSSYS_BUS_SOCKET"); s != nullptr && *s != '\0') return s;
  if (const char* x = std::getenv("XDG_RUNTIME_DIR"); x != nullptr && *x != '\0')
    return std::string(x) + "/airssys-bus/bus.sock";
  if (::geteuid() == 0) return "/run/airssys-bus/bus.sock";
  return "/tmp/airssys-bus-" + std::to_string(::geteuid()) + "/bus.sock";
}

std::optional<std::chrono::milliseconds> parse_duration(std::string_view s) {
  double scale = 1000.0;
  if (s.ends_with("ms")) {
    scale = 1.0;
    s.remove_suffix(2);
  } else if (s.ends_with("s")) {
    s.remove_suffix(1);
  } else if (s.ends_with("m")) {
    scale = 60000.0;
    s.remove_suffix(1);
  }
  if (s.empty()) return std::nullopt;
  const std::string num(s);
  char* end = nullptr;
  const double v = std::strtod(num.c_str(), &end);
  if (end != num.c_str() + num.size() || !(v >= 0) || v * scale > 1e12) return std::nullopt;
  return std::chrono::milliseconds(static_cast<long long>(v * scale));
}

std::expected<std::uint64_t, std::string> parse_whole(std::string_view what, std::string_view text, std::uint64_t min,
                                                      std::uint64_t max) {
  const std::string w(what);
  const bool digits = !text.empty() && std::all_of(text.begin(), text.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
  if (!digits)
    return std::unexpected(w + ": '" + std::string(text) + "' is not a whole number; use e.g. " +
                           std::to_string(std::max<std::uint64_t>(min, 100)));
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec == std::errc::result_out_of_range || v > max)
    return std::unexpected(w + ": " + std::string(text) + " is too large (at most " + std::to_string(max) + ")");
  if (v < min) return std::unexpected(w + ": " + std::string(text) + " is too small (at least " + std::to_string(min) + ")");
  return v;
}

namespace {
int g_sigfd = -1;
int g_donefd = -1;
}  // namespace

void block_stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  g_sigfd = ::signalfd(-1, &set, SFD_CLOEXEC);
  g_donefd = ::eventfd(0, EFD_CLOEXEC);
  ::signal(SIGPIPE, SIG_IGN);
}

void wait_for_stop() {
  pollfd p[2] = {{g_sigfd, POLLIN, 0}, {g_donefd, POLLIN, 0}};
  while (::poll(p, 2, -1) < 0) {
  }
}

void notify_done() {
  if (g_donefd < 0) return;  // a one-shot command: nothing waits
  const std::uint64_t one = 1;
  (void)!::write(g_donefd, &one, sizeof one);
}

}  // namespace airssys::bus::cli
