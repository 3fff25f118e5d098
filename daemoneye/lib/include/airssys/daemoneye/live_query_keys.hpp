#pragma once
// Ed25519 keys for signed live queries (docs/daemoneye.md "Live queries"),
// read from the PEM files `openssl genpkey -algorithm ed25519` and
// `openssl pkey -pubout` write.
//
// File checks (the files decide who may query every host of a fleet):
//  - both are opened O_NOFOLLOW (a symbolic link is refused, not followed),
//    must be regular files of at most 64 KiB;
//  - a private key file must give its group and others no access at all
//    (mode 0600 or 0400, as ssh demands): `denied` naming the mode;
//  - a trusted public key file must be writable by its owner only and be
//    owned by us or root, as a rule file (else anyone who can write it can
//    make the agent trust their key): `denied`.
// Key material never appears in an error message or a log: only the
// fingerprint, "sha256:" and the hex SHA-256 of the raw 32-byte public key.
//
// Thread safety: const member functions may be called from any thread.

#include <airssys/daemoneye/error.hpp>

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

struct evp_pkey_st;  // OpenSSL's EVP_PKEY

namespace airssys::daemoneye {

namespace detail {
struct PkeyDeleter {
  void operator()(evp_pkey_st* k) const noexcept;
};
}  // namespace detail

class Ed25519PublicKey {
 public:
  // A trusted key file (the checks above).
  [[nodiscard]] static Result<Ed25519PublicKey> load(const std::filesystem::path& file);
  // PEM text ("-----BEGIN PUBLIC KEY-----"); invalid_input if it is not an Ed25519 public key.
  [[nodiscard]] static Result<Ed25519PublicKey> from_pem(std::string_view pem, std::string_view source);

  [[nodiscard]] const std::string& fingerprint() const noexcept { return fingerprint_; }
  // True when `signature` (64 raw bytes) is this key's signature of `message`.
  [[nodiscard]] bool verify(std::string_view message, std::string_view signature) const;

 private:
  std::shared_ptr<evp_pkey_st> key_;
  std::string fingerprint_;
};

class Ed25519PrivateKey {
 public:
  // A private key file (the checks above).
  [[nodiscard]] static Result<Ed25519PrivateKey> load(const std::filesystem::path& file);
  [[nodiscard]] static Result<Ed25519PrivateKey> from_pem(std::string_view pem, std::string_view source);

  [[nodiscard]] const std::string& fingerprint() const noexcept { return fingerprint_; }
  // The 64-byte signature of `message`.
  [[nodiscard]] Result<std::string> sign(std::string_view message) const;
  // The matching public key as PEM (what an agent's trusted_keys file holds).
  [[nodiscard]] std::string public_pem() const;

 private:
  std::shared_ptr<evp_pkey_st> key_;
  std::string fingerprint_;
};

// Lowercase hex of `bytes`, and back (nullopt-like error for odd length or
// a non-hex digit).
[[nodiscard]] std::string to_hex(std::string_view bytes);
[[nodiscard]] Result<std::string> from_hex(std::string_view hex);

}  // namespace airssys::daemoneye
