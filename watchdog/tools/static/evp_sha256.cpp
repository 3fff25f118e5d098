// The static task-watchdog's EVP digest calls, on OpenSSL's own SHA-256
// (libcrypto.a's SHA256_*), without OpenSSL's provider framework.
//
// Why: the ledger code task-watchdog links (ledger/src/merkle.cpp) hashes
// through EVP_MD_fetch("SHA256") and the EVP_Digest* calls. Linked from
// libcrypto.a as they are, those pull in the provider core and the whole
// default provider (every cipher, KDF and signature it lists, with its
// module loader and socket code): the program went from 4.5 to 8.7 MB, each
// command touched 3-16 more pages (+0.2 MB peak RSS for `list`, +0.7 MB for
// `status`), and the first C++ exception of a run (CLI11's --help and usage
// errors) sorted ~3 MB more unwind tables: --help took 5.5 instead of 2.3
// ms. Defined here, in the program, these seven functions win over
// libcrypto.a's, which then contributes only its SHA-256 code (with the
// SHA-NI/AVX2 paths) and CPU detection. Only the static build compiles this
// file (watchdog/CMakeLists.txt); the sanitizer builds link libcrypto.so and
// use the real EVP.
//
// What it serves: SHA-256 only (also as "SHA2-256"); any other name makes
// EVP_MD_fetch return NULL, as OpenSSL does for an unknown digest. If
// linked code ever calls another EVP function, the link pulls libcrypto's
// real digest code and fails on these duplicate definitions: loudly, at
// build time.
//
// Thread safety: the contexts are the caller's; nothing is shared.

#define OPENSSL_SUPPRESS_DEPRECATED  // SHA256_Init & co. are deprecated in OpenSSL 3, not removed
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <cstring>
#include <new>
#include <string_view>

extern "C" void OPENSSL_cpuid_setup(void);  // libcrypto's CPU detection (SHA-NI, AVX2)

namespace {

// EVP_MD and EVP_MD_CTX are opaque in OpenSSL 3; these are what our
// pointers to them point at.
struct Sha256Md {
  int tag = 256;
};
const Sha256Md kSha256;

struct Sha256Ctx {
  SHA256_CTX sha{};
  bool ready = false;
};

Sha256Ctx* ctx_of(EVP_MD_CTX* c) { return reinterpret_cast<Sha256Ctx*>(c); }

void cpu_setup_once() {
  static const bool done = [] {
    OPENSSL_cpuid_setup();
    return true;
  }();
  (void)done;
}

}  // namespace

extern "C" {

EVP_MD* EVP_MD_fetch(OSSL_LIB_CTX* /*ctx*/, const char* algorithm, const char* /*properties*/) {
  if (algorithm == nullptr) return nullptr;
  const std::string_view name(algorithm);
  if (strcasecmp(algorithm, "SHA256") != 0 && strcasecmp(algorithm, "SHA2-256") != 0 && name != "SHA-256") return nullptr;
  cpu_setup_once();
  return reinterpret_cast<EVP_MD*>(const_cast<Sha256Md*>(&kSha256));
}

void EVP_MD_free(EVP_MD* /*md*/) {}  // kSha256 is static

EVP_MD_CTX* EVP_MD_CTX_new() { return reinterpret_cast<EVP_MD_CTX*>(new (std::nothrow) Sha256Ctx()); }

void EVP_MD_CTX_free(EVP_MD_CTX* c) {
  if (c == nullptr) return;
  OPENSSL_cleanse(&ctx_of(c)->sha, sizeof(SHA256_CTX));
  delete ctx_of(c);
}

int EVP_DigestInit_ex2(EVP_MD_CTX* c, const EVP_MD* type, const OSSL_PARAM* /*params*/) {
  if (c == nullptr || type != reinterpret_cast<const EVP_MD*>(&kSha256)) return 0;
  ctx_of(c)->ready = SHA256_Init(&ctx_of(c)->sha) == 1;
  return ctx_of(c)->ready ? 1 : 0;
}

int EVP_DigestUpdate(EVP_MD_CTX* c, const void* d, size_t cnt) {
  if (c == nullptr || !ctx_of(c)->ready) return 0;
  return SHA256_Update(&ctx_of(c)->sha, d, cnt);
}

int EVP_DigestFinal_ex(EVP_MD_CTX* c, unsigned char* md, unsigned int* s) {
  if (c == nullptr || !ctx_of(c)->ready) return 0;
  ctx_of(c)->ready = false;
  if (SHA256_Final(md, &ctx_of(c)->sha) != 1) return 0;
  if (s != nullptr) *s = SHA256_DIGEST_LENGTH;
  return 1;
}

}  // extern "C"
