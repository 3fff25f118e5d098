// redact_cmdline: every rule, each with the near misses it must leave alone.

#include <airssys/daemoneye/redact.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace airssys::daemoneye {
namespace {

struct Case {
  const char* name;
  std::vector<std::string> argv;
  std::string want;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class Redact : public ::testing::TestWithParam<Case> {};

TEST_P(Redact, Cmdline) {
  const auto& c = GetParam();
  std::vector<std::string_view> views(c.argv.begin(), c.argv.end());
  EXPECT_EQ(redact_cmdline(views), c.want);
}

INSTANTIATE_TEST_SUITE_P(
    Options, Redact,
    ::testing::Values(
        Case{"separate", {"app", "--password", "s3cret", "-v"}, "app --password *** -v"},
        Case{"equals", {"app", "--password=s3cret"}, "app --password=***"},
        Case{"case_insensitive", {"app", "--PassWord", "x", "--TOKEN=y"}, "app --PassWord *** --TOKEN=***"},
        Case{"underscore", {"app", "--api_key", "k", "--client_secret=c"}, "app --api_key *** --client_secret=***"},
        Case{"every_name",
             {"a", "--passwd", "1", "--token", "2", "--secret", "3", "--api-key", "4", "--apikey", "5", "--access-key",
              "6", "--private-key", "7", "--client-secret", "8", "--passphrase", "9"},
             "a --passwd *** --token *** --secret *** --api-key *** --apikey *** --access-key *** --private-key *** "
             "--client-secret *** --passphrase ***"},
        Case{"suffix", {"app", "--db-password", "x", "--auth-token=y", "--aws-secret-access-key", "z"},
             "app --db-password *** --auth-token=*** --aws-secret-access-key ***"},
        Case{"single_dash_long", {"keytool", "-storepass", "x", "-password", "y"}, "keytool -storepass *** -password ***"},
        Case{"openssl_pass", {"openssl", "enc", "-pass", "pass:hunter2", "-passin", "env:X"},
             "openssl enc -pass *** -passin ***"},
        Case{"pass_colon_alone", {"openssl", "rsa", "-in", "k", "pass:hunter2"}, "openssl rsa -in k pass:***"},
        Case{"empty_value_kept", {"app", "--password="}, "app --password="},
        Case{"last_arg_no_value", {"app", "--password"}, "app --password"},
        Case{"next_is_option", {"app", "--password", "--verbose"}, "app --password --verbose"},
        Case{"not_no_flag", {"app", "--no-password", "db"}, "app --no-password db"},
        Case{"not_file", {"app", "--password-file", "/run/pw", "--token-file=/t"},
             "app --password-file /run/pw --token-file=/t"},
        Case{"not_bypass", {"app", "--bypass", "x", "--db-pass", "y"}, "app --bypass x --db-pass ***"},
        Case{"argv0_is_not_special", {"--password", "x"}, "--password ***"}));

INSTANTIATE_TEST_SUITE_P(
    ShortOptions, Redact,
    ::testing::Values(
        Case{"ssh_port_kept", {"ssh", "-p", "2222", "host"}, "ssh -p 2222 host"},
        Case{"cp_p_kept", {"cp", "-p", "a", "b"}, "cp -p a b"},
        Case{"mkdir_p_kept", {"/bin/mkdir", "-p", "/x/y"}, "/bin/mkdir -p /x/y"},
        Case{"mysql_attached", {"mysql", "-uroot", "-pS3cret", "db"}, "mysql -uroot -p*** db"},
        Case{"mysql_path", {"/usr/bin/mysqldump", "-ppw", "db"}, "/usr/bin/mysqldump -p*** db"},
        Case{"mysql_bare_p_prompts", {"mysql", "-p", "db"}, "mysql -p db"},
        Case{"mysql_long", {"mysql", "--password=pw", "db"}, "mysql --password=*** db"},
        Case{"mariadb", {"mariadb", "-pz"}, "mariadb -p***"},
        Case{"sshpass_separate", {"sshpass", "-p", "pw", "ssh", "h"}, "sshpass -p *** ssh h"},
        Case{"sshpass_attached", {"sshpass", "-ppw", "ssh", "h"}, "sshpass -p*** ssh h"},
        Case{"redis_cli", {"redis-cli", "-h", "x", "-a", "pw"}, "redis-cli -h x -a ***"},
        Case{"curl_user", {"curl", "-u", "alice:pw", "https://x"}, "curl -u alice:*** https://x"},
        Case{"curl_user_long", {"curl", "--user=alice:pw", "-Ubob:p2"}, "curl --user=alice:*** -Ubob:***"},
        Case{"curl_user_no_password", {"curl", "-u", "alice", "https://x"}, "curl -u alice https://x"},
        Case{"wget_user_kept", {"wget", "--user", "alice"}, "wget --user alice"}));

INSTANTIATE_TEST_SUITE_P(
    Urls, Redact,
    ::testing::Values(
        Case{"userinfo", {"git", "clone", "https://bob:pw@example.com/r.git"}, "git clone https://bob:***@example.com/r.git"},
        Case{"in_option", {"app", "--db=postgres://u:p%40ss@h:5432/db"}, "app --db=postgres://u:***@h:5432/db"},
        Case{"two_urls", {"x", "a://u:1@h b://v:2@i"}, "x a://u:***@h b://v:***@i"},
        Case{"user_only_kept", {"git", "clone", "https://bob@example.com/r"}, "git clone https://bob@example.com/r"},
        Case{"at_in_path_kept", {"curl", "https://example.com/a:b@c"}, "curl https://example.com/a:b@c"},
        Case{"port_kept", {"curl", "http://host:8080/"}, "curl http://host:8080/"},
        Case{"env_url", {"env", "DATABASE_URL=mysql://root:pw@db/x"}, "env DATABASE_URL=mysql://root:***@db/x"}));

INSTANTIATE_TEST_SUITE_P(
    Environment, Redact,
    ::testing::Values(
        Case{"plain", {"env", "PASSWORD=pw", "TOKEN=t", "SECRET=s", "API_KEY=k", "app"},
             "env PASSWORD=*** TOKEN=*** SECRET=*** API_KEY=*** app"},
        Case{"prefixed", {"env", "MYSQL_ROOT_PASSWORD=pw", "GITHUB_TOKEN=t", "AWS_SECRET_ACCESS_KEY=k"},
             "env MYSQL_ROOT_PASSWORD=*** GITHUB_TOKEN=*** AWS_SECRET_ACCESS_KEY=***"},
        Case{"lower_and_dotted", {"spark-submit", "spark.authenticate.secret=x", "db_password=y"},
             "spark-submit spark.authenticate.secret=*** db_password=***"},
        Case{"docker_e", {"docker", "run", "-e", "DB_PASSWORD=pw", "--env=API_KEY=k", "img"},
             "docker run -e DB_PASSWORD=*** --env=API_KEY=*** img"},
        Case{"others_kept", {"env", "PATH=/bin", "HOME=/root", "LANG=C", "a=b=c"}, "env PATH=/bin HOME=/root LANG=C a=b=c"},
        Case{"not_a_name", {"echo", "1+TOKEN=2"}, "echo 1+TOKEN=2"}));

INSTANTIATE_TEST_SUITE_P(
    InsideArguments, Redact,
    ::testing::Values(
        Case{"sh_c_mysql", {"sh", "-c", "mysql -uroot -pS3cret db"}, "sh -c mysql -uroot -p*** db"},
        Case{"sh_c_long", {"bash", "-c", "app --token abc && echo ok"}, "bash -c app --token *** && echo ok"},
        Case{"sh_c_quoted_value", {"sh", "-c", "app --password='a b c' x"}, "sh -c app --password=*** x"},
        Case{"spacing_kept", {"sh", "-c", "a  --token\tv   b"}, "sh -c a  --token\t***   b"},
        Case{"authorization", {"curl", "-H", "Authorization: Bearer abc.def", "https://x"},
             "curl -H Authorization: Bearer *** https://x"},
        Case{"authorization_basic", {"curl", "--header", "authorization: Basic Zm9vOmJhcg=="},
             "curl --header authorization: Basic ***"},
        Case{"api_key_header", {"curl", "-H", "X-Api-Key: k123"}, "curl -H X-Api-Key: ***"},
        Case{"harmless_kept", {"sh", "-c", "sleep 10; echo done"}, "sh -c sleep 10; echo done"},
        Case{"empty_argv", {}, ""},
        Case{"empty_args", {"a", "", ""}, "a  "}));

}  // namespace
}  // namespace airssys::daemoneye

