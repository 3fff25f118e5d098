#pragma once
// Signed tree heads (checkpoints) with Ed25519 through OpenSSL.
//
// The signed bytes are RFC 6962 §3.5's TreeHeadSignature, 50 bytes:
//   version v1 (0x00) | signature_type tree_hash (0x01) |
//   uint64 timestamp (ms since the epoch, big-endian) | uint64 tree_size (big-endian) |
//   sha256_root_hash[32]
// so a CT tool that knows the key can check them. The JSON form reuses the
// field names of CT's get-sth response, with lowercase hex instead of base64:
//   {"tree_size":8,"timestamp":1700000000000,"sha256_root_hash":"…",
//    "tree_head_signature":"…","key_id":"…","signature_algorithm":"ed25519"}
// key_id is SHA-256 of the DER SubjectPublicKeyInfo (CT's LogID).
//
// Key files are PEM (PKCS#8 private, SPKI public), interchangeable with
// `openssl pkey`; files this library creates are mode 0600 and never replace
// an existing file.

#include <airssys/ledger/error.hpp>
#include <airssys/ledger/merkle.hpp>

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace airssys::ledger {

class Ledger;

struct TreeHead {
  std::uint64_t tree_size = 0;
  std::uint64_t timestamp_ms = 0;
  Hash root{};
};

using Signature = std::array<std::uint8_t, 64>;

// A signed tree head's JSON is ~400 bytes; from_json refuses text longer
// than this, so a reader can stop there instead of buffering an endless input.
inline constexpr std::size_t kMaxSignedTreeHeadJson = 64 * 1024;

struct SignedTreeHead {
  TreeHead head;
  Signature signature{};
  Hash key_id{};

  [[nodiscard]] std::string to_json() const;  // one line, no newline
  // Exactly the six fields, each once (a repeated key is refused: JSON
  // parsers disagree on which copy wins), at most kMaxSignedTreeHeadJson bytes.
  [[nodiscard]] static Result<SignedTreeHead> from_json(std::string_view text);
};

// The 50 bytes that are signed (RFC 6962 §3.5 TreeHeadSignature).
[[nodiscard]] std::array<std::uint8_t, 50> tree_head_signature_input(const TreeHead& head);

class PublicKey {
 public:
  // Reads a PEM public key, or derives it from a PEM private key.
  [[nodiscard]] static Result<PublicKey> load(const std::filesystem::path& file);
  [[nodiscard]] static Result<PublicKey> from_pem(std::string_view pem);
  [[nodiscard]] const Hash& key_id() const noexcept { return key_id_; }
  [[nodiscard]] std::string pem() const;
  [[nodiscard]] Result<void> verify(ByteView message, const Signature& signature) const;

  struct Key;

 private:
  std::shared_ptr<Key> key_;  // immutable EVP_PKEY, shared by copies
  Hash key_id_{};
  friend class SigningKey;
};

class SigningKey {
 public:
  [[nodiscard]] static Result<SigningKey> generate();
  [[nodiscard]] static Result<SigningKey> load(const std::filesystem::path& file);
  // Writes the private key to `file` (0600, refuses to replace a file).
  [[nodiscard]] Result<void> save(const std::filesystem::path& file) const;
  [[nodiscard]] const PublicKey& public_key() const noexcept { return public_; }
  [[nodiscard]] Result<Signature> sign(ByteView message) const;

 private:
  // Takes a loaded or generated private key; computes the public key id.
  [[nodiscard]] static Result<SigningKey> adopt(std::shared_ptr<PublicKey::Key> key);
  std::shared_ptr<PublicKey::Key> key_;
  PublicKey public_;
};

[[nodiscard]] Result<SignedTreeHead> sign_tree_head(const TreeHead& head, const SigningKey& key);
// Checks the key id and the signature.
[[nodiscard]] Result<void> verify_tree_head(const SignedTreeHead& sth, const PublicKey& key);

// Writes `contents` to a new file created 0600 (O_EXCL: never replaces one).
[[nodiscard]] Result<void> write_new_file(const std::filesystem::path& file, std::string_view contents);

// --- Checkpoints stored with a ledger (DIR/checkpoints, one JSON line each) ---

// Records `key`'s public half in DIR/pubkey.pem and the private key's path in
// DIR/signing-key (the private key itself stays wherever the caller keeps it).
[[nodiscard]] Result<void> attach_signing_key(const std::filesystem::path& dir, const std::filesystem::path& key_file,
                                              const SigningKey& key);
// The key file recorded by attach_signing_key, if any.
[[nodiscard]] Result<std::filesystem::path> attached_key_file(const std::filesystem::path& dir);
// DIR/pubkey.pem, if present (not_found otherwise; corrupt if it was modified).
[[nodiscard]] Result<PublicKey> ledger_public_key(const std::filesystem::path& dir);

// Signs the ledger's current size and root now, appends it to DIR/checkpoints
// (fdatasynced; a line whose write or sync failed is removed again and the
// error returned, never the checkpoint). Checkpointers take turns (flock).
// A last line without its newline (an append a power loss cut short, never
// acknowledged) is removed before the new line goes in.
[[nodiscard]] Result<SignedTreeHead> write_checkpoint(const Ledger& ledger, const SigningKey& key);
// Every stored checkpoint, oldest first; `corrupt` names the first unreadable
// line (an incomplete last line too: it cannot be told from a changed byte).
[[nodiscard]] Result<std::vector<SignedTreeHead>> read_checkpoints(const std::filesystem::path& dir);

}  // namespace airssys::ledger
