#include "webhook_url.hpp"

#include <curl/curl.h>

#include <fmt/format.h>

#include <memory>

namespace airssys::daemoneye::detail {

namespace {

struct UrlDeleter {
  void operator()(CURLU* u) const noexcept { curl_url_cleanup(u); }
};
using UrlHandle = std::unique_ptr<CURLU, UrlDeleter>;

struct CurlFree {
  void operator()(char* p) const noexcept { curl_free(p); }
};
using CurlString = std::unique_ptr<char, CurlFree>;

Result<UrlHandle> parse(std::string_view url) {
  if (url.find('\0') != std::string_view::npos) return fail(ErrorCategory::invalid_input, "the URL contains a NUL byte");
  UrlHandle h(curl_url());
  if (!h) return fail(ErrorCategory::resource_exhausted, "out of memory");
  const std::string copy(url);
  if (const CURLUcode rc = curl_url_set(h.get(), CURLUPART_URL, copy.c_str(), 0); rc != CURLUE_OK) {
    return fail(ErrorCategory::invalid_input, fmt::format("not a valid URL ({})", curl_url_strerror(rc)));
  }
  return h;
}

std::string part(const UrlHandle& h, CURLUPart which) {
  char* out = nullptr;
  if (curl_url_get(h.get(), which, &out, 0) != CURLUE_OK || out == nullptr) return {};
  const CurlString owned(out);
  return std::string(owned.get());
}

}  // namespace

Result<void> check_webhook_url(std::string_view url) {
  auto h = parse(url);
  if (!h) return std::unexpected(h.error());
  const std::string scheme = part(*h, CURLUPART_SCHEME);
  if (scheme != "http" && scheme != "https") {
    return fail(ErrorCategory::invalid_input, fmt::format("must be an http:// or https:// URL, got scheme '{}'", scheme));
  }
  if (part(*h, CURLUPART_HOST).empty()) return fail(ErrorCategory::invalid_input, "the URL has no host");
  return {};
}

std::string redact_url(std::string_view url) {
  auto h = parse(url);
  if (!h) return "(invalid URL)";
  for (const CURLUPart p : {CURLUPART_USER, CURLUPART_PASSWORD, CURLUPART_OPTIONS, CURLUPART_QUERY, CURLUPART_FRAGMENT}) {
    (void)curl_url_set(h->get(), p, nullptr, 0);
  }
  std::string out = part(*h, CURLUPART_URL);
  return out.empty() ? std::string("(invalid URL)") : out;
}

}  // namespace airssys::daemoneye::detail
