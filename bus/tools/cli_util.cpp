#include "cli.hpp"

#include <airssys/osl/detail/stderr_message.hpp>
#include <airssys/osl/duration.hpp>

#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

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
  airssys::osl::detail::write_stderr_ignoring_failure("airssys-bus: " + text + "\n");
}
}  // namespace

void on_async_error(const Error& e) {
  print_once(e.to_string());
  switch (e.category) {
    case ErrorCategory::permission_denied:
    case ErrorCategory::not_authorized:
    case ErrorCategory::invalid_subject:
    case ErrorCategory::frame_too_large: {
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
  switch (e.category) {
    case ErrorCategory::invalid_subject:
    case ErrorCategory::invalid_argument:
    case ErrorCategory::unsafe_directory:
    case ErrorCategory::frame_too_large: return kUsage;
    case ErrorCategory::timeout: return kTimeout;
    case ErrorCategory::not_authorized:
    case ErrorCategory::permission_denied: return kRefused;
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

std::expected<std::chrono::milliseconds, std::string> parse_timeout(std::string_view what, std::string_view text) {
  osl::DurationRules rules;
  rules.what = what;
  rules.allow_fraction = true;  // "1.5s" was documented before the shared parser
  auto d = osl::parse_duration(text, rules);
  if (!d) return std::unexpected(d.error().message);
  return *d;
}

std::expected<std::uint64_t, std::string> parse_whole(std::string_view what, std::string_view text, std::uint64_t min,
                                                      std::uint64_t max) {
  auto v = osl::parse_whole_number(text, osl::NumberRules{.what = what, .min = min, .max = max});
  if (!v) return std::unexpected(v.error().message);
  return *v;
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
