#pragma once
// libcrypto (OpenSSL 3) for --audit-ledger: the ledger's SHA-256.
//
// task-watchdog links libcrypto like any library; nothing is loaded at run
// time. The static build (release, package) takes OpenSSL's SHA-256 code
// from libcrypto.a and serves the EVP digest calls of the ledger code itself
// (tools/static/evp_sha256.cpp says why), so it has no provider framework,
// reads no openssl.cnf and has no module to dlopen. The sanitizer builds
// link libcrypto.so and use OpenSSL's EVP as usual. Nothing of libcrypto
// runs at start-up in either: commands that never hash pay nothing for it.

#include <expected>
#include <string>

namespace airssys::watchdog::cli {

// Checks that SHA-256 can be fetched, so --audit-ledger fails up front with
// a reason instead of at the first record.
[[nodiscard]] std::expected<void, std::string> crypto_init();

}  // namespace airssys::watchdog::cli
