#include "crypto_init.hpp"

#include <openssl/evp.h>

namespace airssys::watchdog::cli {

std::expected<void, std::string> crypto_init() {
  EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  if (md == nullptr) return std::unexpected(std::string("libcrypto offers no SHA-256 (EVP_MD_fetch failed)"));
  EVP_MD_free(md);
  return {};
}

}  // namespace airssys::watchdog::cli
