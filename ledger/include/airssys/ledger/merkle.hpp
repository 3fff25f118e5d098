#pragma once
// RFC 6962 / RFC 9162 Merkle tree hashing, proofs over in-memory leaves, and
// the standalone proof verifiers (they need no ledger).
//
//   leaf hash  = SHA-256(0x00 || entry)
//   node hash  = SHA-256(0x01 || left || right)
//   MTH({})    = SHA-256("")
//   MTH(D[n])  = node(MTH(D[0:k]), MTH(D[k:n])), k the largest power of two < n
//
// Proofs are lists of hashes ordered from the leaf level upwards, exactly as
// CT logs serve them (get-proof-by-hash, get-sth-consistency), so proofs made
// here verify with any CT verifier and the other way round.

#include <airssys/ledger/error.hpp>

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace airssys::ledger {

inline constexpr std::size_t kHashSize = 32;
using Hash = std::array<std::uint8_t, kHashSize>;
using ByteView = std::span<const std::uint8_t>;

// SHA-256 through OpenSSL's EVP interface with one reused context (the
// one-shot EVP_Digest re-fetches and re-allocates on every call). Not
// thread-safe: use one Hasher per thread. Throws std::bad_alloc only if
// OpenSSL cannot allocate a context.
class Hasher {
 public:
  Hasher();
  ~Hasher();
  Hasher(Hasher&&) noexcept;
  Hasher& operator=(Hasher&&) noexcept;
  Hasher(const Hasher&) = delete;
  Hasher& operator=(const Hasher&) = delete;

  [[nodiscard]] Hash digest(ByteView data);                    // SHA-256(data)
  [[nodiscard]] Hash leaf(ByteView entry);                     // SHA-256(0x00 || entry)
  [[nodiscard]] Hash node(const Hash& left, const Hash& right);  // SHA-256(0x01 || l || r)

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Convenience forms that use a thread-local Hasher.
[[nodiscard]] Hash leaf_hash(ByteView entry);
[[nodiscard]] Hash node_hash(const Hash& left, const Hash& right);
[[nodiscard]] const Hash& empty_tree_hash();  // SHA-256("") = e3b0c442…b855

// The largest power of two strictly below n (n >= 2): the RFC's split point.
[[nodiscard]] std::uint64_t split_point(std::uint64_t n) noexcept;

// MTH over already-hashed leaves (size = leaves.size()).
[[nodiscard]] Hash root_from_leaf_hashes(std::span<const Hash> leaves);

// PATH(index, D[size]) and PROOF(size1, D[size2]) over the first `size`
// leaves of an in-memory list of leaf hashes (RFC 6962 §2.1.1, §2.1.2).
[[nodiscard]] Result<std::vector<Hash>> inclusion_proof(std::span<const Hash> leaves, std::uint64_t index,
                                                        std::uint64_t size);
[[nodiscard]] Result<std::vector<Hash>> consistency_proof(std::span<const Hash> leaves, std::uint64_t size1,
                                                          std::uint64_t size2);

// RFC 9162 §2.1.3.2: the root that `proof` leads to from `leaf` at `index`
// in a tree of `size` leaves; invalid_proof when the proof has the wrong shape.
[[nodiscard]] Result<Hash> root_from_inclusion_proof(const Hash& leaf, std::uint64_t index, std::uint64_t size,
                                                     std::span<const Hash> proof);
// RFC 9162 §2.1.3.2: ok when `proof` proves `leaf` is entry `index` of the tree
// of `size` leaves whose root is `root`; invalid_proof (with the reason) if not.
[[nodiscard]] Result<void> verify_inclusion(const Hash& leaf, std::uint64_t index, std::uint64_t size,
                                            std::span<const Hash> proof, const Hash& root);
// RFC 9162 §2.1.4.2, plus the cases that section leaves out:
//   size1 == size2: valid iff the proof is empty and root1 == root2;
//   size1 == 0:     valid iff the proof is empty and root1 is the empty-tree hash;
//   size1 > size2:  invalid.
[[nodiscard]] Result<void> verify_consistency(std::uint64_t size1, std::uint64_t size2, std::span<const Hash> proof,
                                              const Hash& root1, const Hash& root2);

// Lowercase hex. from_hex accepts either case and rejects odd lengths and
// non-hex characters; hash_from_hex also insists on exactly 32 bytes.
[[nodiscard]] std::string to_hex(ByteView bytes);
[[nodiscard]] inline std::string to_hex(const Hash& h) { return to_hex(ByteView(h)); }
[[nodiscard]] Result<std::vector<std::uint8_t>> from_hex(std::string_view hex);
[[nodiscard]] Result<Hash> hash_from_hex(std::string_view hex);

}  // namespace airssys::ledger
