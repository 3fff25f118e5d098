#include "nats_names.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace airssys::daemoneye::detail {

namespace {

Result<void> bad(std::string message) { return fail(ErrorCategory::invalid_input, std::move(message)); }

bool printable(char c) { return c > 32 && c < 127; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

// Calls f(one URL) for each comma-separated entry.
template <class F>
void for_each_url(std::string_view list, F&& f) {
  std::size_t pos = 0;
  for (;;) {
    const auto comma = list.find(',', pos);
    f(trim(list.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos)));
    if (comma == std::string_view::npos) return;
    pos = comma + 1;
  }
}

}  // namespace

Result<void> check_nats_url(std::string_view url) {
  if (trim(url).empty()) return bad("must name at least one server (e.g. nats://127.0.0.1:4222)");
  Result<void> result;
  for_each_url(url, [&](std::string_view one) {
    if (!result) return;
    if (one.empty()) {
      result = bad(fmt::format("'{}' has an empty entry", redact_nats_url(url)));
      return;
    }
    if (!std::all_of(one.begin(), one.end(), printable)) {
      result = bad("a server URL must be printable ASCII without spaces");
      return;
    }
    std::string_view rest = one;
    if (const auto scheme = rest.find("://"); scheme != std::string_view::npos) {
      const std::string_view s = rest.substr(0, scheme);
      if (s != "nats" && s != "tls") {
        result = bad(fmt::format("'{}': the scheme must be nats:// or tls://", redact_nats_url(one)));
        return;
      }
      rest.remove_prefix(scheme + 3);
    }
    if (const auto at = rest.rfind('@'); at != std::string_view::npos) rest.remove_prefix(at + 1);
    if (const auto slash = rest.find('/'); slash != std::string_view::npos) rest = rest.substr(0, slash);
    if (rest.empty() || rest.front() == ':') {
      result = bad(fmt::format("'{}' names no host", redact_nats_url(one)));
    }
  });
  return result;
}

std::string redact_nats_url(std::string_view url) {
  std::string out;
  bool first = true;
  for_each_url(url, [&](std::string_view one) {
    if (!first) out += ',';
    first = false;
    const auto scheme = one.find("://");
    const std::size_t host_from = scheme == std::string_view::npos ? 0 : scheme + 3;
    const auto at = one.rfind('@');
    if (at != std::string_view::npos && at >= host_from) {
      out += one.substr(0, host_from);
      out += one.substr(at + 1);
    } else {
      out += one;
    }
  });
  return out;
}

Result<void> check_nats_subject(std::string_view subject) {
  if (subject.empty()) return bad("must not be empty");
  if (subject.size() > 1024) return bad("is longer than 1024 characters");
  std::size_t pos = 0;
  for (;;) {
    const auto dot = subject.find('.', pos);
    const std::string_view token = subject.substr(pos, dot == std::string_view::npos ? std::string_view::npos : dot - pos);
    if (token.empty()) return bad(fmt::format("'{}' has an empty token (two dots, or a dot at an end)", subject));
    for (const char c : token) {
      if (!printable(c)) return bad(fmt::format("'{}' contains a space or a control character", subject));
      if (c == '*' || c == '>') return bad(fmt::format("'{}' contains a wildcard; alerts are published to one subject", subject));
    }
    if (dot == std::string_view::npos) return {};
    pos = dot + 1;
  }
}

std::string nats_subject_host(std::string_view host) {
  // An empty host is one '_' (returned, not assigned: g++ 12 at -O2 warns
  // -Wrestrict on assigning a literal to the string built here).
  if (host.empty()) return "_";
  std::string out(host);
  for (char& c : out) {
    if (!printable(c) || c == '.' || c == '*' || c == '>') c = '_';
  }
  return out;
}

std::string expand_nats_subject(std::string_view subject, std::string_view host) {
  constexpr std::string_view kHost = "{host}";
  const std::string token = nats_subject_host(host);
  std::string out;
  std::size_t pos = 0;
  for (;;) {
    const auto at = subject.find(kHost, pos);
    out += subject.substr(pos, at == std::string_view::npos ? std::string_view::npos : at - pos);
    if (at == std::string_view::npos) return out;
    out += token;
    pos = at + kHost.size();
  }
}

Result<void> check_nats_stream(std::string_view stream) {
  if (stream.empty()) return bad("must not be empty");
  if (stream.size() > 255) return bad("is longer than 255 characters");
  for (const char c : stream) {
    if (!printable(c) || c == '.' || c == '*' || c == '>' || c == '/' || c == '\\') {
      return bad(fmt::format("'{}' may not contain spaces, '.', '*', '>', '/', '\\' or control characters", stream));
    }
  }
  return {};
}

}  // namespace airssys::daemoneye::detail
