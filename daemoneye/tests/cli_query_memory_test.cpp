// daemoneye-cli query's memory and time bounds (outside probe, session 13,
// finding 8): a result counts every value toward --max-bytes (default
// rules.max_bytes) as the engine and fleet query count it
// (lib/src/result_memory.hpp), numbers and NULLs included, so a wide
// numeric result stops there; --timeout and --max-bytes past their ceilings
// are refused. Before: `query --max-rows 10000000 --timeout 10m --format csv`
// of a recursive CTE of 1M rows × 64 numeric columns grew to ~3 GB (numbers
// counted 0) and --timeout took 36500d.

#include "cli_store_fixture.hpp"

#include "../lib/src/result_memory.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <sys/resource.h>

#include <algorithm>
#include <string>
#include <vector>

namespace detest {
namespace {

namespace de = airssys::daemoneye;

bool has(const std::string& text, const std::string& what) { return text.find(what) != std::string::npos; }

// The probe's query: `rows` rows of `columns` integer columns (and one NULL).
std::string wide_numeric(int rows, int columns) {
  std::string sql = fmt::format("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT {}) SELECT x", rows);
  for (int i = 1; i < columns - 1; ++i) sql += fmt::format(", x * {} AS c{}", i, i);
  return sql + ", NULL AS n FROM c";
}

std::size_t lines_of(const std::string& s) { return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n')); }

// A real, empty store: the queries make their own rows.
using CliQueryMemory = CliStoreTest;

TEST_F(CliQueryMemory, AWideNumericResultStopsAtMaxBytes) {
  // A row of 64 values: ~2.6 KB, whatever they hold.
  const std::size_t row = de::detail::row_memory(64);
  // The probe's command, with the default limit (rules.max_bytes, 16 MiB).
  Outcome csv = cli({"query", "--max-rows", "10000000", "--timeout", "10m", "--format", "csv", wide_numeric(1000000, 64)});
  ASSERT_EQ(csv.code, 0) << csv.err;  // a cut result is printed and exits 0, as documented
  const std::size_t fit = (std::size_t{16} << 20) / row;
  EXPECT_EQ(lines_of(csv.out), 1 + fit) << "header and the rows that fit 16 MiB";
  EXPECT_TRUE(has(csv.err, fmt::format("result cut after {} rows (the limits are 10000000 rows and 16777216 bytes of memory)",
                                       fit)))
      << csv.err;

  // --max-bytes: 1 MiB holds 1 MiB / row rows, in every format.
  const std::size_t small = (std::size_t{1} << 20) / row;
  for (const std::string format : {"csv", "json", "table"}) {
    Outcome r = cli({"query", "--max-rows", "10000000", "--max-bytes", "1MiB", "--format", format, wide_numeric(1000000, 64)});
    ASSERT_EQ(r.code, 0) << format << ": " << r.err;
    EXPECT_TRUE(has(r.err, fmt::format("result cut after {} rows (the limits are 10000000 rows and 1048576 bytes", small)))
        << format << ": " << r.err;
    if (format == "json") EXPECT_EQ(nlohmann::json::parse(r.out).size(), small);
    else EXPECT_EQ(lines_of(r.out), 1 + small) << format;
  }
  // A result under the limit is whole and says nothing.
  Outcome whole = cli({"query", "--max-bytes", "1MiB", "--format", "csv", wide_numeric(static_cast<int>(small), 64)});
  ASSERT_EQ(whole.code, 0) << whole.err;
  EXPECT_EQ(lines_of(whole.out), 1 + small);
  EXPECT_EQ(whole.err, "");

  // Every daemoneye-cli run so far is a reaped child of this process: the
  // largest stayed far from the ~3 GB of the probe (sanitizers included).
  rusage ru{};
  ASSERT_EQ(::getrusage(RUSAGE_CHILDREN, &ru), 0);
  EXPECT_LT(ru.ru_maxrss, 1024L * 1024) << "KiB: the largest daemoneye-cli run";
}

TEST_F(CliQueryMemory, TimeoutAndMaxBytesPastTheirCeilingsAreRefused) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> refused = {
      {{"--timeout", "36500d"}, "--timeout 36500d: must be more than 0 and at most 10m"},
      {{"--timeout", "601s"}, "--timeout 601s: must be more than 0 and at most 10m"},
      {{"--timeout", "0s"}, "--timeout 0s: must be more than 0 and at most 10m"},
      {{"--timeout", "soon"}, "--timeout soon: "},
      {{"--max-bytes", "1023KiB"}, "--max-bytes 1023KiB: must be at least 1MiB and at most 256MiB"},
      {{"--max-bytes", "257MiB"}, "--max-bytes 257MiB: must be at least 1MiB and at most 256MiB"},
      {{"--max-bytes", "lots"}, "--max-bytes lots: "},
  };
  for (const auto& [args, why] : refused) {
    std::vector<std::string> a = {"query", "SELECT 1"};
    a.insert(a.end(), args.begin(), args.end());
    Outcome r = cli(a);
    EXPECT_EQ(r.code, 2) << args[1];
    EXPECT_TRUE(has(r.err, "daemoneye-cli: " + why)) << r.err;
    EXPECT_EQ(r.out, "") << args[1];
  }
  // The ceilings themselves are accepted.
  Outcome ok = cli({"query", "SELECT 1 AS one", "--timeout", "10m", "--max-bytes", "256MiB", "--format", "csv"});
  EXPECT_EQ(ok.code, 0) << ok.err;
  EXPECT_EQ(ok.out, "one\r\n1\r\n");
}

}  // namespace
}  // namespace detest
