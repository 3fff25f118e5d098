// daemoneye-cli query / events (alerts: alerts_command.cpp): read the store through the guarded
// QueryEngine (read-only connection, authorizer, time/row/byte limits) —
// the same guard the agent's rules run under.

#include "commands.hpp"
#include "output.hpp"
#include "store_access.hpp"

#include <airssys/daemoneye/query_engine.hpp>
#include <airssys/osl/detail/stderr_message.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>

#include <unistd.h>

namespace airssys::daemoneye::cli {

namespace {

// The result as a JSON array of objects (one per line) or as CSV, written
// in pieces (Printer): the text is never held whole beside the result.
void print_json_array(const QueryResult& r) {
  Printer out;
  for (std::size_t i = 0; i < r.rows.size(); ++i)
    if (!out.add((i ? ",\n " : "[\n ") + terminal_safe_json(row_to_json(r, i)))) return;
  if (out.add(r.rows.empty() ? "[]\n" : "\n]\n")) out.flush();
}

void print_csv(const QueryResult& r) {
  Printer out;
  std::string line;
  for (std::size_t c = 0; c < r.columns.size(); ++c) line += (c ? "," : "") + csv_field(r.columns[c]);
  line += "\r\n";
  if (!out.add(line)) return;
  for (const auto& row : r.rows) {
    line.clear();
    for (std::size_t c = 0; c < row.size(); ++c) {
      line += c ? "," : "";
      if (!std::holds_alternative<std::monostate>(row[c])) line += csv_field(cell_text(row[c]));
    }
    line += "\r\n";
    if (!out.add(line)) return;
  }
  out.flush();
}

}  // namespace

int run_query(const Context& ctx, const QueryArgs& args) {
  const std::size_t max_rows = args.max_rows.value_or(ctx.config.rules.max_rows);
  const std::uint64_t max_bytes = args.max_bytes.value_or(ctx.config.rules.max_bytes);
  auto engine = open_engine(ctx, max_rows, args.timeout.value_or(ctx.config.rules.timeout), max_bytes);
  if (!engine) {
    return fail_with(engine.error());
  }
  auto r = (*engine)->run(args.sql);
  if (!r) {
    return fail_with(r.error(), "query refused");
  }
  switch (args.format) {
    case Format::json: print_json_array(*r); break;
    case Format::csv: print_csv(*r); break;
    case Format::table: {
      std::vector<std::vector<std::string>> rows;
      rows.reserve(r->rows.size());
      for (const auto& row : r->rows) {
        auto& out = rows.emplace_back();
        for (const auto& v : row) out.push_back(cell_text(v));
      }
      write_stdout(format_table(r->columns, rows, terminal_width()));
      if (::isatty(STDOUT_FILENO)) airssys::osl::detail::print_stderr("({} rows)\n", r->rows.size());
      break;
    }
  }
  tell_truncated(*r, max_rows, max_bytes);
  return kExitOk;
}

int run_events(const Context& ctx, const HistoryArgs& args) {
  auto engine = open_engine(ctx, args.limit, std::max<std::chrono::milliseconds>(ctx.config.rules.timeout, std::chrono::seconds(10)));
  if (!engine) {
    return fail_with(engine.error());
  }
  // Every column (the store gains some as event sources grow), picked by name for the table.
  std::string sql = fmt::format("SELECT * FROM process_events WHERE time >= {}", unix_now() - args.since.count());
  if (args.pid) sql += fmt::format(" AND pid = {}", *args.pid);
  sql += fmt::format(" ORDER BY time DESC, id DESC LIMIT {}", args.limit);
  auto r = (*engine)->run(sql);
  if (!r) {
    return fail_with(r.error(), "reading events");
  }
  std::reverse(r->rows.begin(), r->rows.end());
  if (args.json) {
    print_json_array(*r);
  } else {
    auto col = [&](std::string_view name) {
      return static_cast<std::size_t>(std::find(r->columns.begin(), r->columns.end(), name) - r->columns.begin());
    };
    const std::size_t time = col("time"), event = col("event"), source = col("source"), pid = col("pid"),
                      parent = col("parent"), uid = col("uid"), username = col("username"), name = col("name"),
                      cmdline = col("cmdline");
    auto at = [&](const std::vector<Value>& row, std::size_t i) -> const Value& {
      static const Value null;
      return i < row.size() ? row[i] : null;
    };
    std::vector<std::vector<std::string>> rows;
    for (const auto& row : r->rows) {
      const std::string user = str_of(at(row, username)).empty() ? cell_text(at(row, uid)) : str_of(at(row, username));
      const std::string cmd =
          str_of(at(row, cmdline)).empty() ? "[" + str_of(at(row, name)) + "]" : str_of(at(row, cmdline));
      rows.push_back({utc_time(int_of(at(row, time))), str_of(at(row, event)), str_of(at(row, source)),
                      cell_text(at(row, pid)), cell_text(at(row, parent)), user, str_of(at(row, name)), cmd});
    }
    write_stdout(format_table({"TIME", "EVENT", "SOURCE", "PID", "PARENT", "USER", "NAME", "CMDLINE"}, rows,
                              terminal_width()));
    if (r->rows.empty()) say(fmt::format("no process events in the last {} s{}", args.since.count(),
                                         args.pid ? fmt::format(" for pid {}", *args.pid) : std::string()));
  }
  tell_truncated(*r, args.limit, ctx.config.rules.max_bytes);
  return kExitOk;
}

}  // namespace airssys::daemoneye::cli
