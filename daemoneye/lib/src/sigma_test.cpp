// Sigma translation: the SQL each modifier and condition form becomes, how
// values are escaped, and why a rule is rejected (with its line). What the
// translated queries match over a real store: sigma_store_test.cpp.

#include <gtest/gtest.h>

#include <airssys/daemoneye/rule.hpp>
#include <functional>
#include <string>
#include <vector>

namespace airssys::daemoneye {
namespace {

std::string doc(const std::string& detection, const std::string& extra = "") {
  return "title: Test rule\n"
         "id: test-rule\n"
         "logsource:\n"
         "  product: linux\n"
         "  category: process_creation\n" +
         extra + "detection:\n" + detection;
}

// The WHERE part the detection became (after the fixed event/time bounds).
std::string where(const std::string& detection) {
  auto r = parse_rule(doc(detection), "t.yml");
  EXPECT_TRUE(r) << (r ? "" : r.error().message);
  if (!r) return {};
  const auto at = r->query.find("  AND (");
  if (at == std::string::npos) return r->query;
  std::string w = r->query.substr(at + 6);
  constexpr std::string_view kTail = "\nORDER BY id";
  if (w.ends_with(kTail)) w.resize(w.size() - kTail.size());
  return w;
}

// An input and the SQL it must become.
struct Translation {
  std::string input, sql;
};

void expect_translations(const std::function<std::string(const std::string&)>& translate,
                         const std::vector<Translation>& cases) {
  for (const auto& c : cases) EXPECT_EQ(translate(c.input), c.sql) << c.input;
}

// Each detection's WHERE part (where()).
void expect_translations(const std::vector<Translation>& cases) { expect_translations(where, cases); }

std::string error_of(const std::string& text) {
  auto r = parse_rule(text, "t.yml");
  EXPECT_FALSE(r) << "accepted: " << (r ? r->query.substr(0, 2000) : "");
  return r ? std::string() : r.error().message;
}

TEST(Sigma, MetadataLevelsAndShape) {
  auto r = parse_rule(
      "title: Curl piped to a shell\n"
      "id: 0b7c4b5e-1d2f-4a6b-9c3d-2e1f0a9b8c7d\n"
      "status: experimental\n"
      "description: fetches and runs\n"
      "level: informational\n"
      "tags: [attack.execution, attack.t1059.004]\n"
      "falsepositives: [installers, 'CI jobs']\n"
      "author: someone\n"
      "enabled: false\n"
      "logsource: {product: linux, category: process_creation}\n"
      "detection:\n"
      "  selection:\n"
      "    Image|endswith: /curl\n"
      "  condition: selection\n",
      "r.yml");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->name, "Curl piped to a shell");
  EXPECT_EQ(r->id, "0b7c4b5e-1d2f-4a6b-9c3d-2e1f0a9b8c7d");
  EXPECT_EQ(r->severity, Severity::low);
  EXPECT_FALSE(r->enabled);
  EXPECT_EQ(r->description, "fetches and runs");
  EXPECT_EQ(r->tags, (std::vector<std::string>{"attack.execution", "attack.t1059.004"}));
  ASSERT_TRUE(r->sigma);
  EXPECT_EQ(r->sigma->level, "informational");
  EXPECT_EQ(r->sigma->status, "experimental");
  EXPECT_EQ(r->sigma->falsepositives, (std::vector<std::string>{"installers", "CI jobs"}));
  EXPECT_EQ(r->query_line, 12);
  EXPECT_NE(r->query.find("FROM process_events"), std::string::npos);
  EXPECT_NE(r->query.find("(event = 'exec' OR (event = 'start' AND source = 'poll'))"), std::string::npos);
  EXPECT_NE(r->query.find("AND id > coalesce(:after, 0) AND id <= coalesce(:upto, 9223372036854775807)"),
            std::string::npos);
  EXPECT_TRUE(r->query.ends_with("\nORDER BY id")) << r->query;
  EXPECT_TRUE(r->key_columns.empty());  // pid + start_time

