#include "webhook_url.hpp"

#include <gtest/gtest.h>

namespace airssys::daemoneye::detail {
namespace {

TEST(WebhookUrl, AcceptsHttpAndHttps) {
  for (const char* url : {"http://127.0.0.1:8080/hook", "https://hooks.example.com/services/T0/B0?token=x",
                          "https://user:pass@[::1]:8443/"}) {
    const auto r = check_webhook_url(url);
    EXPECT_TRUE(r) << url << ": " << r.error();
  }
}

TEST(WebhookUrl, RefusesOthersWithoutRepeatingTheUrl) {
  struct Case {
    const char* url;
    const char* error;  // prefix
  };
  for (const Case& c : {Case{"ftp://user:secret@h/", "must be an http:// or https:// URL, got scheme 'ftp'"},
                        Case{"file:///etc/secret", "must be an http:// or https:// URL, got scheme 'file'"},
                        Case{"hooks.example.com/secret", "not a valid URL ("},
                        Case{"http://user:secret@bad host/", "not a valid URL ("},
                        Case{"", "not a valid URL ("}}) {
    const auto r = check_webhook_url(c.url);
    ASSERT_FALSE(r) << c.url;
    EXPECT_TRUE(r.error().message.starts_with(c.error)) << r.error().message;
    EXPECT_EQ(r.error().message.find("secret"), std::string::npos) << r.error().message;
  }
  EXPECT_EQ(check_webhook_url(std::string("http://h/\0x", 11)).error().message, "the URL contains a NUL byte");
}

TEST(WebhookUrl, RedactionDropsCredentialsQueryAndFragment) {
  EXPECT_EQ(redact_url("https://user:pass@hooks.example.com:8443/a/b?token=s3cret#frag"), "https://hooks.example.com:8443/a/b");
  EXPECT_EQ(redact_url("http://127.0.0.1:9/x"), "http://127.0.0.1:9/x");
  EXPECT_EQ(redact_url("not a url"), "(invalid URL)");
}

}  // namespace
}  // namespace airssys::daemoneye::detail
