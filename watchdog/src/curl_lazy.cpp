// libcurl, loaded when first used (dlopen "libcurl.so.4") instead of at
// start-up: linking it pulls in ~35 shared libraries (TLS, Kerberos, LDAP…)
// that cost every task-watchdog command ~15 ms and ~6.5 MB of RSS, although
// only container tasks use it (src/container/docker_client.cpp). These
// definitions are the libcurl functions that code calls; each resolves the
// real one on first call. When libcurl cannot be loaded, curl_global_init
// and curl_easy_perform fail with CURLE_FAILED_INIT and curl_easy_init
// returns NULL, so the container code reports "no engine" plainly.
//
// Thread safety: resolution happens once (std::call_once).

#include <curl/curl.h>

#include <dlfcn.h>

#include <cstdarg>
#include <mutex>

namespace {

struct Api {
  void* handle = nullptr;
  CURLcode (*global_init)(long) = nullptr;
  CURL* (*easy_init)() = nullptr;
  CURLcode (*easy_setopt)(CURL*, CURLoption, ...) = nullptr;
  CURLcode (*easy_perform)(CURL*) = nullptr;
  void (*easy_cleanup)(CURL*) = nullptr;
  CURLcode (*easy_getinfo)(CURL*, CURLINFO, ...) = nullptr;
  const char* (*easy_strerror)(CURLcode) = nullptr;
  curl_slist* (*slist_append)(curl_slist*, const char*) = nullptr;
  void (*slist_free_all)(curl_slist*) = nullptr;
};

template <class F>
void bind(void* h, F& f, const char* name) {
  f = reinterpret_cast<F>(::dlsym(h, name));
}

const Api& api() {
  static Api a;
  static std::once_flag once;
  std::call_once(once, [] {
    void* h = ::dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (h == nullptr) return;
    Api t;
    t.handle = h;
    bind(h, t.global_init, "curl_global_init");
    bind(h, t.easy_init, "curl_easy_init");
    bind(h, t.easy_setopt, "curl_easy_setopt");
    bind(h, t.easy_perform, "curl_easy_perform");
    bind(h, t.easy_cleanup, "curl_easy_cleanup");
    bind(h, t.easy_getinfo, "curl_easy_getinfo");
    bind(h, t.easy_strerror, "curl_easy_strerror");
    bind(h, t.slist_append, "curl_slist_append");
    bind(h, t.slist_free_all, "curl_slist_free_all");
    if (t.global_init && t.easy_init && t.easy_setopt && t.easy_perform && t.easy_cleanup && t.easy_getinfo &&
        t.easy_strerror && t.slist_append && t.slist_free_all) {
      a = t;
    }
  });
  return a;
}

}  // namespace

// The header may define curl_easy_setopt/getinfo as type-checking macros.
#undef curl_easy_setopt
#undef curl_easy_getinfo

// These definitions must keep curl.h's signatures, whose last named
// parameter is an enum (CURLoption, CURLINFO). clang flags va_start after a
// parameter whose type changes under default promotion; libcurl itself is
// built the same way and every Linux ABI passes such an enum as an int.
#if defined(__clang__)
#pragma clang diagnostic ignored "-Wvarargs"
#endif

extern "C" {

CURLcode curl_global_init(long flags) { return api().global_init ? api().global_init(flags) : CURLE_FAILED_INIT; }

CURL* curl_easy_init() { return api().easy_init ? api().easy_init() : nullptr; }

// The one variadic argument's type follows from the option's number range
// (curl.h: CURLOPTTYPE_LONG, _OBJECTPOINT, _FUNCTIONPOINT, _OFF_T, _BLOB).
CURLcode curl_easy_setopt(CURL* c, CURLoption option, ...) {
  if (!api().easy_setopt) return CURLE_FAILED_INIT;
  va_list ap;
  va_start(ap, option);
  CURLcode r;
  const int o = static_cast<int>(option);
  if (o < CURLOPTTYPE_OBJECTPOINT) {
    r = api().easy_setopt(c, option, va_arg(ap, long));
  } else if (o >= CURLOPTTYPE_OFF_T && o < CURLOPTTYPE_BLOB) {
    r = api().easy_setopt(c, option, va_arg(ap, curl_off_t));
  } else {
    r = api().easy_setopt(c, option, va_arg(ap, void*));
  }
  va_end(ap);
  return r;
}

CURLcode curl_easy_perform(CURL* c) { return api().easy_perform ? api().easy_perform(c) : CURLE_FAILED_INIT; }

void curl_easy_cleanup(CURL* c) {
  if (api().easy_cleanup) api().easy_cleanup(c);
}

// Every CURLINFO takes one pointer.
CURLcode curl_easy_getinfo(CURL* c, CURLINFO info, ...) {
  if (!api().easy_getinfo) return CURLE_FAILED_INIT;
  va_list ap;
  va_start(ap, info);
  void* p = va_arg(ap, void*);
  va_end(ap);
  return api().easy_getinfo(c, info, p);
}

const char* curl_easy_strerror(CURLcode code) {
  return api().easy_strerror ? api().easy_strerror(code) : "libcurl (libcurl.so.4) could not be loaded";
}

curl_slist* curl_slist_append(curl_slist* list, const char* s) { return api().slist_append ? api().slist_append(list, s) : nullptr; }

void curl_slist_free_all(curl_slist* list) {
  if (api().slist_free_all) api().slist_free_all(list);
}

}  // extern "C"