  for (auto [level, sev] : {std::pair{"low", Severity::low}, {"medium", Severity::medium}, {"high", Severity::high},
                            {"critical", Severity::critical}}) {
    auto x = parse_rule(doc("  s: {Image: x}\n  condition: s\n", std::string("level: ") + level + "\n"), "t.yml");
    ASSERT_TRUE(x) << x.error().message;
    EXPECT_EQ(x->severity, sev) << level;
  }
  // No id: the file name stands in; no level: medium.
  auto noid = parse_rule("title: t\nlogsource: {product: linux, category: process_creation}\n"
                         "detection: {s: {Image: x}, condition: s}\n",
                         "/rules/my-rule.yml");
  ASSERT_TRUE(noid) << noid.error().message;
  EXPECT_EQ(noid->id, "my-rule");
  EXPECT_EQ(noid->severity, Severity::medium);
  // A native rule is still a native rule.
  auto native = parse_rule("id: n\nname: n\nseverity: low\nquery: SELECT 1\n", "n.yaml");
  ASSERT_TRUE(native) << native.error().message;
  EXPECT_FALSE(native->sigma);
}

TEST(Sigma, ModifiersBecomeComparisons) {
  expect_translations({
      {"  s: {Image: /usr/bin/curl}\n  condition: s\n",
       "(path = '/usr/bin/curl' COLLATE NOCASE)"},
      {"  s: {Image|cased: /usr/bin/curl}\n  condition: s\n",
       "(path = '/usr/bin/curl')"},
      {"  s: {Image|endswith: /curl}\n  condition: s\n",
       "(path LIKE '%/curl' ESCAPE '\\')"},
      {"  s: {Image|startswith: /tmp/}\n  condition: s\n",
       "(path LIKE '/tmp/%' ESCAPE '\\')"},
      {"  s: {CommandLine|contains: wget}\n  condition: s\n",
       "(cmdline LIKE '%wget%' ESCAPE '\\')"},
      {"  s: {CommandLine|contains|cased: wget}\n  condition: s\n",
       "(cmdline GLOB '*wget*')"},
      {"  s: {CommandLine: 'a*b?c'}\n  condition: s\n",
       "(cmdline LIKE 'a%b_c' ESCAPE '\\')"},
      {"  s: {CommandLine|cased: 'a*b?c[d'}\n  condition: s\n",
       "(cmdline GLOB 'a*b?c[[]d')"},
      // Lists are OR, |all makes them AND.
      {"  s:\n    CommandLine|contains: [a, b]\n  condition: s\n",
       "((cmdline LIKE '%a%' ESCAPE '\\' OR cmdline LIKE '%b%' ESCAPE '\\'))"},
      {"  s:\n    CommandLine|contains|all: [a, b]\n  condition: s\n",
       "((cmdline LIKE '%a%' ESCAPE '\\' AND cmdline LIKE '%b%' ESCAPE '\\'))"},
      // Maps are AND, a list of maps OR.
      {"  s:\n    Image: a\n    User: root\n  condition: s\n",
       "((path = 'a' COLLATE NOCASE AND username = 'root' COLLATE NOCASE))"},
      {"  s:\n    - Image: a\n    - User: root\n  condition: s\n",
       "((path = 'a' COLLATE NOCASE OR username = 'root' COLLATE NOCASE))"},
      {"  s: {CommandLine|re: '^curl\\s'}\n  condition: s\n",
       "(regexp('^curl\\s', cmdline, 1))"},
      {"  s: {CommandLine|re|i|s: 'x.y'}\n  condition: s\n",
       "(regexp('(?is)x.y', cmdline, 1))"},
      // Under NOT a regex's undecidable rows (a PCRE2 limit) must not count as
      // "the filter matched", or a padded command line would silence the rule;
      // a second NOT turns it back.
      {"  s: {Image: /bin/x}\n  f: {CommandLine|re: 'a'}\n  condition: s and not f\n",
       "((path = '/bin/x' COLLATE NOCASE AND NOT coalesce(regexp('a', cmdline, 0), 0)))"},
      {"  f: {CommandLine|re: 'a'}\n  condition: not (not f)\n",
       "(NOT coalesce(NOT coalesce(regexp('a', cmdline, 1), 0), 0))"},
      {"  s: {CurrentDirectory|exists: true}\n  condition: s\n",
       "((cwd IS NOT NULL AND cwd <> ''))"},
      {"  s: {CurrentDirectory|exists: false}\n  condition: s\n",
       "((cwd IS NULL OR cwd = ''))"},
      {"  s: {CurrentDirectory: null}\n  condition: s\n",
       "((cwd IS NULL OR cwd = ''))"},
      {"  s: {ProcessId: 42}\n  condition: s\n",
       "(pid = 42)"},
      {"  s: {LogonId|gte: 1000}\n  condition: s\n",
       "(auid >= 1000)"},
      {"  s: {ParentProcessId: null}\n  condition: s\n",
       "(parent IS NULL)"},
      {"  s: {Hashes|contains: 'SHA256=ABC'}\n  condition: s\n",
       "(sha256 LIKE '%ABC%' ESCAPE '\\')"},
      {"  s: {CommandLine|base64|contains: '/bin/sh -i'}\n  condition: s\n",
       "(cmdline LIKE '%L2Jpbi9zaCAtaQ==%' ESCAPE '\\')"},
      {"  s: {CommandLine|base64offset|contains: '/bin/sh -i'}\n  condition: s\n",
       "((cmdline LIKE '%L2Jpbi9zaCAta%' ESCAPE '\\' OR cmdline LIKE '%9iaW4vc2ggLW%' ESCAPE '\\' OR "
       "cmdline LIKE '%vYmluL3NoIC1p%' ESCAPE '\\'))"},
  });
  const std::string windash = where("  s: {CommandLine|windash|contains: ' -e '}\n  condition: s\n");
  for (const char* dash : {"-", "/", "\u2013", "\u2014", "\u2015"})
    EXPECT_NE(windash.find(std::string("'% ") + dash + "e %'"), std::string::npos) << dash << " in " << windash;
  // Keywords: substrings of the command line.
  EXPECT_EQ(where("  keywords: [nc, 'ncat ']\n  condition: keywords\n"),
            "((cmdline LIKE '%nc%' ESCAPE '\\' OR cmdline LIKE '%ncat %' ESCAPE '\\'))");
}

TEST(Sigma, ValuesCannotBreakOutOfTheQuery) {
  // Quotes doubled; % _ \ escaped for LIKE; \* \? \\ are Sigma's escapes.
  expect_translations({
      {"  s: {CommandLine: \"it's\"}\n  condition: s\n",
       "(cmdline = 'it''s' COLLATE NOCASE)"},
      {"  s: {CommandLine|contains: \"'); DROP TABLE alerts; --\"}\n  condition: s\n",
       "(cmdline LIKE '%''); DROP TABLE alerts; --%' ESCAPE '\\')"},
      {"  s: {CommandLine|contains: '50%_off'}\n  condition: s\n",
       "(cmdline LIKE '%50\\%\\_off%' ESCAPE '\\')"},
      {"  s: {CommandLine|contains: 'C:\\Windows\\x'}\n  condition: s\n",
       "(cmdline LIKE '%C:\\\\Windows\\\\x%' ESCAPE '\\')"},
      {"  s: {CommandLine: 'a\\*b\\?c\\\\d'}\n  condition: s\n",
       "(cmdline = 'a*b?c\\d' COLLATE NOCASE)"},
      {"  s: {CommandLine|cased: 'a\\*b'}\n  condition: s\n",
       "(cmdline = 'a*b')"},
      {"  s: {CommandLine|cased|contains: 'a\\*b'}\n  condition: s\n",
       "(cmdline GLOB '*a[*]b*')"},
      {"  s: {CommandLine|re: \"x'y\"}\n  condition: s\n",
       "(regexp('x''y', cmdline, 1))"},
  });
  // A NUL byte would end the query in SQLite's tokenizer: refused.
  EXPECT_NE(error_of(doc("  s: {CommandLine: \"a\\0b\"}\n  condition: s\n")).find("t.yml:7: a value contains a NUL byte"),
            std::string::npos);
}

TEST(Sigma, Conditions) {
  const std::string searches = "  sel_a: {Image: a}\n  sel_b: {Image: b}\n  filter: {User: root}\n  _hidden: {Image: h}\n";
  auto cond = [&](const std::string& c) { return where(searches + "  condition: " + c + "\n"); };
  expect_translations(cond, {
      {"sel_a and not filter",
       "((path = 'a' COLLATE NOCASE AND NOT coalesce(username = 'root' COLLATE NOCASE, 0)))"},
      {"sel_a or sel_b and filter",
       "((path = 'a' COLLATE NOCASE OR (path = 'b' COLLATE NOCASE AND username = 'root' COLLATE NOCASE)))"},
      {"(sel_a OR sel_b) AND filter",
       "(((path = 'a' COLLATE NOCASE OR path = 'b' COLLATE NOCASE) AND username = 'root' COLLATE NOCASE))"},
      {"1 of sel_*",
       "((path = 'a' COLLATE NOCASE OR path = 'b' COLLATE NOCASE))"},
      {"any of sel*",
       "((path = 'a' COLLATE NOCASE OR path = 'b' COLLATE NOCASE))"},
      {"all of sel_*",
       "((path = 'a' COLLATE NOCASE AND path = 'b' COLLATE NOCASE))"},
      // them: every search but those whose name starts with '_' (std::map order).
      {"1 of them",
       "((username = 'root' COLLATE NOCASE OR path = 'a' COLLATE NOCASE OR path = 'b' COLLATE NOCASE))"},
      {"all of them and not _hidden",
       "(((username = 'root' COLLATE NOCASE AND path = 'a' COLLATE NOCASE AND path = 'b' COLLATE NOCASE) AND "
       "NOT coalesce(path = 'h' COLLATE NOCASE, 0)))"},
      {"not not sel_a",
       "(NOT coalesce(NOT coalesce(path = 'a' COLLATE NOCASE, 0), 0))"},
  });
  // A list of conditions is their OR.
  EXPECT_EQ(where(searches + "  condition: [sel_a, sel_b]\n"), "((path = 'a' COLLATE NOCASE OR path = 'b' COLLATE NOCASE))");
}

TEST(Sigma, LongListsStayUnderSQLitesDepthLimit) {
  std::string list;
  for (int i = 0; i < 600; ++i) list += "      - v" + std::to_string(i) + "\n";
  auto r = parse_rule(doc("  s:\n    CommandLine|contains:\n" + list + "  condition: s\n"), "t.yml");
  ASSERT_TRUE(r) << r.error().message;
  // Balanced: at most ~log2(600) nested groups, not 600.
  int depth = 0, deepest = 0;
  for (char c : r->query) {
    if (c == '(') deepest = std::max(deepest, ++depth);
    if (c == ')') --depth;
  }
  EXPECT_LT(deepest, 20);
}

struct Rejection {
  const char* name;
  std::string text;
  std::string expected;  // whole message after "t.yml:"
};

TEST(Sigma, RejectedWithFileLineAndReason) {
  const std::vector<Rejection> cases{
      {"unknown field", doc("  s:\n    Image: a\n    TargetFilename: x\n  condition: s\n"),
       "9: unknown field 'TargetFilename' (process_creation fields: Image, CommandLine, ParentImage, "
       "ParentCommandLine, CurrentDirectory, User, ProcessId, ParentProcessId, LogonId, Hashes, ProcessName, uid, "
       "euid, gid, egid, auid, CgroupId, EventSource)"},
      {"other logsource",
       "title: t\nlogsource: {product: windows, category: process_creation}\ndetection: {s: {Image: a}, condition: s}\n",
       "2: logsource {product: windows, category: process_creation} is not supported: only {product: linux, "
       "category: process_creation} rules run here (over process_events)"},
      {"service", "title: t\nlogsource: {product: linux, service: auditd}\ndetection: {s: {Image: a}, condition: s}\n",
       "2: logsource.service is not supported: only {product: linux, category: process_creation} rules run here"},
      {"aggregation", doc("  s: {Image: a}\n  condition: s | count() by User > 5\n"),
       "8: condition: aggregations ('| count() ...', '| near ...') are not supported: a rule matches single events"},
      {"near", doc("  s: {Image: a}\n  t: {Image: b}\n  condition: s near t\n"),
       "9: condition: 'near' is not supported (it correlates several events)"},
      {"timeframe", doc("  s: {Image: a}\n  timeframe: 5m\n  condition: s\n"),
       "8: detection.timeframe is not supported: a rule matches single events, not counts over time"},
      {"correlation", "title: t\ncorrelation: {type: event_count}\nlogsource: {product: linux, category: process_creation}\n"
                      "detection: {s: {Image: a}, condition: s}\n",
       "2: correlation rules are not supported: a rule matches single events"},
      {"2 of", doc("  s1: {Image: a}\n  s2: {Image: b}\n  condition: 2 of s*\n"),
       "9: condition: '2 of' is not supported (only '1 of', 'any of' and 'all of')"},
      {"unknown identifier", doc("  s: {Image: a}\n  condition: s and t\n"), "8: condition: unknown search identifier 't'"},
      {"pattern matches none", doc("  s: {Image: a}\n  condition: 1 of x*\n"), "8: condition: 'x*' matches no search identifier"},
      {"unclosed", doc("  s: {Image: a}\n  condition: (s\n"), "8: condition: a '(' is not closed"},
      {"dangling", doc("  s: {Image: a}\n  condition: s and\n"),
       "8: condition: ends where a search identifier, 'not' or '(' was expected"},
      {"no condition", doc("  s: {Image: a}\n"), "7: detection has no condition"},
      {"bad regex", doc("  s: {CommandLine|re: 'a(b'}\n  condition: s\n"),
       "7: CommandLine|re: bad regular expression: missing closing parenthesis at offset 3"},
      {"unknown modifier", doc("  s: {Image|sortof: a}\n  condition: s\n"),
       "7: 'Image|sortof': unknown modifier 'sortof' (supported: contains, startswith, endswith, all, cased, re "
       "(with i, m, s), exists, windash, base64, base64offset, lt, lte, gt, gte)"},
      {"cidr", doc("  s: {Image|cidr: 10.0.0.0/8}\n  condition: s\n"),
       "7: 'Image|cidr': modifier cidr is not supported: process_events has no address fields"},
      {"two match modifiers", doc("  s: {Image|contains|endswith: a}\n  condition: s\n"),
       "7: 'Image|contains|endswith': more than one match modifier"},
      {"number with contains", doc("  s: {ProcessId|contains: 1}\n  condition: s\n"),
       "7: 'ProcessId|contains': ProcessId is a number: only exact values, null, exists, lt, lte, gt and gte apply"},
      {"not a number", doc("  s: {ProcessId: abc}\n  condition: s\n"), "7: ProcessId is a number; 'abc' is not an integer"},
      {"md5", doc("  s: {Hashes|contains: 'MD5=abc'}\n  condition: s\n"),
       "7: Hashes: 'MD5=abc' cannot match: process_events keeps only the SHA256 of an executable"},
      {"base64 wildcard", doc("  s: {CommandLine|base64: 'a*'}\n  condition: s\n"),
       "7: base64: wildcards cannot be base64-encoded: 'a*'"},
      {"empty list", doc("  s: {Image: []}\n  condition: s\n"), "7: Image: an empty list matches nothing; leave the field out"},
      {"level", doc("  s: {Image: a}\n  condition: s\n", "level: severe\n"),
       "6: level 'severe' is not one of informational, low, medium, high, critical"},
      {"mixed list", doc("  s:\n    - Image: a\n    - b\n  condition: s\n"),
       "9: detection.s: a list holds either field maps or keywords, not both"},
      {"no title", "logsource: {product: linux, category: process_creation}\ndetection: {s: {Image: a}, condition: s}\n",
       "missing required key title"},
  };
  for (const auto& c : cases) {
    const std::string msg = error_of(c.text);
    const std::string want = c.expected.starts_with("missing") ? "t.yml: " + c.expected : "t.yml:" + c.expected;
    EXPECT_EQ(msg, want) << c.name;
  }
}

TEST(Sigma, HugeExpansionsAreRefusedNotBuilt) {
  std::string list, dashed;
  for (int i = 0; i < 1000; ++i) {
    list += "      - v" + std::to_string(i) + "\n";
    dashed += "      - -v" + std::to_string(i) + "\n";
  }
  // 1000 values × 5 windash variants.
  const std::string msg = error_of(doc("  s:\n    CommandLine|windash|contains:\n" + dashed + "  condition: s\n"));
  EXPECT_NE(msg.find("expands to more than 4096 comparisons"), std::string::npos) << msg;
  // A condition naming one large search many times.
  std::string cond = "s";
  for (int i = 0; i < 10; ++i) cond += " or s";
  const std::string msg2 = error_of(doc("  s:\n    CommandLine|contains:\n" + list + "  condition: " + cond + "\n"));
  EXPECT_NE(msg2.find("condition: expands to more than 4096 comparisons"), std::string::npos) << msg2;
}

TEST(Sigma, TheTitleIsAtMost256Characters) {
  // Sigma's schema (maxLength 256); the title is the name in every alert,
  // and a 900 KB one loaded before (outside probe, session 11).
  const std::string rest = "id: t\nlogsource: {product: linux, category: process_creation}\n"
                           "detection:\n  s: {CommandLine: x}\n  condition: s\n";
  auto big = parse_rule("title: " + std::string(900'000, 'T') + "\n" + rest, "t.yml");
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error().message, "t.yml:1: title: 900000 characters; Sigma allows at most 256 (it is the name in every alert)");
  EXPECT_FALSE(parse_rule("title: " + std::string(257, 'T') + "\n" + rest, "t.yml"));
  // Characters, not bytes: 256 two-byte letters fit.
  std::string accented;
  for (int i = 0; i < 256; ++i) accented += "\xc3\xa9";
  auto fits = parse_rule("title: " + accented + "\n" + rest, "t.yml");
  ASSERT_TRUE(fits) << fits.error().message;
  EXPECT_EQ(fits->name, accented);
  // Bytes that are not UTF-8 count a character each (review of e7eba69:
  // "x" and 500,000 bytes 0x80 counted as 1 character and loaded).
  auto stray = parse_rule("title: \"x" + std::string(500'000, '\x80') + "\"\n" + rest, "t.yml");
  ASSERT_FALSE(stray);
  EXPECT_EQ(stray.error().message,
            "t.yml:1: title: 500001 characters; Sigma allows at most 256 (it is the name in every alert)");
}

TEST(Sigma, TopLevelKeysAreBounded) {
  // Unknown top-level keys are accepted (custom attributes), so a file of
  // 100,000 of them once spent minutes on duplicate checks: more than 256
  // is refused, at the 257th key.
  std::string many;
  for (int i = 0; i < 300; ++i) many += "k" + std::to_string(i) + ": v\n";
  auto r = parse_rule(doc("  s: {CommandLine: x}\n  condition: s\n", many), "t.yml");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().category, ErrorCategory::resource_exhausted);
  EXPECT_EQ(r.error().message, "t.yml:259: more than 256 top-level keys (a Sigma rule has about 15)");
  std::string fits;
  for (int i = 0; i < 240; ++i) fits += "k" + std::to_string(i) + ": v\n";
  EXPECT_TRUE(parse_rule(doc("  s: {CommandLine: x}\n  condition: s\n", fits), "t.yml"));
  // Duplicates are still found among many keys.
  auto dup = parse_rule(doc("  s: {CommandLine: x}\n  condition: s\n", fits + "k7: again\n"), "t.yml");
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().message, "t.yml:246: duplicate key 'k7'");
}

TEST(Sigma, AliasedLargeValuesAreRefusedByTheirSize) {
  // YAML aliases name one large value many times: the leaves' bytes are
  // counted as they are built, so the rule is refused before the query
  // (3.7 GB for the second document) is ever made.
  const std::string big(300'000, 'A');
  std::string list = "    CommandLine|contains:\n      - &v " + big + "\n";
  for (int i = 0; i < 7; ++i) list += "      - *v\n";
  auto r = parse_rule(doc("  s:\n" + list + "  condition: s\n"), "t.yml");
  ASSERT_FALSE(r) << "accepted a query of " << r->query.size() << " bytes";
  EXPECT_EQ(r.error().category, ErrorCategory::resource_exhausted);
  EXPECT_EQ(r.error().message, "t.yml:9: the rule expands to more than 1000000 bytes of SQL (each value counts once per use)");

  const std::string huge(900'000, 'B');
  std::string many = "    CommandLine|contains:\n      - &v " + huge + "\n";
  for (int i = 0; i < 4095; ++i) many += "      - *v\n";
  auto r2 = parse_rule(doc("  s:\n" + many + "  condition: s\n"), "t.yml");
  ASSERT_FALSE(r2);
  EXPECT_EQ(r2.error().category, ErrorCategory::resource_exhausted);
  EXPECT_NE(r2.error().message.find("more than 1000000 bytes of SQL"), std::string::npos) << r2.error().message;

  // One 400 KB search named three times by the condition: each use copies it.
  auto r3 = parse_rule(doc("  s: {CommandLine|contains: " + std::string(400'000, 'C') + "}\n  condition: s or (s and s)\n"),
                       "t.yml");
  ASSERT_FALSE(r3) << "accepted a query of " << r3->query.size() << " bytes";
  EXPECT_EQ(r3.error().category, ErrorCategory::resource_exhausted);
  EXPECT_EQ(r3.error().message,
            "t.yml:8: condition: expands to more than 1000000 bytes of SQL (search 's' is 400028 bytes; each use copies it)");
  // Used twice it fits.
  EXPECT_TRUE(parse_rule(doc("  s: {CommandLine|contains: " + std::string(400'000, 'C') + "}\n  condition: s or s\n"),
                         "t.yml"));
}

TEST(Sigma, AModifierGivenTwiceIsRefused) {
  // Repeated windash multiplied the variants (5 per windash) before any
  // was counted: 5^12 strings for this key.
  std::string key = "CommandLine";
  for (int i = 0; i < 12; ++i) key += "|windash";
  EXPECT_EQ(error_of(doc("  s: {'" + key + "': '-a -b'}\n  condition: s\n")),
            "t.yml:7: '" + key.substr(0, 64) + "… (107 bytes)': modifier 'windash' given twice");
  EXPECT_EQ(error_of(doc("  s: {CommandLine|contains|all|all: [a, b]}\n  condition: s\n")),
            "t.yml:7: 'CommandLine|contains|all|all': modifier 'all' given twice");
}

TEST(Sigma, RegexesPerRuleAreBounded) {
  auto with = [](int n, const std::string& condition) {
    std::string list = "    CommandLine|re:\n";
    for (int i = 0; i < n; ++i) list += "      - 'x" + std::to_string(i) + "'\n";
    return parse_rule(doc("  s:\n" + list + "  condition: " + condition + "\n"), "t.yml");
  };
  EXPECT_TRUE(with(32, "s"));
  auto r = with(33, "s");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().category, ErrorCategory::resource_exhausted);
  EXPECT_EQ(r.error().message, "t.yml:41: the rule expands to more than 32 regular expressions (re)");
  // Each use of a search is its own regexp() call in the query.
  auto twice = with(20, "s or not s");
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().category, ErrorCategory::resource_exhausted);
  EXPECT_NE(twice.error().message.find("condition: uses more than 32 regular expressions"), std::string::npos)
      << twice.error().message;
}

// Sigma rules come from public repositories: every value a message echoes
// (field names and modifiers, values, condition tokens, search names,
// metadata) is shown as osl::detail::shown_text shows it - control bytes as
// \xNN, past 64 bytes the first 64 and its length - so a hostile rule
// cannot put an escape sequence on a terminal or 100 KB in a log.
TEST(Sigma, EchoedValuesAreEscapedAndCut) {
  const std::string hostile = "\\e]0;pwn\\a" + std::string(100'000, 'A');  // YAML escapes: ESC, BEL
  const std::string shown = "\\x1b]0;pwn\\x07" + std::string(56, 'A') + "… (100008 bytes)";
  // YAML's implicit keys are at most 1024 characters.
  const std::string hostile_key = "\\e]0;pwn\\a" + std::string(1'000, 'A');
  const std::string shown_key = "\\x1b]0;pwn\\x07" + std::string(56, 'A') + "… (1008 bytes)";
  const auto expect_shown = [](const std::string& message, const std::string& needle) {
    EXPECT_EQ(message.find('\x1b'), std::string::npos) << message;
    EXPECT_EQ(message.find('\x07'), std::string::npos) << message;
    EXPECT_LT(message.size(), 1000u) << message.substr(0, 1000);
    EXPECT_NE(message.find(needle), std::string::npos) << message.substr(0, 1000) << "\nlacks: " << needle;
  };
  const auto q = [](const std::string& v) { return "\"" + v + "\""; };
  // Field names and modifiers.
  expect_shown(error_of(doc("  s: {" + q(hostile_key + "|contains") + ": x}\n  condition: s\n")),
               "unknown field '" + shown_key + "'");
  expect_shown(error_of(doc("  s: {" + q("Image|" + hostile_key) + ": x}\n  condition: s\n")),
               "unknown modifier '" + shown_key + "'");
  // Values.
  expect_shown(error_of(doc("  s: {ProcessId: " + q(hostile) + "}\n  condition: s\n")),
               "ProcessId is a number; '" + shown + "' is not an integer");
  expect_shown(error_of(doc("  s: {Hashes: " + q("MD5=" + hostile) + "}\n  condition: s\n")),
               "Hashes: 'MD5=\\x1b]0;pwn\\x07");
  expect_shown(error_of(doc("  s: {CommandLine|base64: " + q(hostile + "*") + "}\n  condition: s\n")),
               "base64: wildcards cannot be base64-encoded: '" + shown.substr(0, shown.find("… (")) + "… (100009 bytes)'");
  // Condition tokens (a token is letters, digits and _-.*; anything else is
  // an unexpected character, shown whole).
  expect_shown(error_of(doc("  s: {Image: x}\n  condition: s and " + std::string(60'000, 'b') + "\n")),
               "unknown search identifier '" + std::string(64, 'b') + "… (60000 bytes)'");
  expect_shown(error_of(doc("  s: {Image: x}\n  condition: \"s and \\e[2J\"\n")), "unexpected character '\\x1b'");
  expect_shown(error_of(doc("  s: {Image: x}\n  condition: \"s and \\u009b\"\n")), "unexpected character '\\xc2\\x9b'");
  // Search names.
  expect_shown(error_of(doc("  " + q(hostile_key) + ": []\n  condition: s\n")), "detection." + shown_key + ": an empty list");
  // Metadata: level, id, logsource, and a value described as "got ...".
  expect_shown(error_of(doc("  s: {Image: x}\n  condition: s\n", "level: " + q(hostile) + "\n")),
               "level '" + shown + "' is not one of");
  expect_shown(error_of("title: T\nid: \"\\e[2J\"\nlogsource: {product: linux, category: process_creation}\n"
                        "detection: {s: {Image: x}, condition: s}\n"),
               "id '\\x1b[2J' may contain only");
  expect_shown(error_of("title: T\nlogsource: {product: " + q(hostile) + ", category: process_creation}\n"
                        "detection: {s: {Image: x}, condition: s}\n"),
               "logsource {product: " + shown + ", category: process_creation}");
  expect_shown(error_of("title: T\nlogsource: {" + q(hostile_key) + ": x}\ndetection: {s: {Image: x}, condition: s}\n"),
               "logsource: unknown key '" + shown_key + "'");
  expect_shown(error_of("title: T\nlogsource: " + q(hostile) + "\ndetection: {s: {Image: x}, condition: s}\n"),
               "logsource must be a mapping (got a string '" + shown + "')");
}

}  // namespace
}  // namespace airssys::daemoneye
