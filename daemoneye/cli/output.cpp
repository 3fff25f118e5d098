#include "output.hpp"

#include <airssys/daemoneye/snapshot_chunks.hpp>
#include <airssys/osl/utc_time.hpp>

#include <fmt/format.h>

#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

namespace airssys::daemoneye::cli {

namespace {

// Display columns of UTF-8 text: code points (wide characters count one; good enough to align ASCII-heavy output).
std::size_t columns_of(std::string_view s) {
  return static_cast<std::size_t>(std::count_if(s.begin(), s.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

bool is_number(std::string_view s) {
  if (s.empty()) return false;
  if (s.front() == '-') s.remove_prefix(1);
  return !s.empty() && s.find_first_not_of("0123456789.") == std::string_view::npos;
}

}  // namespace

std::string format_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows,
                         std::size_t width) {
  const std::size_t n = header.size();
  std::vector<std::size_t> widest(n, 0);
  std::vector<bool> numeric(n, !rows.empty());
  // Column names are text from elsewhere too: a fleet reply is not signed,
  // so any NATS peer may name its columns with escape sequences.
  std::vector<std::string> names;
  names.reserve(n);
  for (const auto& h : header) names.push_back(printable(h));
  std::vector<std::vector<std::string>> cells;
  cells.reserve(rows.size());
  for (const auto& row : rows) {
    auto& out = cells.emplace_back();
    for (std::size_t i = 0; i < n; ++i) {
      out.push_back(i < row.size() ? printable(row[i]) : std::string());
      if (!is_number(out.back()) && !out.back().empty()) numeric[i] = false;
    }
  }
  for (std::size_t i = 0; i < n; ++i) {
    widest[i] = columns_of(names[i]);
    for (const auto& row : cells) widest[i] = std::max(widest[i], columns_of(row[i]));
  }
  std::string text;
  auto line = [&](const std::vector<std::string>& row) {
    std::string l;
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t pad = widest[i] - std::min(widest[i], columns_of(row[i]));
      if (i > 0) l += "  ";
      if (numeric[i]) l.append(pad, ' ').append(row[i]);
      else if (i + 1 < n) l.append(row[i]).append(pad, ' ');
      else l.append(row[i]);  // the last column is not padded
    }
    if (width > 0) truncate_utf8(l, width);
    while (!l.empty() && l.back() == ' ') l.pop_back();
    text.append(l).push_back('\n');
  };
  line(names);
  for (const auto& row : cells) line(row);
  return text;
}

std::string csv_field(std::string_view text) {
  const std::string s = printable(text);
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

bool Printer::add(std::string_view text) {
  pending_ += text;
  return pending_.size() < kPiece || flush();
}

bool Printer::flush() {
  const bool ok = pending_.empty() || write_stdout(pending_);
  pending_.clear();
  return ok;
}

std::string utc_time(std::int64_t unix_seconds) { return unix_seconds <= 0 ? "-" : osl::utc_time(unix_seconds); }

std::string age_text(std::int64_t s) {
  if (s < 0) return fmt::format("{}s in the future", -s);
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}m {}s", s / 60, s % 60);
  if (s < 86400) return fmt::format("{}h {}m", s / 3600, s % 3600 / 60);
  return fmt::format("{}d {}h", s / 86400, s % 86400 / 3600);
}

std::string cell_text(const Value& v) {
  return std::visit(
      [](const auto& x) -> std::string {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::monostate>) return "NULL";
        else if constexpr (std::is_same_v<T, std::string>) return x;
        else return fmt::format("{}", x);
      },
      v);
}

}  // namespace airssys::daemoneye::cli
