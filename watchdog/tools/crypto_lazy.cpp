// libcrypto, loaded when first used (dlopen "libcrypto.so.3") instead of at
// start-up. Only `--audit-ledger` needs it (the ledger's SHA-256, through
// airssys_ledger_osl), yet linking it made every command map and relocate
// its 4.5 MB: ~6 ms and ~1.5 MB of RSS on `list` (docs/BENCHMARKS.md,
// task-watchdog). These definitions are the OpenSSL functions the linked
// ledger code calls (ledger/src/merkle.cpp: `nm -D --undefined-only
// task-watchdog | grep OPENSSL` must print nothing); each forwards to the
// real one, resolved on first call. Being objects of the program itself
// they win over libcrypto.so on the link line, which --as-needed then
// drops. Library users (tests, benchmarks) link libcrypto as usual.
//
// If libcrypto cannot be loaded, EVP_MD_fetch and EVP_MD_CTX_new return
// NULL and the rest fail; main() checks crypto_lazy_loaded() before it
// turns --audit-ledger on, so the user sees why instead.
//
// Thread safety: resolution happens once (std::call_once).

#include "crypto_lazy.hpp"

#include <openssl/evp.h>

#include <dlfcn.h>

#include <mutex>
#include <string>

namespace {

struct Api {
  EVP_MD* (*md_fetch)(OSSL_LIB_CTX*, const char*, const char*) = nullptr;
  EVP_MD_CTX* (*ctx_new)() = nullptr;
  void (*ctx_free)(EVP_MD_CTX*) = nullptr;
  int (*init_ex2)(EVP_MD_CTX*, const EVP_MD*, const OSSL_PARAM*) = nullptr;
  int (*update)(EVP_MD_CTX*, const void*, size_t) = nullptr;
  int (*final_ex)(EVP_MD_CTX*, unsigned char*, unsigned int*) = nullptr;
  std::string error;  // why it could not be loaded
};

template <class F>
bool bind(void* h, F& f, const char* name) {
  // The versioned symbol: the one the ledger would have been linked against.
  f = reinterpret_cast<F>(::dlvsym(h, name, "OPENSSL_3.0.0"));
  return f != nullptr;
}

const Api& api() {
  static Api a;
  static std::once_flag once;
  std::call_once(once, [] {
    void* h = ::dlopen("libcrypto.so.3", RTLD_NOW | RTLD_LOCAL);
    if (h == nullptr) {
      const char* e = ::dlerror();
      a.error = e != nullptr ? e : "libcrypto.so.3 could not be loaded";
      return;
    }
    Api t;
    if (bind(h, t.md_fetch, "EVP_MD_fetch") && bind(h, t.ctx_new, "EVP_MD_CTX_new") &&
        bind(h, t.ctx_free, "EVP_MD_CTX_free") && bind(h, t.init_ex2, "EVP_DigestInit_ex2") &&
        bind(h, t.update, "EVP_DigestUpdate") && bind(h, t.final_ex, "EVP_DigestFinal_ex")) {
      a = t;
    } else {
      a.error = "libcrypto.so.3 lacks the OpenSSL 3 digest functions";
    }
  });
  return a;
}

}  // namespace

namespace airssys::watchdog::cli {

std::expected<void, std::string> crypto_lazy_load() {
  if (api().md_fetch == nullptr) return std::unexpected(api().error);
  return {};
}

}  // namespace airssys::watchdog::cli

extern "C" {

EVP_MD* EVP_MD_fetch(OSSL_LIB_CTX* ctx, const char* algorithm, const char* properties) {
  return api().md_fetch ? api().md_fetch(ctx, algorithm, properties) : nullptr;
}

EVP_MD_CTX* EVP_MD_CTX_new() { return api().ctx_new ? api().ctx_new() : nullptr; }

void EVP_MD_CTX_free(EVP_MD_CTX* ctx) {
  if (api().ctx_free) api().ctx_free(ctx);
}

int EVP_DigestInit_ex2(EVP_MD_CTX* ctx, const EVP_MD* type, const OSSL_PARAM* params) {
  return api().init_ex2 ? api().init_ex2(ctx, type, params) : 0;
}

int EVP_DigestUpdate(EVP_MD_CTX* ctx, const void* d, size_t cnt) { return api().update ? api().update(ctx, d, cnt) : 0; }

int EVP_DigestFinal_ex(EVP_MD_CTX* ctx, unsigned char* md, unsigned int* s) {
  return api().final_ex ? api().final_ex(ctx, md, s) : 0;
}

}  // extern "C"
