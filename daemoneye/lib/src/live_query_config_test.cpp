// The live_query configuration section: off by default, a list of trusted
// keys, and the checks between its keys once every layer is in.

#include <airssys/daemoneye/config.hpp>
#include <gtest/gtest.h>

namespace airssys::daemoneye {
namespace {

using namespace std::chrono_literals;

TEST(LiveQueryConfig, OffByDefault) {
  const Config c;
  EXPECT_FALSE(c.live_query.enabled);
  EXPECT_EQ(c.live_query.max_rows, 1000u);
  EXPECT_EQ(c.live_query.timeout, 5000ms);
  EXPECT_TRUE(c.live_query.trusted_keys.empty());
}

TEST(LiveQueryConfig, ASectionIsRead) {
  Config c;
  ASSERT_TRUE(apply_yaml(c,
                         "live_query:\n  enabled: true\n  url: nats://127.0.0.1:4222\n"
                         "  trusted_keys: [/etc/daemoneye/keys/alice.pub.pem, /etc/daemoneye/keys/bob.pub.pem]\n"
                         "  max_rows: 50\n  timeout: 2s\n",
                         "c.yaml"));
  EXPECT_TRUE(c.live_query.enabled);
  EXPECT_EQ(c.live_query.url, "nats://127.0.0.1:4222");
  ASSERT_EQ(c.live_query.trusted_keys.size(), 2u);
  EXPECT_EQ(c.live_query.trusted_keys[1], "/etc/daemoneye/keys/bob.pub.pem");
  EXPECT_EQ(c.live_query.max_rows, 50u);
  EXPECT_EQ(c.live_query.timeout, 2000ms);
}

TEST(LiveQueryConfig, BadValuesNameTheLine) {
  Config c;
  EXPECT_EQ(apply_yaml(c, "live_query:\n  enabled: yes please\n", "c.yaml").error().message,
            "c.yaml:2: live_query.enabled: must be true or false, got 'yes please'");
  EXPECT_EQ(apply_yaml(c, "live_query:\n  trusted_keys: /k.pem\n", "c.yaml").error().message,
            "c.yaml:2: live_query.trusted_keys must be a list of paths, got a string '/k.pem'");
  EXPECT_EQ(apply_yaml(c, "live_query:\n  max_rows: 0\n", "c.yaml").error().category, ErrorCategory::invalid_input);
  EXPECT_EQ(apply_yaml(c, "live_query:\n  url: http://x\n", "c.yaml").error().category, ErrorCategory::invalid_input);
  EXPECT_EQ(apply_yaml(c, "live_query:\n  keys: []\n", "c.yaml").error().message,
            "c.yaml:2: unknown key 'keys' in live_query (known: enabled, url, max_rows, timeout, credentials, token, "
            "tls_ca, tls_cert, tls_key, trusted_keys)");
  EXPECT_EQ(set_key(c, "live_query.trusted_keys", "/k.pem", "x").error().message,
            "x: live_query.trusted_keys is a list of paths; set it in a config file");
}

TEST(LiveQueryConfig, EnabledNeedsServersAndKeys) {
  ConfigInputs in;
  in.system_file = "/nonexistent/daemoneye.yaml";
  in.user_file = "/nonexistent/user.yaml";
  in.env = {{"DAEMONEYE_LIVE_QUERY_ENABLED", "true"}};
  auto r = load_config(in);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "live_query.enabled is true but live_query.url (the NATS servers) is not set");
  in.env.emplace_back("DAEMONEYE_LIVE_QUERY_URL", "nats://127.0.0.1:4222");
  r = load_config(in);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message,
            "live_query.enabled is true but live_query.trusted_keys is empty (no key could sign a query)");
  in.env = {{"DAEMONEYE_LIVE_QUERY_URL", "nats://127.0.0.1:4222"}};
  EXPECT_TRUE(load_config(in)) << "disabled: nothing is required";
}

}  // namespace
}  // namespace airssys::daemoneye