namespace airssys::daemoneye {
namespace {

// Any user controls their own argv: one argument of "://" repeated after an
// '@' once made every URL search scan back to the start (O(n^2), ~10 s for
// 512 KiB at -O2, minutes under ASan, far past this test's timeout). Each
// URL's '@' and ':' are now looked for within that URL only.
TEST(RedactHostile, ManyUrlSeparatorsInOneArgument) {
  std::string arg = "@";
  while (arg.size() < 512 * 1024) arg += "://";
  const std::vector<std::string_view> argv{"prog", arg};
  EXPECT_EQ(redact_cmdline(argv), "prog " + arg);
  std::string with_secret = arg + " https://u:pw@h/";
  const std::vector<std::string_view> argv2{"sh", "-c", with_secret};
  EXPECT_EQ(redact_cmdline(argv2), "sh -c " + arg + " https://u:***@h/");
}

}  // namespace
}  // namespace airssys::daemoneye

namespace airssys::daemoneye {
namespace {

using namespace std::string_literals;

// Padding in the middle of a command line cannot push its end out of the
// column: over `max`, the head and the tail are kept around kCmdlineCut.
TEST(CmdlineColumn, KeepsTheHeadAndTheTailOfALongCommandLine) {
  const std::string raw = "bash\0-c\0"s + std::string(40000, ' ') + "sleep 600; : /dev/tcp/10.9.9.9/4444" + '\0';
  const std::string col = cmdline_column(raw, false, 1024);
  EXPECT_EQ(col.size(), 1024u);
  EXPECT_TRUE(col.starts_with("bash -c ")) << col.substr(0, 20);
  EXPECT_TRUE(col.ends_with("sleep 600; : /dev/tcp/10.9.9.9/4444")) << col.substr(col.size() - 40);
  EXPECT_NE(col.find(kCmdlineCut), std::string::npos);
  // Short enough: unchanged, no marker.
  EXPECT_EQ(cmdline_column("ls\0-l\0"s, false, 1024), "ls -l");
  // Redacted before it is cut: a secret at the end stays hidden.
  const std::string secret = "app\0"s + std::string(5000, 'x') + '\0' + "--password\0hunter2\0"s;
  const std::string hidden = cmdline_column(secret, false, 256);
  EXPECT_TRUE(hidden.ends_with("--password ***")) << hidden.substr(hidden.size() - 20);
  EXPECT_EQ(hidden.find("hunter2"), std::string::npos);
}

// Whole UTF-8 sequences only (the strings here hold no invalid ones).
bool valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto b = static_cast<unsigned char>(s[i]);
    const std::size_t n = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (std::size_t j = 1; j < n; ++j)
      if ((static_cast<unsigned char>(s[i + j]) & 0xC0) != 0x80) return false;
    i += n;
  }
  return true;
}

