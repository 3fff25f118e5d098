#pragma once
// daemoneye-cli's commands (docs/daemoneye.md "daemoneye-cli"). Each returns
// the process's exit code and prints its own errors, prefixed
// "daemoneye-cli: ", on stderr.

#include "exit_codes.hpp"

#include <airssys/daemoneye/config.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace airssys::daemoneye::cli {


// What every command knows: the configuration resolved as the agent does.
struct Context {
  Config config;
  [[nodiscard]] std::filesystem::path status_file() const;
};

void say(std::string_view message);  // "daemoneye-cli: message" on stderr

int run_status(const Context& ctx, bool json);
int run_metrics(const Context& ctx);

enum class Format : std::uint8_t { table, json, csv };
struct QueryArgs {
  std::string sql;
  Format format = Format::table;
  std::optional<std::size_t> max_rows;                  // default rules.max_rows
  std::optional<std::chrono::milliseconds> timeout;     // default rules.timeout; at most kMaxQueryTimeout
  std::optional<std::uint64_t> max_bytes;               // default rules.max_bytes; 1MiB ... 256MiB
};
int run_query(const Context& ctx, const QueryArgs& args);

struct HistoryArgs {
  std::chrono::seconds since{24 * 3600};
  std::size_t limit = 100;
  bool json = false;
  std::string rule;               // alerts: only this rule id
  bool follow = false;            // alerts: then each new one as it is stored (JSON: one object per line)
  bool json_lines = false;        // alerts: JSON, one object per line (not an array) without --follow too
  std::optional<std::int64_t> pid;  // events: only this pid
};
int run_alerts(const Context& ctx, const HistoryArgs& args);
int run_events(const Context& ctx, const HistoryArgs& args);

int run_rules_check(const std::vector<std::string>& paths);
int run_rules_translate(const std::string& file);  // rules_translate_command.cpp
int run_rules_list(const Context& ctx, bool json);
// rules_exceptions_command.cpp: the agent's rule exceptions and their hits
// (its status file). Exit 1: no status file.
int run_rules_exceptions(const Context& ctx, bool json);

struct RulesTestArgs {
  std::string file;
  bool json = false;
};
// rules_test_command.cpp. Exit 0: rows matched; 1: none; 2.. an error.
int run_rules_test(const Context& ctx, const RulesTestArgs& args);

}  // namespace airssys::daemoneye::cli
