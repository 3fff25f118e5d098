#pragma once
// What the /proc/net fuzz targets (net_inet_fuzz.cpp, net_unix_fuzz.cpp)
// check of parse_net_table, whatever the text: the table parser agrees with
// the line parser run on each line alone. Every data line is counted once
// (an entry, a skipped line or an ambiguous inode) unless the cap cut the
// table, the cap holds, every key is its entry's inode (never 0), an inode
// on one line keeps that line's entry, an inode on several keeps the first
// line's entry with no path, and `truncated` means a further entry existed.
// A broken invariant aborts (libFuzzer reports it with the input).

#include <airssys/osl/proc_sockets.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <expected>
#include <map>
#include <source_location>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace airssys::osl::proc::fuzz {

inline void check(bool ok, std::source_location at = std::source_location::current()) {
  if (ok) return;
  std::fprintf(stderr, "invariant broken at %s:%u\n", at.file_name(), static_cast<unsigned>(at.line()));
  std::abort();
}

// The data lines of a table's text as parse_net_table sees them: after the
// header line, each ended by '\n'; `tail` is a last line without one.
struct Lines {
  std::vector<std::string_view> complete;
  bool tail = false;
};

inline Lines data_lines(std::string_view text) {
  Lines out;
  bool header = true;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    if (nl == std::string_view::npos) {
      out.tail = !header;
      break;
    }
    if (!header) out.complete.push_back(text.substr(0, nl));
    header = false;
    text.remove_prefix(nl + 1);
  }
  return out;
}

inline std::expected<SocketEntry, Error> parse_line(std::string_view line, const NetTable& t) {
  return t.family == kFamilyUnix ? parse_unix_line(line) : parse_inet_line(line, t.family, t.protocol);
}

// parse_net_table of `text` against the line parser, with room for `cap`
// entries.
inline void check_table(std::string_view text, const NetTable& t, std::size_t cap) {
  const Lines lines = data_lines(text);
  std::unordered_map<std::uint64_t, SocketEntry> out;
  const ParsedTable r = parse_net_table(text, t, cap, out);
  check(r.entries <= cap && out.size() == r.entries);

  // The oracle: each line parsed alone, in order, until a new inode finds
  // no room.
  std::map<std::uint64_t, SocketEntry> want;
  std::size_t skipped = 0, ambiguous = 0;
  bool more = false;
  for (const std::string_view line : lines.complete) {
    auto e = parse_line(line, t);
    if (!e || e->inode == 0) {
      ++skipped;
      continue;
    }
    if (auto w = want.find(e->inode); w != want.end()) {
      ++ambiguous;
      w->second.path.clear();
      continue;
    }
    if (want.size() == cap) {
      more = true;
      break;
    }
    want.emplace(e->inode, std::move(*e));
  }
  if (!more && lines.tail) ++skipped;
  check(r.truncated == more && r.skipped == skipped && r.ambiguous == ambiguous);
  check(out.size() == want.size());
  for (const auto& [inode, e] : want) {
    const auto it = out.find(inode);
    check(it != out.end() && it->second == e && it->second.inode == inode && inode != 0);
    check(e.family == t.family);
  }
  if (!r.truncated) check(r.entries + r.skipped + r.ambiguous == lines.complete.size() + (lines.tail ? 1 : 0));
}

}  // namespace airssys::osl::proc::fuzz