TEST(CmdlineColumn, CutsOnlyAtUtf8Boundaries) {
  std::string s;
  while (s.size() < 3000) s += "\u00e9\u20ac";  // 2- and 3-byte sequences
  for (std::size_t max : {100u, 101u, 102u, 103u, 104u, 105u}) {
    std::string t = s;
    keep_head_and_tail(t, max);
    EXPECT_LE(t.size(), max);
    EXPECT_GE(t.size(), max - 4);
    EXPECT_NE(t.find(kCmdlineCut), std::string::npos);
    EXPECT_TRUE(valid_utf8(t)) << max;
  }
}

// eBPF gives an over-long argv as its first and last bytes: the tail's first
// word (a fragment whose start was never read) is dropped, the rest kept.
TEST(CmdlineColumn, HeadAndTailCapturedApart) {
  const std::string head = "bash\0-c\0"s + std::string(100, ' ');
  const std::string tail = "ret@host     : /dev/tcp/10.9.9.9/4444\0"s;
  const std::string col = cmdline_column_cut(head, tail, 32 * 1024);
  EXPECT_TRUE(col.starts_with("bash -c ")) << col;
  EXPECT_NE(col.find(": /dev/tcp/10.9.9.9/4444"), std::string::npos) << col;
  EXPECT_EQ(col.find("ret@host"), std::string::npos) << col;
  EXPECT_NE(col.find(kCmdlineCut), std::string::npos);
  // The tail's whole arguments are redacted as usual.
  const std::string col2 = cmdline_column_cut("app\0"s, "xx\0--token\0abc\0"s, 1024);
  EXPECT_EQ(col2, "app" + std::string(kCmdlineCut) + "--token ***");
}

