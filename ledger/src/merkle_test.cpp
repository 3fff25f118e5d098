// RFC 6962 hashing and proofs against the test data published with the
// Certificate Transparency implementations (the 8 reference leaves, their
// roots and the known proofs), then exhaustively for every size up to 64.

#include <airssys/ledger/merkle.hpp>

#include "ct_vectors.hpp"
#include "tree_math.hpp"

#include <gtest/gtest.h>

#include <cstdlib>

namespace airssys::ledger {
namespace {

using testing::kLeafHex;
using testing::kRoots;

Hash H(std::string_view hex) { return hash_from_hex(hex).value(); }


std::vector<Hash> reference_leaves() {
  std::vector<Hash> out;
  for (const auto& hex : kLeafHex) out.push_back(leaf_hash(from_hex(hex).value()));
  return out;
}

std::vector<Hash> Hs(std::initializer_list<std::string_view> hexes) {
  std::vector<Hash> out;
  for (auto h : hexes) out.push_back(H(h));
  return out;
}

TEST(Merkle, EmptyTreeIsSha256OfNothing) {
  EXPECT_EQ(to_hex(empty_tree_hash()), kRoots[0]);
  EXPECT_EQ(root_from_leaf_hashes({}), empty_tree_hash());
}

TEST(Merkle, ReferenceRootsForSizes0To8) {
  const auto leaves = reference_leaves();
  for (std::size_t n = 0; n <= leaves.size(); ++n)
    EXPECT_EQ(to_hex(root_from_leaf_hashes(std::span(leaves).first(n))), kRoots[n]) << "size " << n;
}

TEST(Merkle, ReferencePerfectSubtreeHashes) {
  // Level-0 and level-1 node hashes of the reference tree.
  const auto leaves = reference_leaves();
  EXPECT_EQ(to_hex(leaves[1]), "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7");
  EXPECT_EQ(to_hex(leaves[7]), "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1");
  EXPECT_EQ(to_hex(node_hash(leaves[2], leaves[3])),
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e");
  EXPECT_EQ(to_hex(node_hash(leaves[6], leaves[7])),
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0");
}

TEST(Merkle, SplitPointIsLargestPowerOfTwoBelow) {
  EXPECT_EQ(split_point(2), 1u);
  EXPECT_EQ(split_point(3), 2u);
  EXPECT_EQ(split_point(4), 2u);
  EXPECT_EQ(split_point(5), 4u);
  EXPECT_EQ(split_point(8), 4u);
  EXPECT_EQ(split_point(9), 8u);
  EXPECT_EQ(split_point(1000), 512u);
  EXPECT_EQ(split_point((std::uint64_t{1} << 63) + 1), std::uint64_t{1} << 63);
}

struct InclusionVector {
  std::uint64_t index, size;
  std::vector<Hash> proof;
};
struct ConsistencyVector {
  std::uint64_t size1, size2;
  std::vector<Hash> proof;
};

std::vector<InclusionVector> inclusion_vectors() {
  return {
      {0, 1, {}},
      {0, 8,
       Hs({"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
           "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
           "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"})},
      {5, 8,
       Hs({"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
           "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
           "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"})},
      {2, 3, Hs({"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"})},
      {1, 5,
       Hs({"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
           "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
           "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"})},
  };
}

std::vector<ConsistencyVector> consistency_vectors() {
  return {
      {1, 1, {}},
      {1, 8,
       Hs({"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
           "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
           "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"})},
      {6, 8,
       Hs({"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
           "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
           "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"})},
      {2, 5,
       Hs({"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
           "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"})},
      {6, 7,
       Hs({"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
           "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
           "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"})},
  };
}

TEST(Merkle, ReferenceInclusionProofsAreGeneratedAndVerify) {
  const auto leaves = reference_leaves();
  for (const auto& v : inclusion_vectors()) {
    auto proof = inclusion_proof(leaves, v.index, v.size);
    ASSERT_TRUE(proof) << proof.error().to_string();
    EXPECT_EQ(*proof, v.proof) << "index " << v.index << " size " << v.size;
    EXPECT_TRUE(verify_inclusion(leaves[v.index], v.index, v.size, v.proof, H(kRoots[v.size])));
  }
}

TEST(Merkle, ReferenceConsistencyProofsAreGeneratedAndVerify) {
  const auto leaves = reference_leaves();
  for (const auto& v : consistency_vectors()) {
    auto proof = consistency_proof(leaves, v.size1, v.size2);
    ASSERT_TRUE(proof) << proof.error().to_string();
    EXPECT_EQ(*proof, v.proof) << v.size1 << " -> " << v.size2;
    auto ok = verify_consistency(v.size1, v.size2, v.proof, H(kRoots[v.size1]), H(kRoots[v.size2]));
    EXPECT_TRUE(ok) << v.size1 << " -> " << v.size2 << ": " << (ok ? "" : ok.error().message);
  }
}

TEST(Merkle, CorruptedReferenceProofsAreRejected) {
  const auto leaves = reference_leaves();
  const Hash some = H("abacaba000000000000000000000000000000000000000000060061e00123456");
  for (const auto& v : inclusion_vectors()) {
    if (v.proof.empty()) continue;
    const Hash root = H(kRoots[v.size]);
    const Hash& leaf = leaves[v.index];
    EXPECT_FALSE(verify_inclusion(leaf, v.index - 1, v.size, v.proof, root));
    EXPECT_FALSE(verify_inclusion(leaf, v.index + 1, v.size, v.proof, root));
    EXPECT_FALSE(verify_inclusion(leaf, v.index ^ 2, v.size, v.proof, root));
    EXPECT_FALSE(verify_inclusion(leaf, v.index, v.size * 2, v.proof, root));
    EXPECT_FALSE(verify_inclusion(leaf, v.index, v.size / 2, v.proof, root));
    EXPECT_FALSE(verify_inclusion(some, v.index, v.size, v.proof, root));
    EXPECT_FALSE(verify_inclusion(leaf, v.index, v.size, v.proof, empty_tree_hash()));
    auto longer = v.proof;
    longer.push_back(root);
    EXPECT_FALSE(verify_inclusion(leaf, v.index, v.size, longer, root));
    auto front = v.proof;
    front.insert(front.begin(), root);
    EXPECT_FALSE(verify_inclusion(leaf, v.index, v.size, front, root));
    auto shorter = v.proof;
    shorter.pop_back();
    EXPECT_FALSE(verify_inclusion(leaf, v.index, v.size, shorter, root));
  }
  for (const auto& v : consistency_vectors()) {
    if (v.proof.empty()) continue;
    const Hash r1 = H(kRoots[v.size1]), r2 = H(kRoots[v.size2]);
    EXPECT_FALSE(verify_consistency(v.size1 - 1, v.size2, v.proof, r1, r2));
    EXPECT_FALSE(verify_consistency(v.size1 + 1, v.size2, v.proof, r1, r2));
    EXPECT_FALSE(verify_consistency(v.size1 ^ 2, v.size2, v.proof, r1, r2));
    EXPECT_FALSE(verify_consistency(v.size1, v.size2 * 2, v.proof, r1, r2));
    EXPECT_FALSE(verify_consistency(v.size1, v.size2 / 2, v.proof, r1, r2));
    EXPECT_FALSE(verify_consistency(v.size1, v.size2, v.proof, r2, r1));
    EXPECT_FALSE(verify_consistency(v.size1, v.size2, {}, r1, r2));
    for (const Hash& extra : {r1, r2, v.proof[0]}) {
      auto front = v.proof;
      front.insert(front.begin(), extra);
      EXPECT_FALSE(verify_consistency(v.size1, v.size2, front, r1, r2));
      auto back = v.proof;
      back.push_back(extra);
      EXPECT_FALSE(verify_consistency(v.size1, v.size2, back, r1, r2));
    }
    auto shorter = v.proof;
    shorter.pop_back();
    EXPECT_FALSE(verify_consistency(v.size1, v.size2, shorter, r1, r2));
  }
}

TEST(Merkle, ConsistencyEdgeCases) {
  const Hash a = H(kRoots[1]), b = H(kRoots[2]);
  EXPECT_TRUE(verify_consistency(0, 0, {}, empty_tree_hash(), empty_tree_hash()));
  EXPECT_TRUE(verify_consistency(0, 5, {}, empty_tree_hash(), b));
  EXPECT_FALSE(verify_consistency(0, 5, {}, a, b));  // an empty tree has one root
  EXPECT_TRUE(verify_consistency(1, 1, {}, a, a));
  EXPECT_FALSE(verify_consistency(1, 1, {}, a, b));
  EXPECT_FALSE(verify_consistency(1, 1, std::vector<Hash>{a}, a, a));
  EXPECT_FALSE(verify_consistency(2, 1, {}, a, b));
  EXPECT_FALSE(verify_consistency(1, 2, {}, a, b));
  EXPECT_FALSE(verify_inclusion(a, 0, 0, {}, a));
  EXPECT_TRUE(verify_inclusion(a, 0, 1, {}, a));
  EXPECT_FALSE(verify_inclusion(a, 1, 1, {}, a));
}

TEST(Merkle, PostorderPositions) {
  using detail::postorder_pos;
  EXPECT_EQ(postorder_pos(0, 0), 0u);
  EXPECT_EQ(postorder_pos(0, 1), 1u);
  EXPECT_EQ(postorder_pos(1, 0), 2u);
  EXPECT_EQ(postorder_pos(0, 2), 3u);
  EXPECT_EQ(postorder_pos(0, 3), 4u);
  EXPECT_EQ(postorder_pos(1, 1), 5u);
  EXPECT_EQ(postorder_pos(2, 0), 6u);
  EXPECT_EQ(postorder_pos(0, 4), 7u);
  EXPECT_EQ(detail::node_count(4), 7u);
  EXPECT_EQ(detail::node_count(5), 8u);
}

// Which bits to flip in a hash: all 256 for trees up to 16 leaves (or every
// size when AIRSSYS_LEDGER_EXHAUSTIVE=1), otherwise one bit in every byte,
// rotating through bit positions with `salt`, so each byte and each bit
// position is hit. (SHA-256 runs ~1 µs a call under ASan; the full sweep
// for all sizes up to 64 is ~80 M hashes.)
std::vector<unsigned> bits_to_flip(std::uint64_t n, std::uint64_t salt) {
  static const bool exhaustive = std::getenv("AIRSSYS_LEDGER_EXHAUSTIVE") != nullptr;
  std::vector<unsigned> bits;
  if (exhaustive || n <= 16) {
    for (unsigned b = 0; b < 256; ++b) bits.push_back(b);
  } else {
    for (unsigned byte = 0; byte < 32; ++byte) bits.push_back(byte * 8 + static_cast<unsigned>((byte + salt) % 8));
  }
  return bits;
}

Hash flip(Hash h, unsigned bit) {
  h[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
  return h;
}

std::vector<Hash> synthetic_leaves(std::size_t n) {
  std::vector<Hash> out;
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint8_t data[2] = {static_cast<std::uint8_t>(i), static_cast<std::uint8_t>(i * 7)};
    out.push_back(leaf_hash(data));
  }
  return out;
}

// Every inclusion proof in every tree up to 64 leaves verifies, and every
// single-bit change to the leaf, the root or any proof element is rejected.
TEST(Merkle, EveryInclusionProofUpTo64AndEveryBitFlip) {
  const auto leaves = synthetic_leaves(64);
  for (std::uint64_t n = 1; n <= 64; ++n) {
    const Hash root = root_from_leaf_hashes(std::span(leaves).first(n));
    for (std::uint64_t i = 0; i < n; ++i) {
      auto proof = inclusion_proof(leaves, i, n).value();
      ASSERT_TRUE(verify_inclusion(leaves[i], i, n, proof, root)) << i << "/" << n;
      for (unsigned bit : bits_to_flip(n, i)) {
        ASSERT_FALSE(verify_inclusion(flip(leaves[i], bit), i, n, proof, root));
        ASSERT_FALSE(verify_inclusion(leaves[i], i, n, proof, flip(root, bit)));
        for (std::size_t k = 0; k < proof.size(); ++k) {
          proof[k] = flip(proof[k], bit);
          ASSERT_FALSE(verify_inclusion(leaves[i], i, n, proof, root)) << i << "/" << n << " elem " << k;
          proof[k] = flip(proof[k], bit);
        }
      }
      // Wrong index or size with the same proof.
      for (std::uint64_t j = 0; j < n; ++j)
        if (j != i) {
          ASSERT_FALSE(verify_inclusion(leaves[i], j, n, proof, root));
        }
    }
  }
}

TEST(Merkle, EveryConsistencyProofUpTo64AndEveryBitFlip) {
  const auto leaves = synthetic_leaves(64);
  std::vector<Hash> roots;
  for (std::uint64_t n = 0; n <= 64; ++n) roots.push_back(root_from_leaf_hashes(std::span(leaves).first(n)));
  for (std::uint64_t n = 1; n <= 64; ++n) {
    for (std::uint64_t m = 1; m <= n; ++m) {
      auto proof = consistency_proof(leaves, m, n).value();
      ASSERT_TRUE(verify_consistency(m, n, proof, roots[m], roots[n])) << m << " -> " << n;
      for (unsigned bit : bits_to_flip(n, m)) {
        ASSERT_FALSE(verify_consistency(m, n, proof, flip(roots[m], bit), roots[n])) << m << "->" << n;
        ASSERT_FALSE(verify_consistency(m, n, proof, roots[m], flip(roots[n], bit))) << m << "->" << n;
        for (std::size_t k = 0; k < proof.size(); ++k) {
          proof[k] = flip(proof[k], bit);
          ASSERT_FALSE(verify_consistency(m, n, proof, roots[m], roots[n])) << m << "->" << n << " elem " << k;
          proof[k] = flip(proof[k], bit);
        }
      }
      if (m < n) {
        ASSERT_FALSE(verify_consistency(m, n, {}, roots[m], roots[n]));
        if (m > 1) {
          ASSERT_FALSE(verify_consistency(m - 1, n, proof, roots[m - 1], roots[n]));
        }
      }
    }
  }
}

TEST(Merkle, ProofRequestsOutOfRange) {
  const auto leaves = reference_leaves();
  EXPECT_EQ(inclusion_proof(leaves, 8, 8).error().category, ErrorCategory::out_of_range);
  EXPECT_EQ(inclusion_proof(leaves, 0, 9).error().category, ErrorCategory::out_of_range);
  EXPECT_EQ(inclusion_proof(leaves, 0, 0).error().category, ErrorCategory::out_of_range);
  EXPECT_EQ(consistency_proof(leaves, 5, 4).error().category, ErrorCategory::out_of_range);
  EXPECT_EQ(consistency_proof(leaves, 1, 9).error().category, ErrorCategory::out_of_range);
  EXPECT_TRUE(consistency_proof(leaves, 0, 8).value().empty());
}

TEST(Merkle, Hex) {
  EXPECT_EQ(to_hex(std::vector<std::uint8_t>{0x00, 0xab, 0xff}), "00abff");
  EXPECT_EQ(from_hex("00ABff").value(), (std::vector<std::uint8_t>{0x00, 0xab, 0xff}));
  EXPECT_TRUE(from_hex("").value().empty());
  EXPECT_EQ(from_hex("abc").error().category, ErrorCategory::invalid_argument);
  EXPECT_EQ(from_hex("zz").error().category, ErrorCategory::invalid_argument);
  EXPECT_EQ(hash_from_hex("00").error().category, ErrorCategory::invalid_argument);
  EXPECT_EQ(hash_from_hex(std::string(64, 'g')).error().category, ErrorCategory::invalid_argument);
}

}  // namespace
}  // namespace airssys::ledger
