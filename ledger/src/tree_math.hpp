#pragma once
// Private: the shape of the RFC 6962 tree and the proof algorithms, written
// once over a "perfect subtree" source so the in-memory reference and the
// on-disk ledger share them.
//
// A perfect subtree (level L, index j) covers leaves [j·2^L, (j+1)·2^L).
// Every range the RFC recursion visits is a left-aligned run of perfect
// subtrees, so MTH over such a range costs one read per set bit of its size.

#include <airssys/ledger/merkle.hpp>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <vector>

namespace airssys::ledger::detail {

// Position of perfect node (level, index) in the post-order array that the
// ledger's tree file stores: leaf L's hash, then the nodes it completes.
[[nodiscard]] constexpr std::uint64_t postorder_pos(unsigned level, std::uint64_t index) noexcept {
  const std::uint64_t last_leaf = ((index + 1) << level) - 1;
  return 2 * last_leaf - static_cast<std::uint64_t>(std::popcount(last_leaf)) + level;
}
// Number of perfect nodes stored for a tree of n leaves.
[[nodiscard]] constexpr std::uint64_t node_count(std::uint64_t n) noexcept {
  return 2 * n - static_cast<std::uint64_t>(std::popcount(n));
}

// NodeFn: (unsigned level, uint64_t index) -> Result<Hash>.
template <class NodeFn>
class TreeWalker {
 public:
  TreeWalker(NodeFn node, Hasher& hasher) : node_(std::move(node)), hasher_(hasher) {}

  // MTH(D[begin:end]) for a range the RFC recursion can produce (begin < end).
  Result<Hash> range_root(std::uint64_t begin, std::uint64_t end) {
    // Decompose into perfect subtrees left to right, then fold from the right.
    Hash parts[64];
    int count = 0;
    std::uint64_t pos = begin;
    const std::uint64_t n = end - begin;
    for (int b = 63; b >= 0; --b) {
      const std::uint64_t bit = std::uint64_t{1} << b;
      if ((n & bit) == 0) continue;
      auto h = node_(static_cast<unsigned>(b), pos >> b);
      if (!h) return std::unexpected(std::move(h.error()));
      parts[count++] = *h;
      pos += bit;
    }
    Hash acc = parts[count - 1];
    for (int i = count - 2; i >= 0; --i) acc = hasher_.node(parts[i], acc);
    return acc;
  }

  Result<Hash> root(std::uint64_t size) {
    if (size == 0) return empty_tree_hash();
    return range_root(0, size);
  }

  // PATH(index, D[size]); caller checked index < size.
  Result<std::vector<Hash>> inclusion(std::uint64_t index, std::uint64_t size) {
    std::vector<Hash> path;
    std::uint64_t begin = 0, end = size;
    while (end - begin > 1) {
      const std::uint64_t k = split_point(end - begin);
      Result<Hash> sib;
      if (index < begin + k) {
        sib = range_root(begin + k, end);
        end = begin + k;
      } else {
        sib = range_root(begin, begin + k);
        begin += k;
      }
      if (!sib) return std::unexpected(std::move(sib.error()));
      path.push_back(*sib);
    }
    std::reverse(path.begin(), path.end());
    return path;
  }

  // PROOF(size1, D[size2]); caller checked 0 < size1 < size2.
  Result<std::vector<Hash>> consistency(std::uint64_t size1, std::uint64_t size2) {
    std::vector<Hash> proof;
    std::uint64_t begin = 0, end = size2, m = size1;
    bool whole = true;  // SUBPROOF's b: the old tree is a complete subtree seen so far
    for (;;) {
      const std::uint64_t n = end - begin;
      if (m == n) {
        if (!whole) {
          auto h = range_root(begin, end);
          if (!h) return std::unexpected(std::move(h.error()));
          proof.push_back(*h);
        }
        break;
      }
      const std::uint64_t k = split_point(n);
      Result<Hash> sib;
      if (m <= k) {
        sib = range_root(begin + k, end);
        end = begin + k;
      } else {
        sib = range_root(begin, begin + k);
        begin += k;
        m -= k;
        whole = false;
      }
      if (!sib) return std::unexpected(std::move(sib.error()));
      proof.push_back(*sib);
    }
    std::reverse(proof.begin(), proof.end());
    return proof;
  }

 private:
  NodeFn node_;
  Hasher& hasher_;
};

}  // namespace airssys::ledger::detail