// Secrets in a tail read apart: the program-specific rules take their
// program from the head's argv[0], not from whatever follows the cut, and
// the argument after a fragment that may end an option's name is masked.
// `raw` cut as the eBPF program cuts it: its first 8 KiB and its last 8191
// bytes (from arg_end - 8191).
std::string ebpf_cut(const std::string& raw) {
  return cmdline_column_cut(std::string_view(raw).substr(0, 8192), std::string_view(raw).substr(raw.size() - 8191),
                            32 * 1024);
}

TEST(CmdlineColumn, SecretsInATailReadApartAreRedactedWithTheHeadsProgram) {
  const std::string pad(20 * 1024, 'x');
  const std::string mysql = "mysql\0--init-command="s + pad + "\0-uroot\0-pS3cret\0db\0"s;
  const std::string col = ebpf_cut(mysql);
  EXPECT_EQ(col.find("S3cret"), std::string::npos) << col.substr(col.size() - 60);
  EXPECT_TRUE(col.ends_with("-p*** db")) << col.substr(col.size() - 60);

  const std::string curl = "curl\0-d\0"s + pad + "\0-u\0alice:pw\0https://h/\0"s;
  const std::string col2 = ebpf_cut(curl);
  EXPECT_EQ(col2.find("alice:pw"), std::string::npos) << col2.substr(col2.size() - 60);
  EXPECT_TRUE(col2.ends_with("-u alice:*** https://h/")) << col2.substr(col2.size() - 60);

  // sshpass and redis-cli, whose option and value are two arguments.
  const std::string ssh = "/usr/bin/sshpass\0-v\0"s + pad + "\0-p\0hunter2\0ssh\0h\0"s;
  EXPECT_EQ(ebpf_cut(ssh).find("hunter2"), std::string::npos);
  const std::string redis = "redis-cli\0--eval\0"s + pad + "\0-a\0hunter2\0ping\0"s;
  EXPECT_EQ(ebpf_cut(redis).find("hunter2"), std::string::npos);
}

TEST(CmdlineColumn, ATailStartingInsideAnOptionNameMasksItsValue) {
  // The read began inside "--password": its end "ssword" is dropped, and
  // the value after it is masked (the option's name was never seen whole).
  EXPECT_EQ(cmdline_column_cut("app\0"s, "ssword\0hunter2\0next\0"s, 1024), "app" + std::string(kCmdlineCut) + "*** next");
  // A read beginning on a separator: what came before is unknown.
  EXPECT_EQ(cmdline_column_cut("app\0"s, "\0hunter2\0next\0"s, 1024), "app" + std::string(kCmdlineCut) + "*** next");
  // "-p" of sshpass, cut after its dash.
  EXPECT_EQ(cmdline_column_cut("sshpass\0"s, "p\0hunter2\0ssh\0"s, 1024),
            "sshpass" + std::string(kCmdlineCut) + "*** ssh");
  // A fragment that ends no secret option's name leaves the next argument.
  EXPECT_EQ(cmdline_column_cut("app\0"s, "xyzzy\0keep\0"s, 1024), "app" + std::string(kCmdlineCut) + "keep");
  // Inside an `sh -c` string: the words after the cut, whatever program
  // they belong to, get every program's rules, and the value after a cut
  // option name is masked.
  const std::string sh = "sh\0-c\0mysql --init-command="s + std::string(20 * 1024, 'x') + " -uroot -pS3cret db\0"s;
  const std::string col = ebpf_cut(sh);
  EXPECT_EQ(col.find("S3cret"), std::string::npos) << col.substr(col.size() - 60);
  const std::string col2 = cmdline_column_cut("sh\0-c\0"s, "ssword hunter2 db\0"s, 1024);
  EXPECT_EQ(col2.find("hunter2"), std::string::npos) << col2;
}

}  // namespace
}  // namespace airssys::daemoneye
