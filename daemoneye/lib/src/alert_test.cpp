#include <airssys/daemoneye/alert.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace airssys::daemoneye {
namespace {

using nlohmann::json;

Rule rule(std::vector<std::string> key = {}) {
  Rule r;
  r.id = "exe-deleted";
  r.name = "Executable deleted while running";
  r.severity = Severity::high;
  r.key_columns = std::move(key);
  return r;
}

Alert sample() {
  Alert a;
  a.rule_id = "exe-deleted";
  a.rule_name = "Executable deleted while running";
  a.severity = Severity::high;
  a.tags = {"attack.defense-evasion", "attack.t1070"};
  a.row_json = R"({"pid":123,"name":"x","path":"/tmp/x","start_time":1764000000})";
  a.host = "web-01";
  a.time = 1796392800;  // 2026-12-04T14:00:00Z
  a.dedup_key = "exe-deleted|pid=123|start_time=1764000000";
  return a;
}

TEST(DedupKey, DefaultColumnsArePidAndStartTime) {
  EXPECT_EQ(make_dedup_key(rule(), R"({"start_time":1764000000,"name":"x","pid":123})"),
            "exe-deleted|pid=123|start_time=1764000000");
}

// A Sigma rule's rows are process events: two execs of one process (an exec
// chain keeps pid and start time) are two alerts, one event read twice is one.
TEST(DedupKey, SigmaRulesDefaultToTheEventToo) {
  Rule r = rule();
  r.sigma = Rule::SigmaInfo{};
  const auto first = make_dedup_key(r, R"({"pid":9,"start_time":5,"event_id":41,"cmdline":"bash -c x"})");
  const auto second = make_dedup_key(r, R"({"pid":9,"start_time":5,"event_id":42,"cmdline":"bash -c y"})");
  EXPECT_EQ(first, "exe-deleted|pid=9|start_time=5|event_id=41");
  EXPECT_NE(first, second);
  EXPECT_EQ(make_dedup_key(r, R"({"pid":9,"start_time":5,"event_id":41})"), first);
  // A native rule keeps pid + start_time, whatever its row holds.
  EXPECT_EQ(make_dedup_key(rule(), R"({"pid":9,"start_time":5,"event_id":41})"), "exe-deleted|pid=9|start_time=5");
}

TEST(DedupKey, RuleKeyColumnsInTheirOrder) {
  EXPECT_EQ(make_dedup_key(rule({"path", "uid"}), R"({"pid":1,"uid":0,"path":"/tmp/a b"})"), "exe-deleted|path=/tmp/a b|uid=0");
}

TEST(DedupKey, MissingNullAndNonObjectRowsContributeEmptyValues) {
  EXPECT_EQ(make_dedup_key(rule(), R"({"pid":7})"), "exe-deleted|pid=7|start_time=");
  EXPECT_EQ(make_dedup_key(rule(), R"({"pid":null,"start_time":5})"), "exe-deleted|pid=|start_time=5");
  EXPECT_EQ(make_dedup_key(rule(), "not json"), "exe-deleted|pid=|start_time=");
  EXPECT_EQ(make_dedup_key(rule(), "[1,2]"), "exe-deleted|pid=|start_time=");
}

TEST(DedupKey, OtherValueTypesUseTheirJsonSpelling) {
  EXPECT_EQ(make_dedup_key(rule({"a", "b", "c"}), R"({"a":1.5,"b":true,"c":[1]})"), "exe-deleted|a=1.5|b=true|c=[1]");
}

TEST(DedupKey, AValueCannotForgeAnotherKey) {
  // Without escaping, both rows would give "r|name=a|path=b|path=".
  const Rule r = rule({"name", "path"});
  const auto forged = make_dedup_key(r, R"({"name":"a|path=b","path":""})");
  const auto honest = make_dedup_key(r, R"({"name":"a","path":"b|path="})");
  EXPECT_NE(forged, honest);
  EXPECT_EQ(forged, R"(exe-deleted|name=a\|path=b|path=)");
  EXPECT_EQ(make_dedup_key(r, R"({"name":"a\\","path":"x"})"), R"(exe-deleted|name=a\\|path=x)");
}

TEST(AlertJson, CarriesEveryFieldInOrderWithTheRowAsAnObject) {
  const std::string text = alert_to_json(sample());
  EXPECT_EQ(text,
            R"({"time":1796392800,"host":"web-01","rule_id":"exe-deleted","rule_name":"Executable deleted while running",)"
            R"("severity":"high","tags":["attack.defense-evasion","attack.t1070"],)"
            R"("dedup_key":"exe-deleted|pid=123|start_time=1764000000",)"
            R"("row":{"pid":123,"name":"x","path":"/tmp/x","start_time":1764000000}})");
  EXPECT_EQ(text.find('\n'), std::string::npos);
  const json j = json::parse(text);
  EXPECT_TRUE(j["row"].is_object());
  EXPECT_EQ(j["row"]["pid"], 123);
}

TEST(AlertJson, InvalidRowIsCarriedAsAStringAndBadUtf8IsReplaced) {
  Alert a = sample();
  a.row_json = "{broken";
  a.rule_name = "bad \xff byte";
  const json j = json::parse(alert_to_json(a));
  EXPECT_EQ(j["row"], "{broken");
  EXPECT_EQ(j["rule_name"], "bad \xef\xbf\xbd byte");
}

TEST(AlertJson, EverySeverityIsSpelledOut) {
  Alert a = sample();
  for (const auto& [s, name] : {std::pair{Severity::low, "low"}, std::pair{Severity::medium, "medium"},
                                std::pair{Severity::high, "high"}, std::pair{Severity::critical, "critical"}}) {
    a.severity = s;
    EXPECT_EQ(json::parse(alert_to_json(a))["severity"], name);
  }
}

bool same(const Alert& a, const Alert& b) {
  return a.rule_id == b.rule_id && a.rule_name == b.rule_name && a.severity == b.severity && a.tags == b.tags &&
         a.row_json == b.row_json && a.host == b.host && a.time == b.time && a.dedup_key == b.dedup_key;
}

TEST(AlertFromJson, GivesBackTheAlertItsJsonCarries) {
  for (const auto s : {Severity::low, Severity::medium, Severity::high, Severity::critical}) {
    Alert a = sample();
    a.severity = s;
    const auto back = alert_from_json(alert_to_json(a));
    ASSERT_TRUE(back.has_value()) << alert_to_json(a);
    EXPECT_TRUE(same(*back, a)) << alert_to_json(*back);
  }
  // A row that was no JSON object is carried as a string, and comes back as that string.
  Alert broken = sample();
  broken.row_json = "{broken";
  broken.tags.clear();
  const auto back = alert_from_json(alert_to_json(broken));
  ASSERT_TRUE(back.has_value());
  EXPECT_TRUE(same(*back, broken)) << alert_to_json(*back);
}

TEST(AlertFromJson, AnythingButAnAlertIsNone) {
  const json good = json::parse(alert_to_json(sample()));
  EXPECT_FALSE(alert_from_json(R"({"type":"live_query","time":1,"host":"h","decision":"accepted"})"));
  EXPECT_FALSE(alert_from_json("not json"));
  EXPECT_FALSE(alert_from_json("[1,2]"));
  EXPECT_FALSE(alert_from_json(""));
  for (const char* field : {"time", "host", "rule_id", "rule_name", "severity", "tags", "dedup_key", "row"}) {
    json j = good;
    j.erase(field);
    EXPECT_FALSE(alert_from_json(j.dump())) << field;
  }
  for (const auto& [field, value] :
       {std::pair{"time", json("1")}, std::pair{"severity", json("urgent")}, std::pair{"tags", json::array({1})},
        std::pair{"rule_id", json(7)}, std::pair{"time", json(1.5)}}) {
    json j = good;
    j[field] = value;
    EXPECT_FALSE(alert_from_json(j.dump())) << field << " " << value.dump();
  }
  json typed = good;
  typed["type"] = "alert";
  EXPECT_FALSE(alert_from_json(typed.dump()));
}

TEST(AlertHuman, TheIssuesLine) {
  EXPECT_EQ(alert_to_human(sample()),
            "2026-12-04T14:00:00Z HIGH exe-deleted Executable deleted while running pid=123 name=x path=/tmp/x "
            "start_time=1764000000");
}

TEST(AlertHuman, HostileValuesAreQuotedAndEscaped) {
  Alert a = sample();
  a.row_json = R"({"name":"\u001b[31mred","cmdline":"sh -c \"x=1\"","path":"","user":"jos\u00e9","n":null})";
  a.rule_name = "name with \x1b[2J escape";
  EXPECT_EQ(alert_to_human(a),
            R"(2026-12-04T14:00:00Z HIGH exe-deleted name with ?[2J escape name="\u001b[31mred" )"
            R"(cmdline="sh -c \"x=1\"" path="" user="jos\u00e9" n=null)");
}

TEST(AlertHuman, ALongValueIsCutAndSaysHowMuchWasLeftOut) {
  Alert a = sample();
  // 199 ASCII bytes then 'é' (2 bytes) straddling the 200-byte cut.
  std::string path = "/" + std::string(198, 'a') + "\u00e9" + std::string(100, 'b');
  a.row_json = R"({"path":")" + path + R"("})";
  const std::string line = alert_to_human(a);
  EXPECT_NE(line.find(" path=\"/" + std::string(198, 'a') + "...(+102 bytes)\""), std::string::npos) << line;
  EXPECT_EQ(json::parse(alert_to_json(a))["row"]["path"].get<std::string>().size(), 301u);  // JSON keeps it whole
}

TEST(AlertHuman, ANonObjectRowIsShownWhole) {
  Alert a = sample();
  a.severity = Severity::critical;
  a.row_json = "oops";
  EXPECT_EQ(alert_to_human(a), "2026-12-04T14:00:00Z CRITICAL exe-deleted Executable deleted while running row=oops");
}

}  // namespace
}  // namespace airssys::daemoneye
