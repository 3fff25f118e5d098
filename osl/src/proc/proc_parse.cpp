// Parsers for the text of /proc files (proc(5)). Pure functions over a view:
// no I/O, no allocation except the strings a result carries.

#include <airssys/osl/proc.hpp>

#include <fmt/format.h>

#include <charconv>
#include <system_error>

namespace airssys::osl::proc {

namespace {

Error bad(std::string message) { return Error::make(ErrorCategory::invalid_argument, std::move(message)); }

template <class T>
bool to_number(std::string_view s, T& out) noexcept {
  if (s.empty()) return false;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && ptr == s.data() + s.size();
}

std::string_view trim_newline(std::string_view s) noexcept {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\0')) s.remove_suffix(1);
  return s;
}

// The next whitespace-separated token of `rest`, consumed.
std::string_view next_token(std::string_view& rest) noexcept {
  std::size_t b = 0;
  while (b < rest.size() && (rest[b] == ' ' || rest[b] == '\t')) ++b;
  std::size_t e = b;
  while (e < rest.size() && rest[e] != ' ' && rest[e] != '\t') ++e;
  const std::string_view tok = rest.substr(b, e - b);
  rest.remove_prefix(e);
  return tok;
}

// Calls f(line) for each line of `text`.
template <class F>
void for_each_line(std::string_view text, F&& f) {
  while (!text.empty()) {
    const auto nl = text.find('\n');
    f(text.substr(0, nl));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
}

}  // namespace

std::expected<Stat, Error> parse_stat(std::string_view text) {
  text = trim_newline(text);
  // "PID (comm) S PPID …": comm is whatever the process set (up to 15
  // bytes, or longer for some kernel threads) and may contain spaces and
  // ')', so it ends at the LAST ')' of the line.
  const auto open = text.find(" (");
  const auto close = text.rfind(')');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open + 2) {
    return std::unexpected(bad("stat: no '(comm)' field"));
  }
  Stat st;
  if (!to_number(text.substr(0, open), st.pid) || st.pid <= 0) {
    return std::unexpected(bad(fmt::format("stat: field 1 (pid) is not a pid: '{}'", text.substr(0, open))));
  }
  st.comm.assign(text.substr(open + 2, close - open - 2));
  std::string_view rest = text.substr(close + 1);
  // Fields 3..24; later ones are ignored (newer kernels append more).
  for (int field = 3; field <= 24; ++field) {
    const std::string_view tok = next_token(rest);
    if (tok.empty()) return std::unexpected(bad(fmt::format("stat: only {} fields (24 needed)", field - 1)));
    bool ok = true;
    switch (field) {
      case 3:
        ok = tok.size() == 1;
        st.state = tok[0];
        break;
      case 4: ok = to_number(tok, st.ppid); break;
      case 5: ok = to_number(tok, st.pgrp); break;
      case 6: ok = to_number(tok, st.session); break;
      case 7: {
        std::int64_t v = 0;  // printed as %d; the bits are a dev_t
        ok = to_number(tok, v);
        st.tty_nr = static_cast<std::uint32_t>(v);
        break;
      }
      case 9: ok = to_number(tok, st.flags); break;
      case 14: ok = to_number(tok, st.utime); break;
      case 15: ok = to_number(tok, st.stime); break;
      case 18: ok = to_number(tok, st.priority); break;
      case 19: ok = to_number(tok, st.nice); break;
      case 20: ok = to_number(tok, st.num_threads); break;
      case 22: ok = to_number(tok, st.starttime); break;
      case 23: ok = to_number(tok, st.vsize); break;
      case 24: ok = to_number(tok, st.rss); break;
      default: break;
    }
    if (!ok) return std::unexpected(bad(fmt::format("stat: field {} is not valid: '{}'", field, tok)));
  }
  return st;
}

std::expected<Status, Error> parse_status(std::string_view text) {
  Status s;
  bool have_uid = false, have_gid = false, have_threads = false;
  std::string_view failed;
  auto ids = [](std::string_view rest, Ids& out) {
    return to_number(next_token(rest), out.real) && to_number(next_token(rest), out.effective) &&
           to_number(next_token(rest), out.saved) && to_number(next_token(rest), out.fs);
  };
  for_each_line(text, [&](std::string_view line) {
    if (!failed.empty()) return;
    if (line.starts_with("Uid:")) {
      have_uid = ids(line.substr(4), s.uid);
      if (!have_uid) failed = line;
    } else if (line.starts_with("Gid:")) {
      have_gid = ids(line.substr(4), s.gid);
      if (!have_gid) failed = line;
    } else if (line.starts_with("Threads:")) {
      std::string_view rest = line.substr(8);
      have_threads = to_number(next_token(rest), s.threads);
      if (!have_threads) failed = line;
    }
  });
  if (!failed.empty()) return std::unexpected(bad(fmt::format("status: malformed line '{}'", failed)));
  if (!have_uid || !have_gid || !have_threads) {
    return std::unexpected(bad(fmt::format("status: missing {}", !have_uid ? "Uid" : !have_gid ? "Gid" : "Threads")));
  }
  return s;
}

std::expected<Io, Error> parse_io(std::string_view text) {
  Io io;
  bool have_read = false, have_write = false;
  std::string_view failed;
  for_each_line(text, [&](std::string_view line) {
    const auto colon = line.find(':');
    if (colon == std::string_view::npos || !failed.empty()) return;
    const std::string_view key = line.substr(0, colon);
    std::string_view rest = line.substr(colon + 1);
    std::uint64_t* slot = nullptr;
    if (key == "rchar") slot = &io.rchar;
    else if (key == "wchar") slot = &io.wchar;
    else if (key == "read_bytes") {
      slot = &io.read_bytes;
      have_read = true;
    } else if (key == "write_bytes") {
      slot = &io.write_bytes;
      have_write = true;
    }
    if (slot && !to_number(next_token(rest), *slot)) failed = line;
  });
  if (!failed.empty()) return std::unexpected(bad(fmt::format("io: malformed line '{}'", failed)));
  if (!have_read || !have_write) return std::unexpected(bad("io: missing read_bytes or write_bytes"));
  return io;
}

std::string_view parse_cgroup_path(std::string_view text) noexcept {
  std::string_view v1;
  std::string_view v2;
  bool found_v2 = false;
  for_each_line(text, [&](std::string_view line) {
    // "hierarchy-ID:controller-list:path"; the path itself may contain ':'.
    const auto c1 = line.find(':');
    if (c1 == std::string_view::npos) return;
    const auto c2 = line.find(':', c1 + 1);
    if (c2 == std::string_view::npos) return;
    const std::string_view path = line.substr(c2 + 1);
    if (line.substr(0, c1) == "0" && c2 == c1 + 1) {
      if (!found_v2) {
        v2 = path;
        found_v2 = true;
      }
    } else if (v1.empty() || (v1 == "/" && path != "/")) {
      v1 = path;
    }
  });
  // A hybrid host keeps everything at "/" of the unified hierarchy while its
  // container runtime uses v1 controllers: then the v1 path says more.
  if (found_v2 && !(v2 == "/" && !v1.empty() && v1 != "/")) return v2;
  return v1;
}

std::expected<std::int64_t, Error> parse_boot_time(std::string_view text) {
  std::int64_t btime = -1;
  for_each_line(text, [&](std::string_view line) {
    if (!line.starts_with("btime ")) return;
    std::string_view rest = line.substr(6);
    if (!to_number(next_token(rest), btime)) btime = -1;
  });
  if (btime < 0) return std::unexpected(bad("stat: no valid 'btime' line"));
  return btime;
}

std::vector<std::string_view> split_args(std::string_view args) {
  std::vector<std::string_view> out;
  while (!args.empty()) {
    const auto nul = args.find('\0');
    out.push_back(args.substr(0, nul));
    if (nul == std::string_view::npos) break;
    args.remove_prefix(nul + 1);
  }
  return out;
}

std::string tty_name(std::uint32_t tty_nr) {
  if (tty_nr == 0) return {};
  // Linux's dev_t encoding (new_encode_dev): minor bits 0-7 and 20-31, major bits 8-19.
  const std::uint32_t major = (tty_nr >> 8) & 0xfffu;
  const std::uint32_t minor = (tty_nr & 0xffu) | ((tty_nr >> 12) & 0xfff00u);
  if (major >= 136 && major <= 143) return fmt::format("pts/{}", (major - 136) * 256 + minor);
  if (major == 4) return minor < 64 ? fmt::format("tty{}", minor) : fmt::format("ttyS{}", minor - 64);
  return fmt::format("{}:{}", major, minor);
}

}  // namespace airssys::osl::proc
